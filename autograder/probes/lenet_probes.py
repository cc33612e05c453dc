"""Trusted probes of the LeNet grader, run next to the student's code.

``graders/test_lenet.py`` reaches them as ``th = impl.probes("lenet")``: ``th.NAME(...)``
runs ``NAME`` here, in the process of the student's code (the isolated worker, or the
grading process itself with ``--no-isolate``), with the grader's refs and the student's
functions resolved to the real objects. What a probe returns crosses back as data
(:mod:`autograder.grading.values`); the objects it builds for the student's functions
(a :class:`Probe` model, a :class:`SpySGD`, a DataLoader, a loss) cross back as opaque
refs, which the grader hands to ``train_one_epoch``/``evaluate``/``fit`` and to other
probes.

- built here: :class:`Probe`, :class:`FirstPixels`, :func:`spy_sgd`, :func:`loader_of`,
  :func:`cross_entropy`, :func:`copy_of_probe`; :func:`manual_seed`;
- read here, returned as data: :func:`parameters`, :func:`state_dict`, :func:`calls`,
  :func:`grads_at_step`, :func:`is_module`, :func:`layers`;
- run here, returned as data: :func:`forward`, :func:`logits_of`, :func:`gradient_flow`,
  :func:`between_layers`; and :func:`set_mode`.

The grader's *expected* values are computed in the grading process from data only (a
reference :class:`Probe` rebuilt there by :func:`probe_from_state_dict` from
:func:`state_dict`, logits), never by trusting a probe's verdict.

Everything here is deterministic given torch's seed (:func:`manual_seed`).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


class Probe(nn.Module):
    """A small spy model (flatten -> linear 784 -> 10: (N, 1, 28, 28) -> (N, 10)) that
    records, at each forward pass, whether it is in training mode, whether autograd is
    recording and the batch size (read with :func:`calls`)."""

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
    """SGD that records a copy of every gradient each time ``step`` is called (read with
    :func:`grads_at_step`)."""

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
    """The loss of the contract, ``nn.CrossEntropyLoss()``."""
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
    """Whether ``obj`` is an ``nn.Module``."""
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


def forward(model: nn.Module, x: torch.Tensor, grad: bool = True):
    """``model(x)`` in the model's current mode, under ``torch.no_grad()`` unless ``grad``
    (for LeNet: x (N, 1, 28, 28) -> logits (N, 10); whatever the model returns)."""
    with torch.set_grad_enabled(bool(grad)):
        return model(x)


def set_mode(model: nn.Module, mode: str) -> None:
    """Put ``model`` in ``"train"`` or ``"eval"`` mode."""
    if mode not in ("train", "eval"):
        raise ValueError(f"mode must be 'train' or 'eval', got {mode!r}")
    model.train(mode == "train")


def parameters(model: nn.Module) -> list[torch.Tensor]:
    """Copies of ``model.parameters()`` (detached, in order, each of its parameter's shape):
    a snapshot that later training does not change."""
    return [p.detach().clone() for p in model.parameters()]


def state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """Copies of ``model.state_dict()``'s tensors, as a plain dict {name: tensor}."""
    return {str(name): value.detach().clone() for name, value in model.state_dict().items()}


def calls(probe: Probe) -> list[tuple[bool, bool, int]]:
    """The forward passes a :class:`Probe` recorded, in order: (training mode, autograd
    recording, batch size) for each."""
    if not isinstance(probe, Probe):
        raise TypeError(f"calls() reads a Probe, got {type(probe).__name__}")
    return [(bool(training), bool(grad), int(size)) for training, grad, size in probe.calls]


def grads_at_step(spy: SpySGD) -> list[list[torch.Tensor | None]]:
    """The gradients a :class:`SpySGD` saw at each ``step()``: one list per step, one
    tensor (of its parameter's shape; None without a gradient) per parameter, in order."""
    if not isinstance(spy, SpySGD):
        raise TypeError(f"grads_at_step() reads a SpySGD, got {type(spy).__name__}")
    return [[None if g is None else g.clone() for g in step] for step in spy.grads_at_step]


def probe_from_state_dict(weights: dict, scale: float = 1.0) -> Probe:
    """A :class:`Probe` with the given weights (``state_dict`` data), built where the
    caller runs: the grader's reference copies."""
    probe = Probe(scale)
    probe.load_state_dict({key: torch.as_tensor(value) for key, value in weights.items()})
    return probe


def copy_of_probe(probe: Probe, scale: float | None = None) -> Probe:
    """A new :class:`Probe` with ``probe``'s weights (and scale, unless given) that has
    recorded no call yet."""
    if not isinstance(probe, Probe):
        raise TypeError(f"copy_of_probe() copies a Probe, got {type(probe).__name__}")
    return probe_from_state_dict(state_dict(probe), probe.scale if scale is None else scale)


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
