"""Writes a seeded synthetic tabular classification set as CSV (features f0…f19, column `label`).

Usage: python scripts/make_tabular.py OUT.csv  (needs numpy and scikit-learn)

2 000 rows, 20 features of which 10 informative, 5 classes, 5 % of labels flipped so that the
models must memorise some points. Used to check methods on data other than images
(docs/algorithms.md §4, assets/bench/tabular.json).
"""

import sys

import numpy as np
from sklearn.datasets import make_classification


def main():
    x, y = make_classification(
        n_samples=2000,
        n_features=20,
        n_informative=10,
        n_redundant=4,
        n_classes=5,
        n_clusters_per_class=2,
        flip_y=0.05,
        class_sep=1.0,
        random_state=0,
    )
    header = ",".join([f"f{i}" for i in range(x.shape[1])] + ["label"])
    rows = np.column_stack([x, y])
    fmt = ["%.6f"] * x.shape[1] + ["%d"]
    np.savetxt(sys.argv[1], rows, delimiter=",", header=header, comments="", fmt=fmt)


if __name__ == "__main__":
    main()
