"""ONNX fixtures for unlearn's `--model onnx:PATH`, made with PyTorch itself.

    python scripts/torch_reference/make_onnx_fixtures.py                 # (re)write the fixtures
    python scripts/torch_reference/make_onnx_fixtures.py check CASE DIR LOGITS
        # load every DIR/*.safetensors (from `unlearn export`) into CASE's torch module with
        # load_state_dict(strict=True) and compare its logits on the fixture data (training
        # points, then test points, normalised as trained) with LOGITS (a zoo's logits.npy)

A user's own data and conventions: small 1×8×8 images of 3 classes with their own test set,
normalised per channel with fixed ("published") statistics, trained in their own order. Three
user architectures: a torchvision-style ResNet in miniature (basic blocks, projected shortcut,
3×3/2 max pool with padding, adaptive average pool), a CNN (batch norm, a residual addition, a strided grouped convolution,
dropout, global and mean pooling concatenated) and an MLP that flattens with x.view(n, -1) and
computes with constants (Sub, Div, Mul, GELU, Tanh, Sigmoid). Each is trained a few SGD steps in
PyTorch and exported with the exporter settings docs/onnx.md gives. Writes into
crates/unlearn-train/tests/fixtures/onnx/: data/*.npy, CASE.onnx, CASE.safetensors (the trained
state dict), CASE_logits.npy (eval-mode logits on the normalised training then test points) and
CASE_step.safetensors (one training step from the trained state on the first 12 training points,
dropout off, batch norm in training mode: `loss` and `grad.NAME` for every parameter), plus
unsupported.onnx (a LeakyRelu) for the error test, and assets/onnx/digits-cnn.onnx (the CNN for
the digits bench config). Needs torch, numpy, onnx and safetensors (a
venv; not a dependency of the project).
"""

import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

OUT = Path(__file__).resolve().parents[2] / "crates/unlearn-train/tests/fixtures/onnx"
MEAN, STD = 0.4, 0.25


class Cnn(nn.Module):
    def __init__(self, classes=3, width=4, dropout=0.25):
        super().__init__()
        self.conv1 = nn.Conv2d(1, width, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, width, 3, stride=2, padding=1, groups=2, bias=False)
        self.bn3 = nn.BatchNorm2d(width)
        self.drop = nn.Dropout(dropout)
        self.fc = nn.Linear(2 * width, classes)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = x + F.relu(self.bn2(self.conv2(x)))
        x = F.max_pool2d(x, 2)
        x = F.relu(self.bn3(self.conv3(x)))
        pooled = torch.cat([x.mean((2, 3)), F.adaptive_avg_pool2d(x, 1).flatten(1)], 1)
        return self.fc(self.drop(pooled))


class Mlp(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(64, 16)
        self.drop = nn.Dropout(0.1)
        self.middle = nn.Linear(16, 16)
        self.head = nn.Linear(16, 3)

    def forward(self, x):
        x = (x.view(x.size(0), -1) - 0.1) / 2.0
        h = self.drop(F.gelu(self.hidden(x)))
        h = torch.tanh(self.middle(h))
        return self.head(h * torch.sigmoid(h))


class Block(nn.Module):
    """torchvision's BasicBlock: two 3×3 convolutions with batch norm, a projected shortcut
    (1×1 convolution + batch norm) where the shape changes."""

    def __init__(self, c_in, c_out, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.downsample = None
        if stride != 1 or c_in != c_out:
            self.downsample = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + (x if self.downsample is None else self.downsample(x)))


class ResNet(nn.Module):
    """A torchvision-style ResNet in miniature: 3×3 stem, 3×3/2 max pool, two basic blocks,
    adaptive average pool, flatten, linear."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(4)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self.layer1 = Block(4, 4, 1)
        self.layer2 = Block(4, 8, 2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(8, 3)

    def forward(self, x):
        x = self.maxpool(F.relu(self.bn1(self.conv1(x))))
        x = self.layer2(self.layer1(x))
        return self.fc(torch.flatten(self.avgpool(x), 1))


CASES = {"cnn": Cnn, "mlp": Mlp, "resnet": ResNet}


def data():
    """Images whose class is where a bright bar lies, with noise; train 36, test 18."""
    rng = np.random.default_rng(3)

    def make(n):
        y = rng.integers(0, 3, n)
        x = rng.uniform(0.0, 0.5, (n, 1, 8, 8)).astype(np.float32)
        for i, c in enumerate(y):
            x[i, 0, 2 * c + 1 : 2 * c + 3, 1:7] += 0.5
        return x, y.astype(np.int64)

    return make(36), make(18)


def normalise(x):
    return (x - MEAN) / STD


def export(model, path):
    """The export docs/onnx.md gives: the TorchScript exporter in training mode, so batch norms
    and dropouts stay nodes (evaluation mode folds batch norms into the convolutions)."""
    model.train()
    torch.onnx.export(
        model, (torch.zeros(2, 1, 8, 8),), str(path), dynamo=False,
        training=torch.onnx.TrainingMode.TRAINING, do_constant_folding=False,
        input_names=["x"], output_names=["logits"], dynamic_axes={"x": {0: "batch"}},
    )


def make():
    (train_x, train_y), (test_x, test_y) = data()
    (OUT / "data").mkdir(parents=True, exist_ok=True)
    for name, array in [("train_x", train_x), ("train_y", train_y), ("test_x", test_x), ("test_y", test_y)]:
        np.save(OUT / "data" / f"{name}.npy", array)
    xs = torch.from_numpy(normalise(train_x))
    ys = torch.from_numpy(train_y)
    for name, cls in CASES.items():
        torch.manual_seed(sum(map(ord, name)))
        model = cls()
        optimiser = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        model.train()
        for step in range(60):
            batch = slice(12 * (step % 3), 12 * (step % 3) + 12)
            optimiser.zero_grad()
            F.cross_entropy(model(xs[batch]), ys[batch]).backward()
            optimiser.step()
        export(model, OUT / f"{name}.onnx")
        model.eval()
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, OUT / f"{name}.safetensors")
        everything = torch.from_numpy(normalise(np.concatenate([train_x, test_x])))
        with torch.no_grad():
            np.save(OUT / f"{name}_logits.npy", model(everything).numpy())
        # One training step: batch norm on batch statistics, dropout off (its masks are drawn
        # differently in each framework).
        model.train()
        if hasattr(model, "drop"):
            model.drop.eval()
        model.zero_grad()
        loss = F.cross_entropy(model(xs[:12]), ys[:12])
        loss.backward()
        step = {"loss": loss.detach().reshape(1)}
        step.update({f"grad.{k}": p.grad.contiguous() for k, p in model.named_parameters()})
        save_file(step, OUT / f"{name}_step.safetensors")
        print(f"{name}: loss {loss.item():.4f}, test accuracy "
              f"{(model.eval()(everything[36:]).argmax(1).numpy() == test_y).mean():.2f}")
    torch.manual_seed(1)
    unsupported = nn.Sequential(nn.Flatten(), nn.Linear(64, 3), nn.LeakyReLU())
    export(unsupported, OUT / "unsupported.onnx")
    # The same CNN for the embedded digits (1×8×8, 10 classes): assets/bench/digits-onnx-cnn.json
    # trains it from seeds, so only its architecture matters.
    torch.manual_seed(0)
    export(Cnn(classes=10, width=16, dropout=0.1), OUT.parents[4] / "assets/onnx/digits-cnn.onnx")


def check(case, directory, logits_path):
    (train_x, _), (test_x, _) = data()
    everything = torch.from_numpy(normalise(np.concatenate([train_x, test_x])))
    expected = np.load(logits_path)
    files = sorted(Path(directory).glob("*.safetensors"))
    if not files:
        sys.exit(f"no .safetensors files in {directory}")
    worst = 0.0
    for i, path in enumerate(files):
        model = CASES[case]()
        model.load_state_dict(load_file(path), strict=True)
        with torch.no_grad():
            got = model.eval()(everything).numpy()
        worst = max(worst, float(np.abs(got - expected[i]).max()))
    print(f"{case}: {len(files)} exported models load strictly; max |torch - unlearn| = {worst:.2e}")
    if worst > 1e-4:
        sys.exit(f"{case}: logits differ by {worst:.2e}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "check":
        check(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        make()
