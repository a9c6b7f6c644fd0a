"""The torch modules whose state dicts `unlearn import` reads and `unlearn export` writes.

Each built-in architecture of unlearn is an `nn.Sequential` here, so its state-dict keys are
the documented ones (docs/checkpoints.md): a parameter's key is the path of indices to it.
"""

import torch
from torch import nn


class Residual(nn.Module):
    """x + module(x); the inner module's keys are `<index>.module.…`."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, x):
        return x + self.module(x)


class Mul(nn.Module):
    def __init__(self, weight: float) -> None:
        super().__init__()
        self.weight = weight

    def forward(self, x):
        return x * self.weight


def mlp(dim: int, hidden: list, classes: int) -> nn.Sequential:
    """Linear, ReLU, …, Linear (logistic regression: hidden = [])."""
    widths = [dim, *hidden, classes]
    layers = []
    for i in range(len(widths) - 1):
        layers.append(nn.Linear(widths[i], widths[i + 1]))
        if i + 2 < len(widths):
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def cnn(image: list, channels: list, classes: int) -> nn.Sequential:
    """(3×3 conv with bias, ReLU, 2×2 max-pool) per block, flatten, linear."""
    c, h, w = image
    layers = []
    for c_out in channels:
        layers += [nn.Conv2d(c, c_out, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
        c, h, w = c_out, h // 2, w // 2
    layers += [nn.Flatten(), nn.Linear(c * h * w, classes)]
    return nn.Sequential(*layers)


def conv_bn(c_in: int, c_out: int, kernel: int = 3, stride: int = 1, padding: int = 1, pool: bool = False):
    layers = [
        nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=padding, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(),
    ]
    if pool:
        layers.append(nn.MaxPool2d(2))
    return nn.Sequential(*layers)


def resnet9(image: list, width: int, scale: float, classes: int) -> nn.Sequential:
    """The fast "KakaoBrain" CIFAR-10 ResNet-9 (widths w, 2w, 4w, 8w)."""
    w1, w2, w4, w8 = width, 2 * width, 4 * width, 8 * width
    return nn.Sequential(
        conv_bn(image[0], w1),
        conv_bn(w1, w2, pool=True),
        Residual(nn.Sequential(conv_bn(w2, w2), conv_bn(w2, w2))),
        conv_bn(w2, w4, pool=True),
        conv_bn(w4, w8, pool=True),
        Residual(nn.Sequential(conv_bn(w8, w8), conv_bn(w8, w8))),
        nn.AdaptiveMaxPool2d((1, 1)),
        nn.Flatten(),
        nn.Linear(w8, classes, bias=False),
        Mul(scale),
    )


def resnet9_easydub(image: list, width: int, scale: float, classes: int) -> nn.Sequential:
    """The public CIFAR-10 unlearning benchmark's ResNet-9 (widths w, 2w, 4w, 2w)."""
    w1, w2, w4 = width, 2 * width, 4 * width
    return nn.Sequential(
        conv_bn(image[0], w1),
        conv_bn(w1, w2, kernel=5, stride=2, padding=2),
        Residual(nn.Sequential(conv_bn(w2, w2), conv_bn(w2, w2))),
        conv_bn(w2, w4),
        nn.MaxPool2d(2),
        Residual(nn.Sequential(conv_bn(w4, w4), conv_bn(w4, w4))),
        conv_bn(w4, w2, padding=0),
        nn.AdaptiveMaxPool2d((1, 1)),
        nn.Flatten(),
        nn.Linear(w2, classes, bias=False),
        Mul(scale),
    )


def build(spec: dict, dim: int, image, classes: int) -> nn.Sequential:
    """The torch module of an unlearn architecture spec (`{"kind": "mlp", "hidden": [64]}`)."""
    kind = spec["kind"]
    if kind == "logistic":
        return mlp(dim, [], classes)
    if kind == "mlp":
        return mlp(dim, spec["hidden"], classes)
    if kind == "cnn":
        return cnn(image, spec["channels"], classes)
    if kind == "resnet9":
        return resnet9(image, spec["width"], spec["scale"], classes)
    if kind == "resnet9-easydub":
        return resnet9_easydub(image, spec["width"], spec["scale"], classes)
    raise ValueError(f"unknown architecture kind {kind!r}")


def forward(model: nn.Module, x: torch.Tensor, image) -> torch.Tensor:
    """Logits of flat rows `x` (images are channel-major rows, as unlearn stores them)."""
    if image is not None:
        x = x.reshape(x.shape[0], *image)
    return model(x)
