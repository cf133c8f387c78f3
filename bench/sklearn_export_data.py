"""Write scikit-learn's bundled iris, digits and raw diabetes data sets as CSV
files into data/ at the repository root.  Run with a Python that has
scikit-learn installed, e.g.  /tmp/skl/bin/python bench/sklearn_export_data.py
"""
from pathlib import Path

import numpy as np
from sklearn.datasets import load_diabetes, load_digits, load_iris

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"


def num(v):
    """Shortest round-trip text: int when integral, else repr(float)."""
    f = float(v)
    if f.is_integer():
        return str(int(f))
    return repr(f)


def write(path, header, rows):
    with open(path, "w", newline="\n") as fh:
        fh.write(",".join(header) + "\n")
        for r in rows:
            fh.write(",".join(r) + "\n")


def main():
    DATA.mkdir(exist_ok=True)

    iris = load_iris()
    names = list(iris.target_names)
    write(
        DATA / "iris.csv",
        ["sepal_length", "sepal_width", "petal_length", "petal_width", "species"],
        ([repr(float(v)) for v in x] + [names[t]] for x, t in zip(iris.data, iris.target)),
    )

    digits = load_digits()
    X = digits.data
    assert np.all(X == np.round(X)) and X.min() >= 0 and X.max() <= 16
    write(
        DATA / "digits.csv",
        [f"p{i}" for i in range(64)] + ["digit"],
        ([str(int(v)) for v in x] + [str(int(t))] for x, t in zip(X, digits.target)),
    )

    dia = load_diabetes(scaled=False)
    write(
        DATA / "diabetes.csv",
        list(dia.feature_names) + ["progression"],
        ([num(v) for v in x] + [num(t)] for x, t in zip(dia.data, dia.target)),
    )


if __name__ == "__main__":
    main()
