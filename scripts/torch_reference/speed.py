"""PyTorch's CPU training rate of the ResNet-9 that `unlearn bench-speed` times, same shapes.

Same network (models.resnet9: conv-BN-ReLU blocks, residual pairs, global max-pool, bias-free
head ×scale), same batch, same number of synthetic 3×32×32 images, SGD with momentum, the given
number of threads. Prints one line per timed epoch, `samples/s <rate>`, after one warm-up epoch.

    python scripts/torch_reference/speed.py --width 16 --batch 64 --points 512 --threads 2

Run it from a venv with torch (PyTorch is not a dependency of unlearn):
    python3 -m venv ~/.cache/torch-venv && ~/.cache/torch-venv/bin/pip install torch numpy
`unlearn bench-speed --torch-python ~/.cache/torch-venv/bin/python` runs it between its own
timings and prints the ratio.
"""

import argparse
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from models import resnet9  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--points", type=int, default=512)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs after the warm-up")
    args = parser.parse_args()
    if args.points < args.batch:
        parser.error("--points must be at least --batch")

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = resnet9([3, 32, 32], args.width, 0.125, 10)
    optimiser = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = torch.randn(args.points, 3, 32, 32)
    y = torch.randint(0, 10, (args.points,))
    steps = args.points // args.batch

    def epoch() -> None:
        for s in range(steps):
            batch = slice(s * args.batch, (s + 1) * args.batch)
            optimiser.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(x[batch]), y[batch])
            loss.backward()
            optimiser.step()

    epoch()
    for _ in range(args.epochs):
        start = time.perf_counter()
        epoch()
        print(f"samples/s {steps * args.batch / (time.perf_counter() - start):.1f}", flush=True)


if __name__ == "__main__":
    main()
