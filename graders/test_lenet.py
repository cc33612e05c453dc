"""Grader of exercise 5, ``lenet``: LeNet-5 and its training loop in PyTorch.

Contract: docs/contract.md, section 5 (its clauses and the tests that check them).

What is graded (points; 33 without MNIST, 37 with it; 2 of them in hidden tests that are
not described here):

- ``LeNet5``: output shape (2), 61,706 parameters (2), the layers of the contract (2),
  an activation after every convolution and every hidden linear layer (2), logits and not
  probabilities (2);
- ``train_one_epoch``: zeroes the gradients (2), one optimizer step per batch (1),
  training mode (1), returns the mean loss (2);
- ``evaluate``: eval mode without a graph (2), the accuracy (2);
- ``fit``: exactly ``epochs`` epochs (2), Adam at ``lr`` (2);
- the defaults of the signatures: ``device="cpu"`` in ``train_one_epoch`` and
  ``evaluate``, ``epochs=10``, ``lr=1e-3`` and ``device="cpu"`` in ``fit`` (1; the other
  tests pass every argument, so a missing default costs this point only);
- the bar: trained by ``fit`` on the digits, median held-out accuracy >= 95% over
  3 seeds, none below 90% (6); on MNIST >= 98% when ``--mnist-dir`` is given (4).

The behavioural tests run the student's loops on the grader's own small models, so a
mistake in ``LeNet5`` does not cost the points of the loops, and the other way round.
The activations are found from behaviour, whatever the style of ``forward`` (modules,
``torch.nn.functional`` calls, ``nn.Sequential``, ``nn.ModuleDict``): forward hooks on the
model's ``nn.Conv2d`` and ``nn.Linear`` replace the output of one layer by a constant c and
read what reaches the next one; pooling and flatten pass c on unchanged, an activation
does not.

One set of tests for both ways of reaching the implementation. The grader never reads
the student's objects: ``LeNet5()`` and every object the tests hand to the student's
functions are opaque refs, and what the grader needs from them it asks the trusted probes
of `autograder.probes.lenet_probes` (the ``th`` fixture, ``impl.probes("lenet")``), which run
*where the student's code runs* -- in this process, or in the isolated worker under
``--isolate`` -- and return data. The probes build the spy models, loaders, optimizers and
loss functions (refs), and report as data the model's outputs, its parameters and weights,
its layers, the calls a spy model recorded and the gradients a spy optimizer saw. Expected
values are computed here, from data only: the reference gradients and losses by a copy of
the spy model rebuilt here from its weights, the accuracy bar from logits.

The accuracy bar is tamper-resistant under ``--isolate``: ``fit`` gets the training
loader and a validation loader over *training* images; the held-out images are sent to
the worker only after training, their logits come back, and the accuracy is computed
here with labels that never leave this process.

What a hostile ``lenet.py`` can still forge under ``--isolate``: it runs in the same
worker process as torch and the trusted probes, so it can monkeypatch them there (make
``Probe`` record fake calls, ``SpySGD`` fake gradients, ``layers()`` describe layers it
does not have, ``gradient_flow`` report gradients, ``between_layers`` report activations,
``parameters()`` report weights) and so earn the behavioural points without the
behaviour -- but only in that worker: it cannot change a check, a score or a report, which
run here. The bar cannot be forged that way, only by predicting the
held-out digits, e.g. from a copy of the public scikit-learn digits embedded in the
submission (the worker itself cannot read scikit-learn's data files); a private test set
would close that too.
"""

from __future__ import annotations

import math
import statistics
import zlib

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from autograder.data import load_dataset
from autograder.grading.checks import fail, to_float
from autograder.grading.messages import tr
from autograder.grading.plugin import student_location
from autograder.grading.values import type_name
from autograder.probes import lenet_probes

# Time limit of each test (unless it says otherwise): the reference's tests take 0.1-2 s
# here, the first one also starting the worker (importing torch: ~2 s); the two bars train
# for minutes and have their own limits; an endless loop costs 60 s once
pytestmark = pytest.mark.time_limit(60)

# The bar on the digits, as the contract states it. Measured on 2 cores, one thread:
# ~0.6 s per epoch; reference (ReLU, max pooling) 97.2-98.6%, classic (tanh, average
# pooling) 97.5% on the three seeds.
EPOCHS = 15
LR = 3e-3
BATCH = 16
SEEDS = (0, 1, 2)
MEDIAN_BAR = 0.95
MIN_BAR = 0.90
# MNIST (only with --mnist-dir / $DLKIT_MNIST_DIR): about 3 epochs, one seed.
MNIST_EPOCHS = 3
MNIST_LR = 1e-3
MNIST_BATCH = 64
MNIST_SEED = 0
MNIST_BAR = 0.98

N_PARAMETERS = 61_706
CONV_SPECS = [  # (in_channels, out_channels, kernel_size, padding)
    (1, 6, (5, 5), (2, 2)),
    (6, 16, (5, 5), (0, 0)),
]
LINEAR_SPECS = [(400, 120), (120, 84), (84, 10)]

# One thread: as fast as two for these small batches on a 2-core machine, much faster
# when the other core is busy, and results do not depend on the machine's core count.
TORCH_THREADS = 1
# The same float32 gradients computed twice agree to rounding (summation order).
GRAD_RTOL = 1e-4
GRAD_ATOL = 1e-6
# Mean losses: float32 batch losses averaged in float64 or float32.
LOSS_RTOL = 1e-4
LOSS_ATOL = 1e-6
# Adam's first step moves a parameter by lr * g / (|g| + eps) = lr within 1e-3 when |g| >> eps.
ADAM_STEP_RTOL = 0.02
# The accuracy: the 12 examples of test_evaluate_accuracy (N = 12), 7 of them right. A
# count of hits is exact in float32 (integers up to 2**24), and hits / N computed in float32
# is one rounding away from 7/12: within 2**-24 ~ 6e-8 relative, i.e. 6e-8 absolute for an
# accuracy <= 1 (a mean over a float32 tensor of 0/1 alike). So 1e-6 admits every correct
# float32 evaluation, while one hit too many or too few is off by 1/N = 0.083, and every
# other wrong evaluation below (the mean of the batch accuracies: 0.567) by more than 0.01.
ACC_ATOL = 1e-6
# Activations: the output of each layer is replaced by a constant c, and the input of the
# next layer read. Pooling (max or average) and flatten map c to c exactly, up to float32
# rounding in an average of 4 equal values (a few 2**-24 relative); an activation maps it to
# phi(c): ReLU, LeakyReLU, ELU, GELU and SiLU differ from c by at least 36% at c = -1, tanh
# by 2% at c = 0.25, sigmoid by more than 100% at c = 0.25. A relative gap above 1e-5 at
# any c means an activation is there.
ACTIVATION_PROBES = (-3.0, -1.0, -0.25, 0.25, 1.0, 3.0)
PASS_THROUGH_RTOL = 1e-5
# The defaults of the contract: fit(..., epochs=10, lr=1e-3, device="cpu"), and device="cpu"
# in train_one_epoch and evaluate.
DEFAULT_EPOCHS = 10
DEFAULT_LR = 1e-3
# fit without lr and fit with lr=1e-3 on copies of one model do the same float32 operations
# in the same order, so they agree to the bit; 1e-7 allows a few ulps of parameters of size
# ~0.04 (ulp 3.7e-9) and is 1e-4 of Adam's first step at lr 1e-3 (which moves each parameter
# by lr): a default lr off by more than 0.01% shows.
SAME_RUN_ATOL = 1e-7
# fit's validation loader in the bar: this many *training* images (the held-out images
# are kept for the accuracy, computed by the grader from logits).
VAL_IMAGES = 360
EVAL_BATCH = 1000


@pytest.fixture
def lenet(impl):
    return impl.exercise("lenet")


@pytest.fixture
def th(impl):
    """The trusted probes of :mod:`autograder.probes.lenet_probes`, run where the student's code
    runs (the isolated worker, or this process): ``th.NAME(...)`` returns data, or a ref
    for the models, loaders, optimizers and losses they build."""
    return impl.probes("lenet")


@pytest.fixture(autouse=True)
def torch_setup(request, grading_seed, th):
    """One thread, and torch seeded by the run's seed and the test's name (here and where
    the student's code runs)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(TORCH_THREADS)
    seed = (grading_seed * 1_000_003 + zlib.crc32(request.node.name.encode())) % 2**63
    torch.manual_seed(seed)
    th.manual_seed(seed)
    DATA.manual_seed(seed)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def mnist_split(mnist_dir):
    """The MNIST split of --mnist-dir (tests using it are marked needs_mnist: the plugin
    skips them at collection without one)."""
    return load_dataset("mnist", mnist_dir)


# --- helpers --------------------------------------------------------------------------

# The grader's random inputs come from their own generator (re-seeded for every test), so
# that torch's global generator serves only where the student's code runs (initialising
# the spy models and LeNet, the loaders' iterations): the same numbers in-process and in
# the isolated worker.
DATA = torch.Generator()


def randn(*shape):
    return torch.randn(*shape, generator=DATA)


def random_batch(n, scale=1.0):
    return randn(n, 1, 28, 28) * scale, torch.randint(0, 10, (n,), generator=DATA)


def build(lenet, th):
    model = lenet.LeNet5()
    if not th.is_module(model):
        fail(tr(f"LeNet5() should build an nn.Module, got {type_name(model)}",
                f"LeNet5() phải tạo ra một nn.Module, nhưng nhận được {type_name(model)}"))
    return model


def _student_line(exc: BaseException, lenet) -> str:
    return student_location(exc, lenet.owns)


def run_forward(lenet, th, model, x, forward=None, grad=True):
    """model(x) as a tensor, run by the probe ``th.forward`` (under ``torch.no_grad()``
    unless ``grad``), or what ``forward()``, another probe running the model on x, returns;
    a shape error gets a hint about the flattened size."""
    try:
        out = th.forward(model, x, grad) if forward is None else forward()
    except RuntimeError as exc:
        if "shape" not in str(exc) and "size" not in str(exc):
            raise
        fail(tr(f"LeNet5 failed on an input of shape {tuple(x.shape)}: {exc}"
                f"{_student_line(exc, lenet)}. Follow the shapes: conv1 needs padding=2 "
                "to keep 28x28, and after the second pooling there are 16*5*5 = 400 values "
                "per image.",
                f"LeNet5 lỗi với đầu vào kích thước {tuple(x.shape)}: {exc}"
                f"{_student_line(exc, lenet)}. Hãy lần theo kích thước: conv1 cần "
                "padding=2 để giữ 28x28, và sau lớp gộp thứ hai mỗi ảnh còn 16*5*5 = 400 giá trị."))
    if forward is None and not isinstance(out, torch.Tensor):
        fail(tr(f"LeNet5.forward should return a tensor, got {type_name(out)}",
                f"LeNet5.forward phải trả về một tensor, nhưng nhận được {type_name(out)}"))
    return out


def count(th, model):
    return sum(p.numel() for p in th.parameters(model))


def reference_probe(th, model):
    """A copy of a spy model, built here from its weights (data, from ``th.state_dict``),
    to compute expected values."""
    return lenet_probes.probe_from_state_dict(th.state_dict(model))


def held_out_accuracy(lenet, th, model, images, labels):
    """The grader's own accuracy on held-out images: the model's logits come back (eval
    mode, no graph), the labels stay here."""
    logits = run_forward(lenet, th, model, images, lambda: th.logits_of(model, images, EVAL_BATCH))
    if not isinstance(logits, torch.Tensor):
        fail(tr(f"LeNet5.forward should return a tensor, got {logits}",
                f"LeNet5.forward phải trả về một tensor, nhưng nhận được {logits}"))
    if tuple(logits.shape) != (len(images), 10):
        fail(tr(f"LeNet5 maps {len(images)} images to an output of shape {tuple(logits.shape)}; "
                f"expected ({len(images)}, 10)",
                f"LeNet5 biến {len(images)} ảnh thành đầu ra kích thước {tuple(logits.shape)}; "
                f"cần ({len(images)}, 10)"))
    return float((logits.argmax(dim=1) == labels).double().mean())


def distinct(got: float, expected: float) -> tuple[str, str]:
    """Two numbers written with as few significant digits (at least 6) as tell them apart."""
    for digits in range(6, 18):
        a, b = f"{got:.{digits}g}", f"{expected:.{digits}g}"
        if a != b:
            break
    return a, b


def as_loss(value, fn_name):
    if isinstance(value, torch.Tensor) and value.requires_grad:
        fail(tr(f"{fn_name} returned a tensor that still holds its graph: return a Python float "
                "(accumulate loss.item(), not loss)",
                f"{fn_name} trả về một tensor vẫn giữ đồ thị tính toán: hãy trả về số thực Python "
                "(cộng dồn loss.item(), không phải loss)"))
    return to_float(value, f"the value returned by {fn_name}")


def check_history(history, epochs):
    if not isinstance(history, dict) or not {"train_loss", "val_acc"} <= set(history):
        fail(tr("fit should return a dict {'train_loss': [...], 'val_acc': [...]}, got "
                f"{type_name(history)}"
                + (f" with keys {sorted(history)}" if isinstance(history, dict) else ""),
                "fit phải trả về dict {'train_loss': [...], 'val_acc': [...]}, nhưng nhận được "
                f"{type_name(history)}"
                + (f" với các khoá {sorted(history)}" if isinstance(history, dict) else "")))
    for key in ("train_loss", "val_acc"):
        if not isinstance(history[key], (list, tuple, torch.Tensor)) and not hasattr(history[key], "shape"):
            fail(tr(f"history['{key}'] should be a list of numbers, one per epoch, got "
                    f"{type_name(history[key])}",
                    f"history['{key}'] phải là một danh sách số, mỗi epoch một số, nhưng nhận "
                    f"được {type_name(history[key])}"))
        values = list(history[key])
        if len(values) != epochs:
            fail(tr(f"fit(epochs={epochs}) returned {len(values)} values in history['{key}']: "
                    "one per epoch expected",
                    f"fit(epochs={epochs}) trả về {len(values)} giá trị trong history['{key}']: "
                    "cần đúng một giá trị cho mỗi epoch"))
        for value in values:
            number = as_loss(value, f"fit (history['{key}'])")
            if not math.isfinite(number) or (key == "val_acc" and not 0.0 <= number <= 1.0):
                fail(tr(f"history['{key}'] holds {number!r}: "
                        + ("accuracies are fractions in [0, 1]" if key == "val_acc" else
                           "losses must be finite numbers"),
                        f"history['{key}'] chứa {number!r}: "
                        + ("độ chính xác là tỉ lệ trong [0, 1]" if key == "val_acc" else
                           "giá trị mất mát phải là số hữu hạn")))
    return history


# --- LeNet5 ---------------------------------------------------------------------------

@pytest.mark.points(2)
def test_output_shape(lenet, th):
    model = build(lenet, th)
    for n in (1, 5, 8):
        out = run_forward(lenet, th, model, randn(n, 1, 28, 28))
        if tuple(out.shape) != (n, 10):
            fail(tr(f"LeNet5 maps an input of shape ({n}, 1, 28, 28) to shape {tuple(out.shape)}; "
                    f"expected ({n}, 10): one row of 10 logits per image"
                    + (" (did a squeeze() drop the batch axis?)" if n == 1 else ""),
                    f"LeNet5 biến đầu vào kích thước ({n}, 1, 28, 28) thành {tuple(out.shape)}; "
                    f"cần ({n}, 10): mỗi ảnh một hàng 10 logit"
                    + (" (squeeze() làm mất trục batch?)" if n == 1 else "")))
        if not torch.isfinite(out).all():
            fail(tr("LeNet5 returned nan or inf for a random input",
                    "LeNet5 trả về nan hoặc inf với một đầu vào ngẫu nhiên"))


@pytest.mark.points(2)
def test_parameter_count(lenet, th):
    model = build(lenet, th)
    total = count(th, model)
    if total == N_PARAMETERS:
        return
    found = th.layers(model)
    detail = ", ".join([f"Conv2d({m['in']}->{m['out']}): {m['params']}" for m in found["convs"]]
                       + [f"Linear({m['in']}->{m['out']}): {m['params']}" for m in found["linears"]])
    hints = {
        N_PARAMETERS - 144 * 120: tr(" The first linear layer has 256 inputs instead of 400: "
                                     "conv1 needs padding=2.",
                                     " Lớp tuyến tính đầu tiên có 256 đầu vào thay vì 400: "
                                     "conv1 cần padding=2."),
    }
    vi_total, vi_expected = f"{total:,}".replace(",", "."), f"{N_PARAMETERS:,}".replace(",", ".")
    fail(tr(f"LeNet5 has {total:,} parameters, expected {N_PARAMETERS:,} = 156 + 2,416 + 48,120 "
            f"+ 10,164 + 850.{hints.get(total, '')} Your layers: {detail or 'none'}.",
            f"LeNet5 có {vi_total} tham số, cần {vi_expected} = 156 + 2.416 + 48.120 "
            f"+ 10.164 + 850.{hints.get(total, '')} Các lớp của bạn: {detail or 'không có'}."))


@pytest.mark.points(2)
def test_layer_structure(lenet, th):
    found_layers = th.layers(build(lenet, th))
    convs, linears = found_layers["convs"], found_layers["linears"]
    got_convs = [(m["in"], m["out"], tuple(m["kernel"]), m["padding"]) for m in convs]
    got_linears = [(m["in"], m["out"]) for m in linears]
    if got_convs != CONV_SPECS or any(tuple(m["stride"]) != (1, 1) for m in convs):
        found = ", ".join(m["repr"] for m in convs) or tr("none", "không có")
        fail(tr("expected two convolutions, Conv2d(1, 6, kernel_size=5, padding=2) and "
                f"Conv2d(6, 16, kernel_size=5) (stride 1, no padding); found: {found}",
                "cần hai lớp tích chập, Conv2d(1, 6, kernel_size=5, padding=2) và "
                f"Conv2d(6, 16, kernel_size=5) (stride 1, không đệm); tìm thấy: {found}"))
    if got_linears != LINEAR_SPECS:
        found = ", ".join(m["repr"] for m in linears) or tr("none", "không có")
        fail(tr("expected three linear layers, Linear(400, 120), Linear(120, 84) and "
                f"Linear(84, 10); found: {found}",
                "cần ba lớp tuyến tính, Linear(400, 120), Linear(120, 84) và Linear(84, 10); "
                f"tìm thấy: {found}"))


def _contract_names(layers):
    """conv1, conv2, fc1, ... in call order (with the student's module name when it differs)."""
    names, counts = [], {"conv": 0, "linear": 0}
    for layer in layers:
        counts[layer["kind"]] += 1
        short = f"{'conv' if layer['kind'] == 'conv' else 'fc'}{counts[layer['kind']]}"
        names.append(short if layer["name"] == short else f"{short} ({layer['name']})")
    return names


def _passes_through(probe):
    """The next layer received the constant c unchanged (min and max both c)."""
    if probe is None:
        return False
    value, low, high = probe[0], probe[1], probe[2]
    return all(abs(got - value) <= PASS_THROUGH_RTOL * abs(value) for got in (low, high))


@pytest.mark.points(2)
def test_activation_after_each_layer(lenet, th):
    model = build(lenet, th)
    x = randn(2, 1, 28, 28)
    found = run_forward(lenet, th, model, x, lambda: th.between_layers(model, x, ACTIVATION_PROBES))
    layers, pairs = list(found["layers"]), list(found["pairs"])
    if len(layers) < 2:
        fail(tr(f"LeNet5's forward called {len(layers)} nn.Conv2d/nn.Linear module(s): the "
                "network needs its two convolutions and three linear layers, each called as a "
                "module (self.conv1(x), not self.conv1.forward(x))",
                f"forward của LeNet5 chỉ gọi {len(layers)} mô-đun nn.Conv2d/nn.Linear: mạng cần "
                "hai lớp tích chập và ba lớp tuyến tính, mỗi lớp được gọi như một mô-đun "
                "(self.conv1(x), không phải self.conv1.forward(x))"))
    names = _contract_names(layers)
    missing = [pair for pair in pairs if all(_passes_through(probe) for probe in pair["probes"])]
    if not missing:
        return
    after = [names[pair["from"]] for pair in missing]
    after = after[0] if len(after) == 1 else f"{', '.join(after[:-1])} and {after[-1]}"
    kinds = {layers[pair["from"]]["kind"] for pair in missing}
    if kinds == {"conv", "linear"}:
        why_en = ("the output of each reaches the next layer unchanged, through pooling and flatten "
                  "only (a constant c arrives as c), so the network is linear but for the pooling")
        why_vi = ("đầu ra của mỗi lớp tới lớp sau mà không đổi, chỉ qua lớp gộp và làm phẳng (hằng c "
                  "tới nơi vẫn là c), nên mạng là tuyến tính trừ lớp gộp")
    elif kinds == {"conv"}:
        why_en = ("the output of a convolution goes to pooling and on to the next layer unchanged "
                  "(a constant feature map c arrives as c), and pooling is no activation")
        why_vi = ("đầu ra của lớp tích chập đi thẳng vào lớp gộp rồi tới lớp sau mà không đổi "
                  "(một bản đồ đặc trưng hằng c tới nơi vẫn là c), và lớp gộp không phải hàm kích hoạt")
    else:
        why_en = ("the output of a layer reaches the next one unchanged (a constant c arrives as c), "
                  "so consecutive linear layers collapse into a single linear map")
        why_vi = ("đầu ra của một lớp tới lớp sau mà không đổi (hằng c tới nơi vẫn là c), nên các "
                  "lớp tuyến tính liên tiếp gộp lại thành một ánh xạ tuyến tính duy nhất")
    fail(tr(f"no activation after {after}: {why_en}; the contract puts an activation (F.relu, "
            "torch.tanh, nn.ReLU(), nn.Tanh(), ...) after every convolution and every hidden "
            "linear layer, before or after the pooling.",
            f"không có hàm kích hoạt sau {after}: {why_vi}; đặc tả yêu cầu một hàm kích hoạt "
            "(F.relu, torch.tanh, nn.ReLU(), nn.Tanh(), ...) sau mỗi lớp tích chập và mỗi lớp "
            "tuyến tính ẩn, trước hoặc sau lớp gộp."))


@pytest.mark.points(2)
def test_outputs_are_logits(lenet, th):
    model = build(lenet, th)
    th.set_mode(model, "eval")
    out = run_forward(lenet, th, model, randn(16, 1, 28, 28), grad=False).double()
    sums = out.sum(dim=1)
    lse = torch.logsumexp(out, dim=1)
    if bool(((out >= 0) & (out <= 1)).all()):
        fail(tr("every output of LeNet5 is in [0, 1] and "
                + ("each row sums to 1" if torch.allclose(sums, torch.ones_like(sums), atol=1e-4)
                   else "none is negative")
                + ": it returns probabilities (softmax or sigmoid at the end?). Return the "
                "logits: nn.CrossEntropyLoss applies log-softmax itself.",
                "mọi đầu ra của LeNet5 đều nằm trong [0, 1] và "
                + ("mỗi hàng có tổng bằng 1" if torch.allclose(sums, torch.ones_like(sums), atol=1e-4)
                   else "không có giá trị âm")
                + ": mạng trả về xác suất (softmax hoặc sigmoid ở cuối?). Hãy trả về logit: "
                "nn.CrossEntropyLoss tự áp dụng log-softmax."))
    if torch.allclose(lse, torch.zeros_like(lse), atol=1e-4):
        fail(tr("the outputs of LeNet5 are log-probabilities (log_softmax at the end: "
                "logsumexp of every row is 0). Return the logits of the last linear layer.",
                "đầu ra của LeNet5 là log-xác suất (log_softmax ở cuối: logsumexp của mọi hàng "
                "bằng 0). Hãy trả về logit của lớp tuyến tính cuối cùng."))


@pytest.mark.points(1)
@pytest.mark.hidden
def test_gradients_reach_every_parameter(lenet, th):
    model = build(lenet, th)
    x, weights = randn(6, 1, 28, 28), randn(6, 10)
    flow = run_forward(lenet, th, model, x, lambda: th.gradient_flow(model, x, weights))
    if "output" in flow:
        fail(tr(f"LeNet5 maps an input of shape (6, 1, 28, 28) to {flow['output']}; expected a "
                "tensor of shape (6, 10)",
                f"LeNet5 biến đầu vào kích thước (6, 1, 28, 28) thành {flow['output']}; cần một "
                "tensor kích thước (6, 10)"))
    frozen, missing = list(flow["frozen"]), list(flow["missing"])
    if frozen or missing:
        fail(tr(f"no gradient reaches {', '.join(frozen + missing)}: is every layer used in "
                "forward, and is the graph unbroken (no .detach(), .item(), numpy or "
                "torch.no_grad() inside forward, no requires_grad=False)?",
                f"không có gradient nào tới {', '.join(frozen + missing)}: mọi lớp có được dùng "
                "trong forward không, và đồ thị có bị cắt không (.detach(), .item(), numpy hay "
                "torch.no_grad() trong forward, requires_grad=False)?"))


# --- train_one_epoch ------------------------------------------------------------------

@pytest.mark.points(2)
def test_train_one_epoch_zeroes_gradients(lenet, th):
    model = th.Probe()
    x, y = random_batch(8)
    reference = reference_probe(th, model)
    nn.CrossEntropyLoss()(reference(x), y).backward()
    expected = [p.grad for p in reference.parameters()]
    # Two identical batches and lr = 0: the parameters never move, so the gradient at
    # each step must be that of one batch.
    optimizer = th.spy_sgd(model, lr=0.0)
    lenet.train_one_epoch(model, th.loader_of(torch.cat([x, x]), torch.cat([y, y]), 8), optimizer,
                          th.cross_entropy(), device="cpu")
    grads_at_step = th.grads_at_step(optimizer)
    if len(grads_at_step) != 2:
        fail(tr(f"train_one_epoch called optimizer.step() {len(grads_at_step)} times for "
                "a loader of 2 batches: one step per batch expected",
                f"train_one_epoch gọi optimizer.step() {len(grads_at_step)} lần với "
                "loader 2 batch: cần đúng một bước cho mỗi batch"))
    for step, grads in enumerate(grads_at_step, start=1):
        for got, want in zip(grads, expected):
            if got is not None and torch.allclose(got, want, rtol=GRAD_RTOL, atol=GRAD_ATOL):
                continue
            if got is None or not bool(got.abs().gt(0).any()):
                fail(tr(f"the gradients are zero when optimizer.step() is called (step {step}): "
                        "call optimizer.zero_grad() before loss.backward(), not between "
                        "backward() and step()",
                        f"gradient bằng 0 khi gọi optimizer.step() (bước {step}): hãy gọi "
                        "optimizer.zero_grad() trước loss.backward(), không phải giữa backward() "
                        "và step()"))
            if torch.allclose(got, step * want, rtol=GRAD_RTOL, atol=GRAD_ATOL):
                fail(tr(f"at step {step} the gradients are {step} times those of one batch: "
                        "they accumulate across batches. Call optimizer.zero_grad() in every "
                        "iteration, before loss.backward().",
                        f"ở bước {step}, gradient bằng {step} lần gradient của một batch: chúng "
                        "bị cộng dồn qua các batch. Hãy gọi optimizer.zero_grad() ở mỗi vòng "
                        "lặp, trước loss.backward()."))
            fail(tr(f"at step {step} the gradients differ from those of the batch's loss "
                    f"(max difference {float((got - want).abs().max()):.3g}): compute "
                    "loss_fn(model(images), labels), call backward() once, then step()",
                    f"ở bước {step}, gradient khác gradient của hàm mất mát trên batch (chênh "
                    f"lệch lớn nhất {float((got - want).abs().max()):.3g}): hãy tính "
                    "loss_fn(model(images), labels), gọi backward() một lần, rồi step()"))


@pytest.mark.points(1)
def test_train_one_epoch_steps_once_per_batch(lenet, th):
    model = th.Probe()
    x, y = random_batch(12)
    before = th.parameters(model)
    optimizer = th.spy_sgd(model, lr=0.1)
    lenet.train_one_epoch(model, th.loader_of(x, y, 5), optimizer, th.cross_entropy(), device="cpu")
    steps = len(th.grads_at_step(optimizer))
    if steps != 3:
        fail(tr(f"train_one_epoch called optimizer.step() {steps} times for a loader of 3 batches: "
                "one step per batch expected"
                + (" (the parameters are never updated without optimizer.step())" if steps == 0 else ""),
                f"train_one_epoch gọi optimizer.step() {steps} lần với loader 3 batch: cần đúng "
                "một bước cho mỗi batch"
                + (" (thiếu optimizer.step() thì tham số không bao giờ được cập nhật)" if steps == 0 else "")))
    if all(torch.equal(a, b) for a, b in zip(before, th.parameters(model))):
        fail(tr("the parameters did not change: the optimizer must update the model it was given",
                "tham số không thay đổi: bộ tối ưu phải cập nhật đúng mô hình được truyền vào"))


@pytest.mark.points(1)
def test_train_one_epoch_training_mode(lenet, th):
    model = th.Probe()
    th.set_mode(model, "eval")  # as evaluate() may have left it
    x, y = random_batch(10)
    lenet.train_one_epoch(model, th.loader_of(x, y, 4), th.spy_sgd(model, lr=0.01),
                          th.cross_entropy(), device="cpu")
    calls = th.calls(model)
    if not calls:
        fail(tr("train_one_epoch never called the model", "train_one_epoch không hề gọi mô hình"))
    if not all(training for training, _, _ in calls):
        fail(tr("train_one_epoch ran the model in eval mode: call model.train() at the start "
                "(evaluate() switches the model to eval mode)",
                "train_one_epoch chạy mô hình ở chế độ đánh giá: hãy gọi model.train() ở đầu hàm "
                "(evaluate() chuyển mô hình sang chế độ đánh giá)"))
    if not all(grad for _, grad, _ in calls):
        fail(tr("train_one_epoch ran the model with autograd off (torch.no_grad()): training "
                "needs the graph",
                "train_one_epoch chạy mô hình khi tắt autograd (torch.no_grad()): huấn luyện "
                "cần đồ thị tính toán"))


@pytest.mark.points(2)
def test_train_one_epoch_returns_mean_loss(lenet, th):
    model = th.Probe()
    x, y = random_batch(12)
    reference = reference_probe(th, model)
    with torch.no_grad():
        losses = [float(F.cross_entropy(reference(x[i:i + 5]), y[i:i + 5])) for i in (0, 5, 10)]
    sizes = [5, 5, 2]
    mean = sum(losses) / 3
    weighted = sum(l * n for l, n in zip(losses, sizes)) / 12
    result = lenet.train_one_epoch(model, th.loader_of(x, y, 5), th.spy_sgd(model, lr=0.0),
                                   th.cross_entropy(), device="cpu")
    got = as_loss(result, "train_one_epoch")
    if any(math.isclose(got, want, rel_tol=LOSS_RTOL, abs_tol=LOSS_ATOL) for want in (mean, weighted)):
        return
    mistakes = [
        (sum(losses), tr("the sum of the batch losses: divide by the number of batches",
                         "tổng giá trị mất mát của các batch: hãy chia cho số batch")),
        (losses[-1], tr("the loss of the last batch only: average over all batches",
                        "giá trị mất mát của batch cuối cùng: hãy lấy trung bình trên mọi batch")),
        (weighted * 12, tr("the sum of loss * batch size: divide by the number of examples",
                           "tổng loss * kích thước batch: hãy chia cho số mẫu")),
        (sum(losses) / 12, tr("the sum of the batch losses divided by the number of examples: "
                              "each batch loss is already a mean",
                              "tổng mất mát các batch chia cho số mẫu: mỗi giá trị mất mát của "
                              "batch đã là trung bình rồi")),
    ]
    hint = next((text for value, text in mistakes
                 if math.isclose(got, value, rel_tol=LOSS_RTOL, abs_tol=LOSS_ATOL)), "")
    fail(tr(f"train_one_epoch returned {got:.6g}; the mean of the batch losses is {mean:.6g} "
            f"(weighted by batch size: {weighted:.6g})" + (f". It looks like {hint}." if hint else ""),
            f"train_one_epoch trả về {got:.6g}; trung bình giá trị mất mát các batch là {mean:.6g} "
            f"(có trọng số theo kích thước batch: {weighted:.6g})"
            + (f". Có vẻ đó là {hint}." if hint else "")))


# --- evaluate -------------------------------------------------------------------------

@pytest.mark.points(2)
def test_evaluate_eval_mode_no_grad(lenet, th):
    model = th.Probe()
    th.set_mode(model, "train")  # as train_one_epoch leaves it
    x, y = random_batch(10)
    as_loss(lenet.evaluate(model, th.loader_of(x, y, 4), device="cpu"), "evaluate")
    calls = th.calls(model)
    if not calls:
        fail(tr("evaluate never called the model", "evaluate không hề gọi mô hình"))
    if any(training for training, _, _ in calls):
        fail(tr("evaluate ran the model in training mode: call model.eval() first",
                "evaluate chạy mô hình ở chế độ huấn luyện: hãy gọi model.eval() trước"))
    if any(grad for _, grad, _ in calls):
        fail(tr("evaluate built a computation graph: run the forward passes inside "
                "`with torch.no_grad():`",
                "evaluate xây dựng đồ thị tính toán: hãy chạy lan truyền xuôi bên trong "
                "`with torch.no_grad():`"))


@pytest.mark.points(2)
def test_evaluate_accuracy(lenet, th):
    # 12 images in batches of 5, 5, 2; the predictions are right for 5 + 1 + 1 of them.
    right = torch.tensor([1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 0], dtype=torch.bool)
    x = randn(12, 1, 28, 28)
    predicted = x.flatten(1)[:, :10].argmax(dim=1)
    y = torch.where(right, predicted, (predicted + 1 + torch.randint(0, 9, (12,), generator=DATA)) % 10)
    model = th.FirstPixels()
    got = as_loss(lenet.evaluate(model, th.loader_of(x, y, 5), device="cpu"), "evaluate")
    expected = 7 / 12
    if math.isclose(got, expected, abs_tol=ACC_ATOL):
        return
    mistakes = [
        (7.0, tr("the number of correct predictions: divide by the number of examples",
                 "số dự đoán đúng: hãy chia cho số mẫu")),
        (100 * expected, tr("a percentage: return a fraction in [0, 1]",
                            "một tỉ lệ phần trăm: hãy trả về tỉ lệ trong [0, 1]")),
        ((1 + 0.2 + 0.5) / 3, tr("the mean of the batch accuracies: the last batch is smaller, "
                                 "so count correct predictions and examples over the whole loader",
                                 "trung bình độ chính xác của các batch: batch cuối nhỏ hơn, nên "
                                 "hãy đếm số dự đoán đúng và số mẫu trên toàn bộ loader")),
        (7 / 15, tr("divided by (number of batches x batch size): the last batch is smaller",
                    "chia cho (số batch x kích thước batch): batch cuối nhỏ hơn")),
        (7 / 3, tr("divided by the number of batches: divide by the number of examples",
                   "chia cho số batch: hãy chia cho số mẫu")),
    ]
    hint = next((text for value, text in mistakes if math.isclose(got, value, abs_tol=ACC_ATOL)), "")
    shown_got, shown_expected = distinct(got, expected)
    fail(tr(f"evaluate returned {shown_got} for a model that is right on 7 of 12 examples, whose "
            f"accuracy is 7/12 = {shown_expected} (tolerance {ACC_ATOL:g})"
            + (f"; it looks like {hint}." if hint else "."),
            f"evaluate trả về {shown_got} cho một mô hình đúng 7 trên 12 mẫu, có độ chính xác "
            f"7/12 = {shown_expected} (sai số cho phép {ACC_ATOL:g})"
            + (f"; có vẻ đó là {hint}." if hint else ".")))


# --- fit ------------------------------------------------------------------------------

@pytest.mark.points(2)
def test_fit_runs_exactly_epochs(lenet, th):
    x, y = random_batch(12)
    for epochs in (2, 3):
        model = th.Probe()
        before = th.parameters(model)
        # train: 3 batches of 4; validation: 2 batches of 3, told apart by their size
        history = lenet.fit(model, th.loader_of(x, y, 4), th.loader_of(x[:6], y[:6], 3),
                            epochs=epochs, lr=1e-3, device="cpu")
        passes = training_passes(th, model, 4, 3)
        if passes != epochs:
            fail(tr(f"fit(epochs={epochs}) ran {passes:g} training passes over train_loader: "
                    f"exactly {epochs} expected",
                    f"fit(epochs={epochs}) chạy {passes:g} lượt huấn luyện qua train_loader: "
                    f"cần đúng {epochs}"))
        check_history(history, epochs)
        if all(torch.equal(a, b) for a, b in zip(before, th.parameters(model))):
            fail(tr("fit did not change the parameters of the model it was given",
                    "fit không thay đổi tham số của mô hình được truyền vào"))


@pytest.mark.points(2)
def test_fit_adam_learning_rate(lenet, th):
    x, y = random_batch(8, scale=0.1)  # small gradients: plain SGD would move far less than lr
    for lr in (1e-2, 3e-4):
        model = th.Probe()
        before = th.parameters(model)
        lenet.fit(model, th.loader_of(x, y, 8), th.loader_of(x, y, 8), epochs=1, lr=lr,
                  device="cpu")
        moves = torch.cat([(p - b).abs().flatten() for p, b in zip(th.parameters(model), before)])
        largest = float(moves.max())
        # Adam's first step: lr for every entry with a gradient, 0 for an entry without one.
        at_lr = (moves - lr).abs() <= ADAM_STEP_RTOL * lr
        still = moves <= ADAM_STEP_RTOL * lr
        if bool(at_lr.any()) and bool((at_lr | still).all()):
            continue
        ratio = largest / lr
        if largest == 0.0:
            hint = tr(" No parameter changed: fit must train the model it is given.",
                      " Không tham số nào thay đổi: fit phải huấn luyện chính mô hình được truyền vào.")
        elif math.isclose(largest, 1e-3, rel_tol=ADAM_STEP_RTOL):
            hint = tr(" It looks like the learning rate is fixed at 1e-3: pass lr to the optimizer.",
                      " Có vẻ tốc độ học bị cố định ở 1e-3: hãy truyền lr cho bộ tối ưu.")
        elif ratio > 1.5 and abs(ratio - round(ratio)) < 0.05:
            hint = tr(f" That is {round(ratio)} steps of size lr: with epochs=1 and one batch, fit "
                      "should make exactly one step.",
                      f" Đó là {round(ratio)} bước cỡ lr: với epochs=1 và một batch, fit chỉ được "
                      "thực hiện đúng một bước.")
        else:
            hint = tr(" The changes differ from parameter to parameter, while Adam's first step has "
                      "the same size for all: is the optimizer torch.optim.Adam?",
                      " Mức thay đổi khác nhau giữa các tham số, trong khi bước đầu tiên của Adam có "
                      "cùng độ lớn với mọi tham số: bộ tối ưu có phải torch.optim.Adam không?")
        fail(tr(f"with fit(epochs=1, lr={lr:g}) and one batch, Adam's single step moves every "
                f"parameter by lr * g / |g|, i.e. by lr = {lr:g} (or 0 where g = 0); the "
                f"parameters moved by up to {largest:.3g} (median {float(moves.median()):.3g})."
                f"{hint}",
                f"với fit(epochs=1, lr={lr:g}) và một batch, bước duy nhất của Adam dịch chuyển mỗi "
                f"tham số một lượng lr * g / |g|, tức là lr = {lr:g} (hoặc 0 nơi g = 0); tham số "
                f"đã thay đổi tới {largest:.3g} (trung vị {float(moves.median()):.3g}).{hint}"))


def without_defaults(call, what, signature):
    """call(), reporting a TypeError about the arguments as a missing default."""
    try:
        return call()
    except TypeError as exc:
        if "argument" not in str(exc):
            raise
        fail(tr(f"{what} raised TypeError ({exc}): the contract's signature is {signature}, so "
                "the arguments with a default may be left out",
                f"{what} gây lỗi TypeError ({exc}): chữ ký trong đặc tả là {signature}, nên có "
                "thể bỏ qua các tham số có giá trị mặc định"))


def training_passes(th, model, batch_size, batches):
    """How many training passes a spy model made over a loader of ``batches`` batches of
    ``batch_size`` (its forward passes with autograd on, on batches of that size)."""
    return sum(grad and size == batch_size for _, grad, size in th.calls(model)) / batches


@pytest.mark.points(1)
def test_signature_defaults(lenet, th):
    x, y = random_batch(12)
    model = th.Probe()
    without_defaults(lambda: lenet.train_one_epoch(model, th.loader_of(x, y, 4), th.spy_sgd(model, lr=0.0),
                                                   th.cross_entropy()),
                     "train_one_epoch(model, loader, optimizer, loss_fn)",
                     'train_one_epoch(model, loader, optimizer, loss_fn, device="cpu")')
    without_defaults(lambda: lenet.evaluate(model, th.loader_of(x, y, 4)),
                     "evaluate(model, loader)", 'evaluate(model, loader, device="cpu")')
    signature = 'fit(model, train_loader, val_loader, epochs=10, lr=1e-3, device="cpu")'

    # epochs: fit with every default against fit with the contract's values spelt out, on
    # copies of one model (train: 3 batches of 4; validation: 2 batches of 3)
    default = th.Probe()
    explicit = th.copy_of_probe(default)
    train, val = th.loader_of(x, y, 4), th.loader_of(x[:6], y[:6], 3)
    without_defaults(lambda: lenet.fit(default, train, val), "fit(model, train_loader, val_loader)",
                     signature)
    lenet.fit(explicit, train, val, epochs=DEFAULT_EPOCHS, lr=DEFAULT_LR, device="cpu")
    got, want = training_passes(th, default, 4, 3), training_passes(th, explicit, 4, 3)
    if got != want:
        fail(tr(f"fit(model, train_loader, val_loader) made {got:g} training pass(es) over "
                f"train_loader and fit(..., epochs={DEFAULT_EPOCHS}) {want:g}: the default number "
                f"of epochs must be {DEFAULT_EPOCHS}, as in {signature}",
                f"fit(model, train_loader, val_loader) chạy {got:g} lượt huấn luyện qua train_loader "
                f"còn fit(..., epochs={DEFAULT_EPOCHS}) chạy {want:g}: số epoch mặc định phải là "
                f"{DEFAULT_EPOCHS}, như trong {signature}"))

    # lr: one epoch of one batch, i.e. one optimizer step, with lr left out and with lr=1e-3
    x, y = random_batch(8)
    default = th.Probe()
    explicit = th.copy_of_probe(default)
    before = th.parameters(default)
    lenet.fit(default, th.loader_of(x, y, 8), th.loader_of(x, y, 8), epochs=1, device="cpu")
    lenet.fit(explicit, th.loader_of(x, y, 8), th.loader_of(x, y, 8), epochs=1, lr=DEFAULT_LR,
              device="cpu")
    got = torch.cat([(p - b).flatten() for p, b in zip(th.parameters(default), before)])
    want = torch.cat([(p - b).flatten() for p, b in zip(th.parameters(explicit), before)])
    if torch.allclose(got, want, rtol=0.0, atol=SAME_RUN_ATOL):
        return
    ratio = float(got.abs().max()) / max(float(want.abs().max()), 1e-30)
    fail(tr(f"one step of fit(..., epochs=1) without lr moved the parameters by up to "
            f"{float(got.abs().max()):.3g}, with lr=1e-3 by up to {float(want.abs().max()):.3g} "
            f"({ratio:.3g} times as far): the default learning rate must be lr=1e-3, as in "
            f"{signature}",
            f"một bước của fit(..., epochs=1) khi không truyền lr dịch chuyển tham số tới "
            f"{float(got.abs().max()):.3g}, với lr=1e-3 là tới {float(want.abs().max()):.3g} "
            f"(gấp {ratio:.3g} lần): tốc độ học mặc định phải là lr=1e-3, như trong "
            f"{signature}"))


@pytest.mark.points(1)
@pytest.mark.hidden
def test_fit_uses_cross_entropy(lenet, th):
    x, y = random_batch(8)
    model = th.Probe()
    with torch.no_grad():
        logits = reference_probe(th, model)(x)
    expected = float(F.cross_entropy(logits, y))
    history = check_history(lenet.fit(model, th.loader_of(x, y, 8), th.loader_of(x, y, 8), epochs=1,
                                      lr=1e-3, device="cpu"), 1)
    got = as_loss(history["train_loss"][0], "fit (history['train_loss'])")
    if math.isclose(got, expected, rel_tol=LOSS_RTOL, abs_tol=LOSS_ATOL):
        return
    hint = ""
    if math.isclose(got, float(F.nll_loss(logits, y)), rel_tol=LOSS_RTOL, abs_tol=LOSS_ATOL):
        hint = tr(" That is nn.NLLLoss on logits: use nn.CrossEntropyLoss.",
                  " Đó là nn.NLLLoss trên logit: hãy dùng nn.CrossEntropyLoss.")
    fail(tr(f"with one batch, history['train_loss'][0] should be the cross-entropy of the "
            f"untrained model on it, {expected:.6g}; got {got:.6g}.{hint}",
            f"với một batch, history['train_loss'][0] phải là entropy chéo của mô hình chưa huấn "
            f"luyện trên batch đó, {expected:.6g}; nhận được {got:.6g}.{hint}"))


# --- the bar --------------------------------------------------------------------------

@pytest.mark.points(6)
@pytest.mark.time_limit(900)
def test_accuracy_digits(lenet, th):
    split = load_dataset("digits")
    x_train, y_train = torch.tensor(split.x_train), torch.tensor(split.y_train)
    x_test, y_test = torch.tensor(split.x_test), torch.tensor(split.y_test)
    accuracies = {}
    for seed in SEEDS:
        torch.manual_seed(seed)
        th.manual_seed(seed)
        # the loaders of get_loaders("digits", batch_size=BATCH, seed=seed), built where fit
        # runs; validation on training images, the held-out ones come after training
        train_loader = th.loader_of(x_train, y_train, BATCH, shuffle=True, seed=seed)
        val_loader = th.loader_of(x_train[:VAL_IMAGES], y_train[:VAL_IMAGES], EVAL_BATCH)
        model = build(lenet, th)
        lenet.fit(model, train_loader, val_loader, epochs=EPOCHS, lr=LR, device="cpu")
        accuracies[seed] = held_out_accuracy(lenet, th, model, x_test, y_test)
    median, worst = statistics.median(accuracies.values()), min(accuracies.values())
    if median >= MEDIAN_BAR and worst >= MIN_BAR:
        return
    shown = ", ".join(f"seed {seed}: {100 * acc:.1f}%" for seed, acc in accuracies.items())
    fail(tr(f"after fit(epochs={EPOCHS}, lr={LR:g}) on the digits (batch {BATCH}), the held-out "
            f"accuracy is {shown}; the bar is a median of at least {100 * MEDIAN_BAR:.0f}% and "
            f"none below {100 * MIN_BAR:.0f}%. Check the architecture, the training loop and "
            "that forward returns logits.",
            f"sau fit(epochs={EPOCHS}, lr={LR:g}) trên tập chữ số (batch {BATCH}), độ chính xác "
            f"trên tập kiểm tra là {shown}; yêu cầu trung vị ít nhất {100 * MEDIAN_BAR:.0f}% và "
            f"không lần nào dưới {100 * MIN_BAR:.0f}%. Hãy kiểm tra kiến trúc, vòng lặp huấn "
            "luyện và việc forward trả về logit."))


@pytest.mark.points(4)
@pytest.mark.needs_mnist
@pytest.mark.time_limit(1800)
def test_accuracy_mnist(lenet, th, mnist_split):
    x_train, y_train = torch.tensor(mnist_split.x_train), torch.tensor(mnist_split.y_train)
    torch.manual_seed(MNIST_SEED)
    th.manual_seed(MNIST_SEED)
    train_loader = th.loader_of(x_train, y_train, MNIST_BATCH, shuffle=True, seed=MNIST_SEED)
    val_loader = th.loader_of(x_train[:EVAL_BATCH], y_train[:EVAL_BATCH], EVAL_BATCH)
    model = build(lenet, th)
    lenet.fit(model, train_loader, val_loader, epochs=MNIST_EPOCHS, lr=MNIST_LR, device="cpu")
    acc = held_out_accuracy(lenet, th, model, torch.tensor(mnist_split.x_test),
                            torch.tensor(mnist_split.y_test))
    if acc < MNIST_BAR:
        fail(tr(f"after fit(epochs={MNIST_EPOCHS}, lr={MNIST_LR:g}) on MNIST (batch {MNIST_BATCH}, "
                f"seed {MNIST_SEED}), the test accuracy is {100 * acc:.2f}%; at least "
                f"{100 * MNIST_BAR:.0f}% expected",
                f"sau fit(epochs={MNIST_EPOCHS}, lr={MNIST_LR:g}) trên MNIST (batch {MNIST_BATCH}, "
                f"seed {MNIST_SEED}), độ chính xác trên tập kiểm tra là {100 * acc:.2f}%; cần ít "
                f"nhất {100 * MNIST_BAR:.0f}%"))
