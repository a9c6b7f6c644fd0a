"""Fixture checkpoints for unlearn's PyTorch import/export tests, made with PyTorch itself.

    python scripts/torch_reference/make_fixtures.py            # (re)write the fixtures
    python scripts/torch_reference/make_fixtures.py check DIR  # load DIR/<case>.safetensors
                                                               # (from `unlearn export`) strictly

Writes, per case, into crates/unlearn-train/tests/fixtures/torch/: the state dict as `.pt` and
`.safetensors`, 5 fixed input rows and PyTorch's logits on them (`.npy`, float32), and
`cases.json` (architecture spec, input shape, classes). Batch norms get random running
statistics and the models run in eval mode, so imported statistics matter. Also writes the bad
checkpoints the error tests read. Needs torch, numpy and safetensors (a venv; not a dependency of
the project): python -m venv ~/.cache/torch-venv && ~/.cache/torch-venv/bin/pip install torch
numpy safetensors.
"""

import json
import sys
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

sys.path.insert(0, str(Path(__file__).parent))
import models  # noqa: E402

OUT = Path(__file__).resolve().parents[2] / "crates/unlearn-train/tests/fixtures/torch"

CASES = [
    ("logistic", {"kind": "logistic"}, 6, None, 3),
    ("mlp", {"kind": "mlp", "hidden": [5, 4]}, 6, None, 3),
    ("cnn", {"kind": "cnn", "channels": [2, 3]}, 64, [1, 8, 8], 3),
    ("resnet9", {"kind": "resnet9", "width": 2, "scale": 0.125}, 192, [3, 8, 8], 3),
    ("resnet9-easydub", {"kind": "resnet9-easydub", "width": 2, "scale": 0.2}, 432, [3, 12, 12], 3),
]


def build(case):
    name, spec, dim, image, classes = case
    torch.manual_seed(sum(map(ord, name)))
    model = models.build(spec, dim, image, classes)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            with torch.no_grad():
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.2, 0.2)
    return model.eval()


def inputs(case):
    _, _, dim, _, _ = case
    generator = torch.Generator().manual_seed(7)
    return torch.randn(5, dim, generator=generator)


def make():
    OUT.mkdir(parents=True, exist_ok=True)
    index = []
    for case in CASES:
        name, spec, dim, image, classes = case
        model = build(case)
        x = inputs(case)
        with torch.no_grad():
            logits = models.forward(model, x, image)
        state = model.state_dict()
        torch.save(state, OUT / f"{name}.pt")
        save_file({k: v.contiguous() for k, v in state.items()}, str(OUT / f"{name}.safetensors"))
        np.save(OUT / f"{name}.inputs.npy", x.numpy().astype(np.float32))
        np.save(OUT / f"{name}.logits.npy", logits.numpy().astype(np.float32))
        index.append({"name": name, "model": spec, "dim": dim, "image_shape": image, "classes": classes})
    (OUT / "cases.json").write_text(json.dumps(index, indent=2) + "\n")

    # Bad checkpoints of the MLP case: each breaks one rule import checks.
    state = build(CASES[1]).state_dict()
    missing = {k: v for k, v in state.items() if k != "2.bias"}
    torch.save(missing, OUT / "bad-missing.pt")
    extra = dict(state, **{"9.weight": torch.zeros(2, 2)})
    save_file(extra, str(OUT / "bad-extra.safetensors"))
    shape = dict(state, **{"2.weight": torch.zeros(3, 5)})
    torch.save(shape, OUT / "bad-shape.pt")
    dtype = {k: v.double() for k, v in state.items()}
    save_file(dtype, str(OUT / "bad-dtype.safetensors"))
    print(f"wrote {len(CASES)} cases and 4 bad checkpoints to {OUT}")


def check(directory: Path):
    """Loads every exported case strictly into its torch module and compares the logits."""
    worst = 0.0
    for entry in json.loads((OUT / "cases.json").read_text()):
        name, image = entry["name"], entry["image_shape"]
        model = models.build(entry["model"], entry["dim"], image, entry["classes"]).eval()
        model.load_state_dict(load_file(str(directory / f"{name}.safetensors")), strict=True)
        x = torch.from_numpy(np.load(OUT / f"{name}.inputs.npy"))
        with torch.no_grad():
            got = models.forward(model, x, image).numpy()
        want = np.load(OUT / f"{name}.logits.npy")
        diff = float(np.abs(got - want).max())
        worst = max(worst, diff)
        print(f"{name}: strict load ok, max |Δlogit| against the fixture {diff:.2e}")
    if worst > 1e-4:
        sys.exit(f"exported models differ from PyTorch's by {worst:.2e} (> 1e-4)")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "check":
        check(Path(sys.argv[2]))
    elif len(sys.argv) == 1:
        make()
    else:
        sys.exit(__doc__)
