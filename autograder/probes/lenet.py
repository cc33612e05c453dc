"""Trusted torch helpers of the LeNet grader, run where the student's code runs.

``graders/test_lenet.py`` hands the student's ``train_one_epoch``/``evaluate``/``fit``
models, loaders, optimizers and loss functions. These must live in the same process as
the student's code: in-process that is the grading process, under ``--isolate`` the
exercise's worker. So the grader builds them through this module, reached as
``impl.helpers("lenet")`` when the implementation offers it (the worker's copy of this
module, behind a handle) and imported directly otherwise. The grader's *expected* values
are computed in the grading process from data only (weights from ``state_dict()``,
logits), never by trusting a helper's verdict.

Everything here is deterministic given torch's seed (:func:`manual_seed`).
"""

from __future__ import annotations

import copy

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset


class Probe(nn.Module):
    """A small model (flatten -> linear 784 -> 10) that records, at each forward pass,
    whether it is in training mode, whether autograd is recording and the batch size."""

    def __init__(self, scale: float = 1.0):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 10))
        self.scale = scale
        self.calls: list[tuple[bool, bool, int]] = []

    def forward(self, x):
        self.calls.append((self.training, torch.is_grad_enabled(), len(x)))
        return self.net(x * self.scale)


class FirstPixels(nn.Module):
    """Logits = the first 10 pixels of each image (times a parameter equal to 1)."""

    def __init__(self):
        super().__init__()
        self.gain = nn.Parameter(torch.ones(()))

    def forward(self, x):
        return x.flatten(1)[:, :10] * self.gain


class SpySGD(torch.optim.SGD):
    """SGD that records a copy of every gradient each time ``step`` is called."""

    def __init__(self, params, lr):
        super().__init__(params, lr=lr)
        self.grads_at_step: list[list[torch.Tensor | None]] = []

    def step(self, closure=None):
        self.grads_at_step.append([None if p.grad is None else p.grad.detach().clone()
                                   for group in self.param_groups for p in group["params"]])
        return super().step(closure)


def manual_seed(seed: int) -> None:
    """Seed torch's global generator (model initialisation, ``randn_like``)."""
    torch.manual_seed(int(seed))


def spy_sgd(model: nn.Module, lr: float) -> SpySGD:
    """A :class:`SpySGD` over ``model``'s parameters."""
    return SpySGD(model.parameters(), lr=lr)


def cross_entropy() -> nn.Module:
    return nn.CrossEntropyLoss()


def loader_of(x, y, batch_size: int, shuffle: bool = False, seed: int | None = None) -> DataLoader:
    """A DataLoader over (x, y); with ``shuffle``, reshuffled every epoch by its own
    generator seeded with ``seed`` (as ``autograder.data.get_loaders`` does)."""
    dataset = TensorDataset(torch.as_tensor(x), torch.as_tensor(y))
    if shuffle:
        generator = torch.Generator().manual_seed(int(seed or 0))
        return DataLoader(dataset, batch_size=int(batch_size), shuffle=True, generator=generator)
    return DataLoader(dataset, batch_size=int(batch_size), shuffle=False)


def is_module(obj) -> bool:
    return isinstance(obj, nn.Module)


def layers(model: nn.Module) -> dict:
    """The convolutions and linear layers of ``model`` as plain data, sorted as the
    grader lists them (convolutions by input channels, linear layers by decreasing input
    features)."""
    convs = sorted((m for m in model.modules() if isinstance(m, nn.Conv2d)), key=lambda m: m.in_channels)
    linears = sorted((m for m in model.modules() if isinstance(m, nn.Linear)), key=lambda m: -m.in_features)
    return {
        "convs": [{"in": m.in_channels, "out": m.out_channels, "kernel": tuple(m.kernel_size),
                   "padding": tuple(m.padding) if not isinstance(m.padding, str) else m.padding,
                   "stride": tuple(m.stride), "repr": repr(m),
                   "params": sum(p.numel() for p in m.parameters())} for m in convs],
        "linears": [{"in": m.in_features, "out": m.out_features, "repr": repr(m),
                     "params": sum(p.numel() for p in m.parameters())} for m in linears],
    }


def gradient_flow(model: nn.Module, x: torch.Tensor, weights: torch.Tensor) -> dict:
    """Backpropagate sum(model(x) * weights) in training mode; which parameters got a
    non-zero gradient, which are frozen."""
    model.train()
    out = model(x)
    if not isinstance(out, torch.Tensor):
        return {"output": type(out).__name__}
    if tuple(out.shape) != tuple(weights.shape):
        return {"output": f"shape {tuple(out.shape)}"}
    (out * weights).sum().backward()
    frozen = [name for name, p in model.named_parameters() if not p.requires_grad]
    missing = [name for name, p in model.named_parameters()
               if p.requires_grad and (p.grad is None or not bool((p.grad != 0).any()))]
    return {"frozen": frozen, "missing": missing}


def logits_of(model: nn.Module, images: torch.Tensor, batch_size: int = 1000):
    """``model``'s outputs on ``images`` in eval mode, without a graph, batch by batch
    (the name of the type it returned instead of a tensor, if it did)."""
    model.eval()
    outs = []
    with torch.no_grad():
        for start in range(0, len(images), batch_size):
            out = model(images[start:start + batch_size])
            if not isinstance(out, torch.Tensor):
                return type(out).__name__
            outs.append(out)
    try:
        return torch.cat(outs) if outs else torch.zeros(0, 10)
    except RuntimeError:  # batches of different widths
        return "tensors of varying shapes " + ", ".join(str(tuple(o.shape)) for o in outs[:3])


def copy_of_probe(state_dict: dict, scale: float = 1.0) -> Probe:
    """A :class:`Probe` with the given weights (built where the caller runs)."""
    probe = Probe(scale)
    probe.load_state_dict({key: torch.as_tensor(value) for key, value in state_dict.items()})
    return probe


def cross_entropy_of(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return float(F.cross_entropy(copy.deepcopy(model)(x), y))


class _Stop(BaseException):
    """Ends a forward pass early (a BaseException, so that an ``except Exception`` in the
    student's ``forward`` cannot swallow it)."""


def _layer_kind(module: nn.Module) -> str:
    return "conv" if isinstance(module, nn.Conv2d) else "linear"


def between_layers(model: nn.Module, x: torch.Tensor, values) -> dict:
    """What reaches each nn.Conv2d/nn.Linear of ``model`` from the one called before it,
    when that one's output is replaced by a constant, as plain data.

    A forward pass in eval mode without a graph first records the order in which the
    model calls its nn.Conv2d and nn.Linear modules (forward hooks: whatever the style,
    modules, ``torch.nn.functional`` calls, ``nn.Sequential`` or ``nn.ModuleDict``). Then,
    for each call k but the last and each value c of ``values``, the output of call k is
    replaced by a tensor full of c and the input of call k + 1 is read, and the pass
    stopped there. Between two layers, pooling (max or average) and flatten/reshape map a
    constant c to c; an activation phi maps it to phi(c).

    Returns {"layers": [{"name", "kind": "conv" | "linear", "out_shape"}] in call order,
    "pairs": [{"from": k, "to": k + 1, "probes": [[c, min, max, in_shape] of the input of
    call k + 1, or None when the pass did not reach it]}]}.
    """
    modules = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    names = {id(m): name for name, m in model.named_modules()}
    state = {"count": 0, "replace": None, "value": 0.0, "capture": None, "seen": None}
    order: list[dict] = []

    def before(module, args):
        index = state["count"]
        state["count"] += 1
        if state["capture"] == index:
            state["seen"] = args[0].detach().clone() if args and isinstance(args[0], torch.Tensor) else None
            raise _Stop

    def after(module, args, output):
        index = state["count"] - 1  # Conv2d and Linear hold no such layers: calls alternate
        if state["replace"] is None:
            order.append({"name": names.get(id(module), "?"), "kind": _layer_kind(module),
                          "out_shape": list(output.shape) if isinstance(output, torch.Tensor) else None})
        elif state["replace"] == index and isinstance(output, torch.Tensor):
            return torch.full_like(output, state["value"])
        return None

    handles = [h for m in modules for h in (m.register_forward_pre_hook(before),
                                            m.register_forward_hook(after))]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(x)
            pairs = []
            for k in range(len(order) - 1):
                probes = []
                for value in values:
                    state.update(count=0, replace=k, value=float(value), capture=k + 1, seen=None)
                    try:
                        model(x)
                    except _Stop:
                        pass
                    seen = state["seen"]
                    probes.append(None if seen is None or seen.numel() == 0 else
                                  [float(value), float(seen.min()), float(seen.max()), list(seen.shape)])
                pairs.append({"from": k, "to": k + 1, "probes": probes})
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    return {"layers": order, "pairs": pairs}
