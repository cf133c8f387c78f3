"""scikit-learn reference numbers for the CSV data sets in data/.

Run with a Python that has scikit-learn and numpy installed, e.g.

    python3 -m venv /tmp/skl && /tmp/skl/bin/pip install scikit-learn numpy
    /tmp/skl/bin/python bench/sklearn_reference.py
    /tmp/skl/bin/python bench/sklearn_reference.py --runs RUN_DIR [RUN_DIR ...]

Models, with a StandardScaler fitted on the training rows only:
  * iris, digits: MLPClassifier(hidden_layer_sizes=(128,), max_iter=1000,
    random_state=seed) and LogisticRegression(max_iter=5000), test accuracy;
  * diabetes: LinearRegression (test R^2 and test MSE in the target's
    original units) and Ridge(alpha=1.0) (test R^2).

Default: for seeds s in 0, 1, 2, train_test_split(X, y, test_size=0.25,
random_state=s), stratified on y for iris and digits, not for diabetes. Prints
a markdown table: per-seed values, mean, population std (ddof=0) and sample
std (ddof=1).

--runs: the same models on ebm's own splits. Each RUN_DIR is an ebm run
folder; its metrics.json gives the data set (`data`) and `seed`, its
predictions.csv the part of each row of data/<data>.csv (`row`, 0-based in
file order; `split`: train, calibration or test). The models train on the
train + calibration rows and are scored on the test rows. Prints a markdown
table, one line per run with ebm's own test metric(s) from metrics.json
(iris, digits: test_accuracy; diabetes: test_r2, test_mse) beside the
references, then per data set the mean ± sample std (ddof=1) of each column.
"""
import argparse
import csv
import json
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
# data set -> (target column, target type, ebm's metrics in metrics.json)
DATASETS = {
    "iris": ("species", str, ("test_accuracy",)),
    "digits": ("digit", int, ("test_accuracy",)),
    "diabetes": ("progression", float, ("test_r2", "test_mse")),
}


def load(name):
    target, kind, _ = DATASETS[name]
    with open(DATA / f"{name}.csv", newline="") as fh:
        rows = list(csv.reader(fh))
    header, body = rows[0], rows[1:]
    ti = header.index(target)
    X = np.array([[float(v) for j, v in enumerate(r) if j != ti] for r in body])
    y = np.array([kind(r[ti]) for r in body])
    return X, y


def reference(name, Xtr, Xte, ytr, yte, seed):
    """({(model, metric): test score}, [ConvergenceWarning messages]), with a
    StandardScaler fitted on Xtr."""
    sc = StandardScaler().fit(Xtr)
    Xtr, Xte = sc.transform(Xtr), sc.transform(Xte)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always", ConvergenceWarning)
        if name == "diabetes":
            p = LinearRegression().fit(Xtr, ytr).predict(Xte)
            out = {
                ("LinearRegression", "test R²"): r2_score(yte, p),
                ("LinearRegression", "test MSE"): mean_squared_error(yte, p),
                ("Ridge(alpha=1.0)", "test R²"): r2_score(
                    yte, Ridge(alpha=1.0).fit(Xtr, ytr).predict(Xte)
                ),
            }
        else:
            m = MLPClassifier(hidden_layer_sizes=(128,), max_iter=1000, random_state=seed)
            l = LogisticRegression(max_iter=5000)
            out = {
                ("MLPClassifier(128,)", "test accuracy"): accuracy_score(yte, m.fit(Xtr, ytr).predict(Xte)),
                ("LogisticRegression", "test accuracy"): accuracy_score(yte, l.fit(Xtr, ytr).predict(Xte)),
            }
    return out, [str(x.message) for x in w if issubclass(x.category, ConvergenceWarning)]


def fmt(metric, x):
    return f"{x:.2f}" if "MSE" in metric.upper() else f"{x:.4f}"


def header_line(extra=""):
    print(
        f"scikit-learn {sklearn.__version__}, numpy {np.__version__}, "
        f"Python {sys.version.split()[0]}; {extra}StandardScaler fitted on train.\n"
    )


def print_warnings(conv_warnings):
    if conv_warnings:
        print("\nConvergenceWarnings:")
        for c in conv_warnings:
            print(f"- {c}")
    else:
        print("\nNo ConvergenceWarning was raised.")


def sklearn_splits():
    results = {}  # (data set, model, metric) -> [values per seed]
    conv_warnings = []
    for name in DATASETS:
        X, y = load(name)
        for s in SEEDS:
            Xtr, Xte, ytr, yte = train_test_split(
                X, y, test_size=0.25, random_state=s,
                stratify=None if name == "diabetes" else y,
            )
            scores, warns = reference(name, Xtr, Xte, ytr, yte, s)
            for key, v in scores.items():
                results.setdefault((name,) + key, []).append(v)
            conv_warnings += [f"{name}.csv seed {s}: {m}" for m in warns]

    header_line(f"seeds {', '.join(map(str, SEEDS))}; 75/25 split, ")
    cols = [f"seed {s}" for s in SEEDS] + ["mean", "std (ddof=0)", "std (ddof=1)"]
    print("| data set | model | metric | " + " | ".join(cols) + " |")
    print("|" + "---|" * (3 + len(cols)))
    for (ds, model, metric), vals in results.items():
        v = np.array(vals)
        cells = [fmt(metric, x) for x in [*v, v.mean(), v.std(ddof=0), v.std(ddof=1)]]
        print(f"| {ds} | {model} | {metric} | " + " | ".join(cells) + " |")
    print_warnings(conv_warnings)


def read_run(run_dir):
    """(data set, seed, ebm's metrics, train rows, test rows) of an ebm run folder."""
    run_dir = Path(run_dir)
    meta = json.loads((run_dir / "metrics.json").read_text())
    name, seed = meta["data"], int(meta["seed"])
    if name not in DATASETS:
        sys.exit(f"{run_dir}: data {name!r} is not one of {', '.join(DATASETS)}")
    missing = [k for k in DATASETS[name][2] if k not in meta["metrics"]]
    if missing:
        sys.exit(f"{run_dir}/metrics.json: no {', '.join(missing)} in `metrics`")
    train, test = [], []
    with open(run_dir / "predictions.csv", newline="") as fh:
        for r in csv.DictReader(fh):
            if r["split"] not in ("train", "calibration", "test"):
                sys.exit(f"{run_dir}/predictions.csv: unknown split {r['split']!r}")
            (test if r["split"] == "test" else train).append(int(r["row"]))
    ebm = {k: meta["metrics"][k] for k in DATASETS[name][2]}
    return name, seed, ebm, train, test


def ebm_splits(run_dirs):
    groups = {}  # data set -> [(seed, {column: value}) per run]
    conv_warnings = []
    cache = {}
    for d in run_dirs:
        name, seed, ebm, train, test = read_run(d)
        X, y = cache.setdefault(name, load(name))
        if len(set(train + test)) != len(train + test) or max(train + test) >= len(y):
            sys.exit(f"{d}/predictions.csv: rows repeat or exceed the {len(y)} rows of {name}.csv")
        scores, warns = reference(name, X[train], X[test], y[train], y[test], seed)
        row = {f"ebm {k}": v for k, v in ebm.items()}
        row.update({f"{model} {metric}": v for (model, metric), v in scores.items()})
        groups.setdefault(name, []).append((seed, row))
        conv_warnings += [f"{d} ({name}, seed {seed}): {m}" for m in warns]

    header_line(f"{len(run_dirs)} ebm run(s), ebm's splits (train + calibration vs test), ")
    for name, runs in groups.items():
        if name != next(iter(groups)):
            print()
        cols = list(runs[0][1])
        print("| data set | seed | " + " | ".join(cols) + " |")
        print("|" + "---|" * (2 + len(cols)))
        for seed, row in runs:
            print(f"| {name} | {seed} | " + " | ".join(fmt(c, row[c]) for c in cols) + " |")
        cells = []
        for c in cols:
            v = np.array([row[c] for _, row in runs])
            sd = fmt(c, v.std(ddof=1)) if len(v) > 1 else "—"
            cells.append(f"{fmt(c, v.mean())} ± {sd}")
        print(f"| **{name}** mean ± std (ddof=1), {len(runs)} run(s) | | " + " | ".join(cells) + " |")
    print_warnings(conv_warnings)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", nargs="+", metavar="RUN_DIR",
                    help="ebm run folders (metrics.json + predictions.csv): score on their splits")
    args = ap.parse_args()
    if args.runs:
        ebm_splits(args.runs)
    else:
        sklearn_splits()


if __name__ == "__main__":
    main()
