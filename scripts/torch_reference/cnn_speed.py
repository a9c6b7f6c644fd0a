"""PyTorch's CPU cost per model of the small CNN of `assets/bench/fashion-mnist-cnn.json`.

Same network (3×3 conv 1→8, 2×2 max-pool, ReLU, 3×3 conv 8→16, max-pool, ReLU, linear 784→10),
same batch (64), same number of training points (2 400 images of 1×28×28), SGD with momentum and
weight decay, the given threads. Random images: the rate does not depend on the pixels. Trains
`--models` models one after another for two epochs after a warm-up epoch and prints the seconds
a model would take for `--epochs` epochs, to set beside `unlearn train`'s zoo of the same recipe:

    python scripts/torch_reference/cnn_speed.py --models 1 --threads 2
    unlearn train --dataset fashion-mnist --limit 3000 --recipe-file RECIPE.json --models 50 --stack 25

Run it from a venv with torch (PyTorch is not a dependency of unlearn), as speed.py.
"""

import argparse
import time

import torch


def cnn() -> torch.nn.Module:
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 8, 3, padding=1),
        torch.nn.MaxPool2d(2),
        torch.nn.ReLU(),
        torch.nn.Conv2d(8, 16, 3, padding=1),
        torch.nn.MaxPool2d(2),
        torch.nn.ReLU(),
        torch.nn.Flatten(),
        torch.nn.Linear(16 * 7 * 7, 10),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=1)
    parser.add_argument("--points", type=int, default=2400)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=25)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    x = torch.randn(args.points, 1, 28, 28)
    y = torch.randint(0, 10, (args.points,))
    nets = [cnn() for _ in range(args.models)]
    opts = [
        torch.optim.SGD(n.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
        for n in nets
    ]

    def epoch() -> None:
        for start in range(0, args.points, args.batch):
            xb, yb = x[start : start + args.batch], y[start : start + args.batch]
            for net, opt in zip(nets, opts):
                loss = torch.nn.functional.cross_entropy(net(xb), yb)
                opt.zero_grad()
                loss.backward()
                opt.step()

    epoch()
    begin = time.perf_counter()
    epoch()
    epoch()
    per_epoch = (time.perf_counter() - begin) / 2 / args.models
    print(f"seconds per model for {args.epochs} epochs {per_epoch * args.epochs:.2f}")


if __name__ == "__main__":
    main()
