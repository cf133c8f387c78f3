"""scikit-learn reference numbers for the CSV data sets in data/.

Run with a Python that has scikit-learn and numpy installed, e.g.

    python3 -m venv /tmp/skl && /tmp/skl/bin/pip install scikit-learn numpy
    /tmp/skl/bin/python bench/sklearn_reference.py

Protocol, for seeds s in 0, 1, 2:
  * train_test_split(X, y, test_size=0.25, random_state=s), stratified on y
    for iris and digits, not stratified for diabetes;
  * StandardScaler fitted on the training part only;
  * iris, digits: MLPClassifier(hidden_layer_sizes=(128,), max_iter=1000,
    random_state=s) and LogisticRegression(max_iter=5000), test accuracy;
  * diabetes: LinearRegression (test R^2 and test MSE in the target's
    original units) and Ridge(alpha=1.0) (test R^2).
Prints a markdown table: per-seed values, mean, population std (ddof=0)
and sample std (ddof=1).
"""
import csv
import sys
import warnings
from pathlib import Path

import numpy as np
import sklearn
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.metrics import accuracy_score, mean_squared_error, r2_score
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
SEEDS = (0, 1, 2)


def load(name, target, target_kind):
    with open(DATA / name, newline="") as fh:
        rows = list(csv.reader(fh))
    header, body = rows[0], rows[1:]
    ti = header.index(target)
    X = np.array([[float(v) for j, v in enumerate(r) if j != ti] for r in body])
    y = np.array([target_kind(r[ti]) for r in body])
    return X, y


def split_scale(X, y, seed, stratify):
    Xtr, Xte, ytr, yte = train_test_split(
        X, y, test_size=0.25, random_state=seed, stratify=y if stratify else None
    )
    sc = StandardScaler().fit(Xtr)
    return sc.transform(Xtr), sc.transform(Xte), ytr, yte


def main():
    results = []  # (data set, model, metric, [values per seed])
    conv_warnings = []

    for name, target in (("iris.csv", "species"), ("digits.csv", "digit")):
        X, y = load(name, target, str if target == "species" else int)
        mlp, lr = [], []
        for s in SEEDS:
            Xtr, Xte, ytr, yte = split_scale(X, y, s, stratify=True)
            with warnings.catch_warnings(record=True) as w:
                warnings.simplefilter("always", ConvergenceWarning)
                m = MLPClassifier(hidden_layer_sizes=(128,), max_iter=1000, random_state=s)
                m.fit(Xtr, ytr)
                mlp.append(accuracy_score(yte, m.predict(Xte)))
                l = LogisticRegression(max_iter=5000).fit(Xtr, ytr)
                lr.append(accuracy_score(yte, l.predict(Xte)))
            for wi in w:
                if issubclass(wi.category, ConvergenceWarning):
                    conv_warnings.append(f"{name} seed {s}: {wi.message}")
        ds = name[:-4]
        results.append((ds, "MLPClassifier(128,)", "test accuracy", mlp))
        results.append((ds, "LogisticRegression", "test accuracy", lr))

    X, y = load("diabetes.csv", "progression", float)
    lin_r2, lin_mse, ridge_r2 = [], [], []
    for s in SEEDS:
        Xtr, Xte, ytr, yte = split_scale(X, y, s, stratify=False)
        p = LinearRegression().fit(Xtr, ytr).predict(Xte)
        lin_r2.append(r2_score(yte, p))
        lin_mse.append(mean_squared_error(yte, p))
        ridge_r2.append(r2_score(yte, Ridge(alpha=1.0).fit(Xtr, ytr).predict(Xte)))
    results.append(("diabetes", "LinearRegression", "test R²", lin_r2))
    results.append(("diabetes", "LinearRegression", "test MSE", lin_mse))
    results.append(("diabetes", "Ridge(alpha=1.0)", "test R²", ridge_r2))

    print(
        f"scikit-learn {sklearn.__version__}, numpy {np.__version__}, "
        f"Python {sys.version.split()[0]}; seeds {', '.join(map(str, SEEDS))}; "
        "75/25 split, StandardScaler fitted on train.\n"
    )
    cols = [f"seed {s}" for s in SEEDS] + ["mean", "std (ddof=0)", "std (ddof=1)"]
    print("| data set | model | metric | " + " | ".join(cols) + " |")
    print("|" + "---|" * (3 + len(cols)))
    for ds, model, metric, vals in results:
        v = np.array(vals)
        fmt = (lambda x: f"{x:.2f}") if "MSE" in metric else (lambda x: f"{x:.4f}")
        cells = [fmt(x) for x in v] + [fmt(v.mean()), fmt(v.std(ddof=0)), fmt(v.std(ddof=1))]
        print(f"| {ds} | {model} | {metric} | " + " | ".join(cells) + " |")
    if conv_warnings:
        print("\nConvergenceWarnings:")
        for c in conv_warnings:
            print(f"- {c}")
    else:
        print("\nNo ConvergenceWarning was raised.")


if __name__ == "__main__":
    main()
