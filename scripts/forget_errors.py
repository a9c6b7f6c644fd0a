"""How far a method's forget-point margins are from the retrained models', in logits and in
units of the retrained models' own spread: what a KLoM gap on a forget set is made of.

Usage: python scripts/forget_errors.py RUN_DIR [--method dm-direct] SET [SET ...]

RUN_DIR is a `unlearn bench --out` directory: its `forget/SET.txt`, `zoos/originals-*`,
`zoos/oracles-SET-*` and `methods/SET/METHOD-*` (logits.npy `models × points × classes`,
labels.npy). For each forget set, over its points, with margins as in docs/algorithms.md §1 and
means taken over each zoo's models, prints: the retrained change (oracles' mean margin minus the
originals'), the method's error (its mean margin minus the oracles'), the oracles' spread across
models, and the RMS of error / spread, which KLoM (§2) grows with. Needs numpy only.
"""

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from margin_stats import margins  # noqa: E402  (§1's margins, one copy)


def zoo_margins(pattern_dir, pattern, points):
    matches = sorted(pattern_dir.glob(pattern), key=lambda p: p.stat().st_mtime)
    if not matches:
        raise SystemExit(f"no {pattern_dir / pattern}: pass a `unlearn bench --out` directory")
    zoo = matches[-1]
    if len(matches) > 1:
        # A run directory keeps the zoos of earlier configs too; the last written is this one's.
        print(f"({len(matches)} match {pattern}; using the newest, {zoo.name})", file=sys.stderr)
    logits = np.load(zoo / "logits.npy")
    labels = np.load(zoo / "labels.npy").astype(np.int64)
    return margins(logits, labels)[:, points]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("sets", nargs="+")
    parser.add_argument("--method", default="dm-direct")
    args = parser.parse_args()
    rms = lambda v: float(np.sqrt(np.mean(np.square(v))))
    for name in args.sets:
        forget_file = args.run / "forget" / f"{name}.txt"
        if not forget_file.is_file():
            raise SystemExit(f"no {forget_file}: name a forget set of the run's config")
        forget = np.loadtxt(forget_file, dtype=np.int64, ndmin=1)
        original = zoo_margins(args.run / "zoos", "originals-*", forget)
        oracle = zoo_margins(args.run / "zoos", f"oracles-{name}-????????", forget)
        method = zoo_margins(args.run / "methods" / name, f"{args.method}-*", forget)
        change = oracle.mean(0) - original.mean(0)
        error = method.mean(0) - oracle.mean(0)
        spread = oracle.std(0)
        print(
            f"{name:16s} {args.method}: retrained change {np.abs(change).mean():5.2f}"
            f"  error RMS {rms(error):4.2f} (mean {error.mean():+.2f})"
            f"  oracles' spread {spread.mean():4.2f}  RMS error/spread {rms(error / spread):4.2f}"
        )


if __name__ == "__main__":
    main()
