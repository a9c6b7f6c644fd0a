"""Margin statistics of zoos on the retain split, to explain a KLoM gap by measurement.

Usage: python scripts/margin_stats.py FORGET_SET_FILE ZOO_DIR [ZOO_DIR ...]

For each zoo (logits.npy `models × points × classes`, labels.npy, manifest.json with the
training-split size), prints over the retain points: the mean margin (§1 of docs/algorithms.md:
correct logit minus the log-sum-exp of the others), the mean over points of the margins' standard deviation
across models, and accuracy. Needs numpy only.
"""

import json
import sys
from pathlib import Path

import numpy as np


def margins(logits, labels):
    correct = np.take_along_axis(logits, labels[None, :, None], axis=2)[..., 0]
    others = logits.astype(np.float64)
    np.put_along_axis(others, labels[None, :, None], -np.inf, axis=2)
    top = others.max(axis=2, keepdims=True)
    return correct - (top[..., 0] + np.log(np.exp(others - top).sum(axis=2)))


def main():
    forget = {int(l) for l in Path(sys.argv[1]).read_text().split() if l.strip()}
    for zoo in sys.argv[2:]:
        zoo = Path(zoo)
        logits = np.load(zoo / "logits.npy")
        labels = np.load(zoo / "labels.npy").astype(np.int64)
        n_train = json.loads((zoo / "manifest.json").read_text())["dataset"]["n_train"]
        retain = np.array([i for i in range(n_train) if i not in forget])
        m = margins(logits, labels)[:, retain]
        acc = (logits[:, retain].argmax(axis=2) == labels[retain]).mean()
        print(f"{zoo.name:40s} mean margin {m.mean():6.2f}  spread across models {m.std(axis=0).mean():5.2f}  accuracy {acc:.4f}")


if __name__ == "__main__":
    main()
