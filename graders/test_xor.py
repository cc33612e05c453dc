"""Grader of exercise 4, ``xor``: a 2 -> H -> 1 network trained on XOR with numpy.

Contract: docs/contract.md, section 4 (its clauses and the tests that check them).

What is graded (25 points, of which 4 in hidden tests that are not described here):

- ``init_params`` (3): shapes for several H; same seed same params, other seed other params;
  no two hidden units start identical (symmetry broken).
- ``forward`` (3): probs of shape (N, 1) in [0, 1], also for huge pre-activations; the values of
  sigmoid(act(X W1 + b1) W2 + b2) with act = tanh or sigmoid (the student's choice).
- ``bce_loss`` (2): a hand-computed value and random ones; finite for probs exactly 0 or 1.
- ``backward`` (4 + hidden): every gradient against the graders' own centred
  differences of the mean BCE of the student's ``forward``.
- ``predict`` (2): integer array (N, 1), 1 where prob > 0.5 (1); 0 where the student's own
  ``forward`` gives a probability of exactly 0.5 (W2 and b2 zero, or z = h1 - h2 with h1 == h2),
  so ``>= 0.5`` and rounding 0.5 up lose this point (1). Any integer dtype is accepted; bool and
  float arrays are not (the contract says "int array": ``.astype(int)``).
- ``train`` (3 + hidden): one loss per epoch; the params are those of gradient descent
  with the student's own init_params/forward/backward.
- The bar (4): with the student's own defaults, ``train(XOR_X, XOR_Y, seed=s)`` reaches 100%
  accuracy and a loss below 0.05 for at least 9 of the seeds 0-9.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from autograder.grading.checks import (
    GradingFailure,
    Inputs,
    Mistake,
    check_close,
    check_shape,
    fail,
    to_array,
    to_float,
    unpack,
)
from autograder.grading.messages import tr
from autograder.grading.numgrad import numerical_gradient

# Time limit of each test (unless it says otherwise): the reference's tests take ~0.01 s
# except the bar (2 s, 10 trainings; it has its own BAR_TIME_LIMIT); an endless loop costs
# 10 s once
pytestmark = pytest.mark.time_limit(10)

# Centred differences of a float64 loss of size ~1 with h = 1e-6 are accurate to ~1e-10; correct
# gradients (~1e-3 .. 1) agree far inside these tolerances, a missing factor or term does not.
NUMGRAD_H = 1e-6
GRAD_RTOL = 1e-5
# float32 inside (eps32 = 2**-24 ~ 6e-8 per operation): each gradient is a mean over N of
# (probs - Y) times factors |h| <= 1 or |W2 * X| <~ 6, and probs carries the forward's float32
# error |d probs| <= probs (1 - probs) |dz| (dz: below). Entries far smaller than their terms
# (b2 = mean(probs - Y) ~ 7e-5 when the terms cancel) get no help from GRAD_RTOL: measured over
# 1600 float32 checks (tests/test_float32.py variants) up to 1.4e-7 absolute, so 1e-6 (was 1e-8,
# which failed ~1% of float32 checks). Every backward mistake of tests/test_variants_xor.py
# still fails with it (its errors are of the size of the gradients, >= 1e-4).
GRAD_ATOL = 1e-6
# forward / bce_loss are compared with the grader's own float64 formulas.
# float32 inside: a = X @ W1 + b1 (3 terms, |a| <~ 5) is off by <= 3 eps32 * 5 ~ 1e-6, tanh keeps
# that, and z = h @ W2 + b2 sums H + 1 <= 6 terms with |W2| <~ 3: |dz| <~ 5 * 3 * 1e-6 = 1.5e-5
# at worst (random signs: ~3e-6 typically). The relative error of probs = sigmoid(z) is
# (1 - probs) |dz| <= |dz|: measured up to 8.9e-6 over 2400 float32 forwards, so FORWARD_RTOL
# 3e-5 (was 1e-6, which failed ~2% of float32 forwards here and, in _loss_function, made the
# float32 forward be differentiated itself, off by eps32 / h ~ 0.1). Every forward mistake
# (no sigmoid, 1 - sigmoid, no/ReLU hidden activation) is off by >= 1e-2.
FORWARD_RTOL = 3e-5
FORWARD_ATOL = 1e-8
LOSS_RTOL = 1e-6
LOSS_ATOL = 1e-9
# train vs the same updates done by hand with the student's own functions: identical arithmetic
# up to rounding order in float64. A train computing in float32 keeps float32 params, rounded
# after each update (<= 2**-24 relative each, 3 epochs here: 1.8e-7) where the grader's hand
# updates are float64: TRAIN_RTOL 1e-6 (was 1e-7: off by 1.07e-7 for the float32 reference);
# and its gradients, of params one rounding apart, differ by up to ~1.4e-7 absolute (GRAD_ATOL
# above), times lr <= 0.5 over 3 epochs: TRAIN_ATOL 2e-7 (was 1e-10; measured need 4e-8 at
# TRAIN_RTOL). Every train mistake (no update, ascent, another seed / n_hidden / data) moves
# the params by lr * grads >= 1e-3.
TRAIN_RTOL = 1e-6
TRAIN_ATOL = 2e-7
# bce_loss for probs exactly 0/1: a clipped "very wrong" prediction must still cost a lot
# (-log(eps)/2 >= 2 for any eps <= 0.01), a right one almost nothing.
BCE_WRONG_MIN = 2.0
BCE_RIGHT_MAX = 1e-3  # |loss| (log(p + eps) forms may give -1e-9)
# The bar (spec): 100% accuracy and loss < 0.05 for at least 9 of the seeds 0-9.
BAR_SEEDS = tuple(range(10))
BAR_MIN_PASSING = 9
BAR_MAX_LOSS = 0.05
BAR_TIME_LIMIT = 120  # seconds; the reference needs 2-4 s for the 10 runs (slow loops: x10)
KEYS = ("W1", "b1", "W2", "b2")

XOR_X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
XOR_Y = np.array([[0.0], [1.0], [1.0], [0.0]])


@pytest.fixture
def xor(impl):
    return impl.exercise("xor")


# --- the graders' own maths --------------------------------------------------------------

def _sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def _bce(probs, Y):
    p = np.clip(np.asarray(probs, dtype=np.float64), 1e-15, 1.0 - 1e-15)
    return float(-np.mean(Y * np.log(p) + (1.0 - Y) * np.log(1.0 - p)))


def _shapes(H):
    return {"W1": (2, H), "b1": (H,), "W2": (H, 1), "b2": (1,)}


def _random_params(rng, H, scale=1.0):
    return {"W1": scale * rng.standard_normal((2, H)), "b1": 0.5 * scale * rng.standard_normal(H),
            "W2": scale * rng.standard_normal((H, 1)), "b2": 0.5 * scale * rng.standard_normal(1)}


def _random_batch(rng, N):
    X = rng.standard_normal((N, 2))
    Y = np.zeros((N, 1))
    Y[rng.permutation(N)[: N // 2]] = 1.0  # both classes present
    return X, Y


def _param_dict(value, H, name):
    """Check a dict of the four parameters with the shapes of H hidden units; float64 copies."""
    if not isinstance(value, dict):
        fail(tr(f"{name} should be a dict with keys W1, b1, W2, b2, got {type(value).__name__}",
                f"{name} phải là dict có các khóa W1, b1, W2, b2, nhưng nhận được {type(value).__name__}"))
    missing = [key for key in KEYS if key not in value]
    if missing:
        fail(tr(f"{name} has no key {', '.join(missing)} (keys: W1, b1, W2, b2)",
                f"{name} thiếu khóa {', '.join(missing)} (các khóa: W1, b1, W2, b2)"))
    out = {}
    for key, shape in _shapes(H).items():
        array = to_array(value[key], f"{name}['{key}']")
        if name == "grads" and key.startswith("b") and array.ndim == 2 and array.shape[1:] == shape:
            fail(tr(f"{name}['{key}'] has shape {array.shape} but should have shape {shape}: "
                    "a bias gradient is summed over the examples (axis 0)",
                    f"{name}['{key}'] có kích thước {array.shape} nhưng phải là {shape}: gradient của "
                    "bias phải được cộng theo các mẫu (trục 0)"))
        check_shape(array, shape, f"{name}['{key}']")
        out[key] = array.copy()
    return out


def _forward(xor, params, X):
    """The student's forward: probs as a checked (N, 1) float64 array, and the cache."""
    probs, cache = unpack(xor.forward(params, X), ("probs", "cache"), "forward")
    probs = to_array(probs, "probs")
    check_shape(probs, (X.shape[0], 1), "probs")  # one probability per example
    return probs, cache


def _loss_of(xor, params, X, Y):
    """The true mean BCE of the student's forward at params (the graders' own BCE)."""
    return _bce(_forward(xor, params, X)[0], Y)


ACTIVATIONS = {"tanh": np.tanh, "sigmoid": _sigmoid}


def _reference_probs(params, X, act):
    """The graders' own float64 forward with hidden activation ``act`` ("tanh" or "sigmoid")."""
    return _sigmoid(ACTIVATIONS[act](X @ params["W1"] + params["b1"]) @ params["W2"] + params["b2"])


def _loss_function(xor, params, X, Y, probs):
    """loss(params) to differentiate numerically: the graders' own float64 forward with the
    student's hidden activation when their forward matches one (so that a forward computed in
    float32 inside is differentiated exactly), else the student's forward itself."""
    for act in ACTIVATIONS:
        if np.allclose(probs, _reference_probs(params, X, act), rtol=FORWARD_RTOL, atol=FORWARD_ATOL):
            return lambda p: _bce(_reference_probs(p, X, act), Y)
    return lambda p: _loss_of(xor, p, X, Y)


def _check_grads(xor, params, X, Y):
    """backward(params, cache, Y) against centred differences of _bce(forward(.)[0], Y)."""
    H = params["W1"].shape[1]
    N = X.shape[0]
    inputs = Inputs(X=X, Y=Y, **params)
    probs, cache = _forward(xor, params, X)
    if not (np.all(np.isfinite(probs)) and np.all((probs >= 0) & (probs <= 1))):
        fail(tr("backward is checked against forward, but forward does not return probabilities in "
                "[0, 1] yet: fix forward first (test_forward_values)",
                "backward được kiểm tra dựa trên forward, nhưng forward chưa trả về xác suất trong "
                "[0, 1]: hãy sửa forward trước (test_forward_values)"))
    grads = _param_dict(xor.backward(params, cache, Y), H, "grads")
    inputs.check_unchanged("forward/backward")
    numeric = {}
    loss_of = _loss_function(xor, params, X, Y, probs)
    for key in KEYS:
        def loss(value, key=key):
            return loss_of({**params, key: value})
        numeric[key] = numerical_gradient(loss, params[key], NUMGRAD_H)
    hidden_hint = tr(
        " The output-layer gradients (W2, b2) are right, so look at the hidden layer: the derivative "
        "of tanh is 1 - h**2 with h = tanh(a) the hidden OUTPUT (sigmoid: h * (1 - h)), not a "
        "function of the pre-activation a = X @ W1 + b1.",
        " Gradient của lớp ra (W2, b2) đã đúng, vậy hãy xem lớp ẩn: đạo hàm của tanh là 1 - h**2 "
        "với h = tanh(a) là ĐẦU RA của lớp ẩn (sigmoid: h * (1 - h)), không phải hàm của giá trị "
        "trước kích hoạt a = X @ W1 + b1.")
    for key in ("b2", "W2", "b1", "W1"):  # output layer first: its errors explain the others
        mistakes = [
            Mistake(numeric[key] * N, tr(
                f"It is N = {N} times too large: the loss is a MEAN, so dz = (probs - Y) / N.",
                f"Nó lớn gấp N = {N} lần: hàm mất mát là TRUNG BÌNH nên dz = (probs - Y) / N.")),
            Mistake(-numeric[key], tr(
                "It has the wrong sign: dz = probs - Y (divided by N), not Y - probs.",
                "Nó bị ngược dấu: dz = probs - Y (chia cho N), không phải Y - probs.")),
        ]
        _with_note(lambda: check_close(grads[key], numeric[key], f"grads['{key}']", rtol=GRAD_RTOL,
                                       atol=GRAD_ATOL, what=key, mistakes=mistakes),
                   hidden_hint if key in ("W1", "b1") else "")


def _with_note(check, note):
    """Run a check; if it fails, add ``note`` to its message."""
    try:
        check()
    except GradingFailure as exc:
        if not note:
            raise
        raise GradingFailure(str(exc).rstrip() + note) from None


# --- init_params -------------------------------------------------------------------------

@pytest.mark.points(1)
def test_init_params_shapes(xor):
    for H in (1, 3, 8):
        params = _param_dict(xor.init_params(n_hidden=H, seed=0), H, f"init_params(n_hidden={H})")
        for key, value in params.items():
            if not np.all(np.isfinite(value)):
                fail(tr(f"init_params(n_hidden={H})['{key}'] contains nan or inf",
                        f"init_params(n_hidden={H})['{key}'] chứa nan hoặc inf"))


@pytest.mark.points(1)
def test_init_params_seeded(xor):
    first = _param_dict(xor.init_params(n_hidden=5, seed=7), 5, "init_params(n_hidden=5, seed=7)")
    again = _param_dict(xor.init_params(n_hidden=5, seed=7), 5, "init_params(n_hidden=5, seed=7)")
    if not all(np.array_equal(first[key], again[key]) for key in KEYS):
        fail(tr("init_params(n_hidden=5, seed=7) gave different params on two calls: draw them "
                "with rng = np.random.default_rng(seed), not with np.random.* global functions",
                "init_params(n_hidden=5, seed=7) cho tham số khác nhau ở hai lần gọi: hãy lấy "
                "ngẫu nhiên bằng rng = np.random.default_rng(seed), không dùng các hàm np.random.* toàn cục"))
    other = _param_dict(xor.init_params(n_hidden=5, seed=8), 5, "init_params(n_hidden=5, seed=8)")
    if all(np.array_equal(first[key], other[key]) for key in KEYS):
        fail(tr("init_params gives the same params for seed=7 and seed=8: use the seed argument "
                "(np.random.default_rng(seed))",
                "init_params cho cùng tham số với seed=7 và seed=8: hãy dùng tham số seed "
                "(np.random.default_rng(seed))"))


@pytest.mark.points(1)
def test_init_params_breaks_symmetry(xor):
    H = 5
    for seed in (0, 1, 2):
        params = _param_dict(xor.init_params(n_hidden=H, seed=seed), H, f"init_params(n_hidden={H})")
        units = np.concatenate([params["W1"].T, params["b1"][:, None], params["W2"]], axis=1)  # (H, 4)
        for i in range(H):
            for j in range(i + 1, H):
                if np.allclose(units[i], units[j], rtol=0, atol=1e-12):
                    fail(tr(f"with seed={seed}, hidden units {i} and {j} start identical (same column of "
                            "W1, same b1, same row of W2): they would get the same gradients and stay "
                            "identical forever. Draw the weights at random to break the symmetry.",
                            f"với seed={seed}, nơ-ron ẩn {i} và {j} bắt đầu giống hệt nhau (cùng cột W1, "
                            "cùng b1, cùng hàng W2): chúng sẽ nhận cùng gradient và mãi giống nhau. Hãy "
                            "khởi tạo trọng số ngẫu nhiên để phá vỡ tính đối xứng."))


# --- forward -----------------------------------------------------------------------------

@pytest.mark.points(2)
def test_forward_values(xor, rng):
    for H, N in ((3, 7), (5, 4)):
        params = _random_params(rng, H)
        X = rng.standard_normal((N, 2))
        inputs = Inputs(X=X, **params)
        probs, _ = _forward(xor, params, X)
        inputs.check_unchanged("forward")
        a = X @ params["W1"] + params["b1"]
        candidates = {act: _sigmoid(f(a) @ params["W2"] + params["b2"])
                      for act, f in (("tanh", np.tanh), ("sigmoid", _sigmoid))}
        if any(np.allclose(probs, c, rtol=FORWARD_RTOL, atol=FORWARD_ATOL) for c in candidates.values()):
            continue
        W2, b2 = params["W2"], params["b2"]
        mistakes = [
            *[Mistake(f(a) @ W2 + b2, tr(
                "These are the scores z, not probabilities: apply the sigmoid to the output layer.",
                "Đây là điểm z, chưa phải xác suất: hãy áp dụng sigmoid ở lớp ra."))
              for f in (np.tanh, _sigmoid)],
            *[Mistake(1.0 - c, tr("probs is 1 - sigmoid(z): the sigmoid is 1 / (1 + exp(-z)).",
                                  "probs bằng 1 - sigmoid(z): sigmoid là 1 / (1 + exp(-z))."))
              for c in candidates.values()],
            Mistake(_sigmoid(a @ W2 + b2), tr(
                "The hidden layer has no activation: apply tanh (or sigmoid) to X @ W1 + b1.",
                "Lớp ẩn thiếu hàm kích hoạt: hãy áp dụng tanh (hoặc sigmoid) cho X @ W1 + b1.")),
            Mistake(_sigmoid(np.maximum(a, 0) @ W2 + b2), tr(
                "The hidden layer is a ReLU: this exercise asks for tanh or sigmoid.",
                "Lớp ẩn là ReLU: bài này yêu cầu tanh hoặc sigmoid.")),
        ]
        _with_note(lambda: check_close(probs, candidates["tanh"], "probs", rtol=FORWARD_RTOL,
                                       atol=FORWARD_ATOL, mistakes=mistakes),
                   tr(" (Expected: probs = sigmoid(tanh(X @ W1 + b1) @ W2 + b2); a sigmoid hidden layer "
                      "is accepted too.)",
                      " (Cần: probs = sigmoid(tanh(X @ W1 + b1) @ W2 + b2); lớp ẩn sigmoid cũng được "
                      "chấp nhận.)"))


@pytest.mark.points(1)
def test_forward_probs_in_unit_interval(xor, rng):
    for scale in (1.0, 2000.0):  # 2000: output scores of thousands, where np.exp(+-z) overflows
        params = _random_params(rng, 4, scale)
        X, _ = _random_batch(rng, 9)
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            probs, _ = _forward(xor, params, X)
        if not np.all(np.isfinite(probs)):
            fail(tr("forward returned nan or inf probabilities for large scores: compute the sigmoid "
                    "in a stable way, e.g. 1 / (1 + np.exp(-z)) or 0.5 * (1 + np.tanh(z / 2)), "
                    "not np.exp(z) / (1 + np.exp(z))",
                    "forward trả về xác suất nan hoặc inf khi điểm lớn: hãy tính sigmoid một cách ổn "
                    "định, vd. 1 / (1 + np.exp(-z)) hoặc 0.5 * (1 + np.tanh(z / 2)), không dùng "
                    "np.exp(z) / (1 + np.exp(z))"))
        if np.any(probs < 0.0) or np.any(probs > 1.0):
            fail(tr(f"probs should lie in [0, 1], got values from {probs.min():.4g} to {probs.max():.4g}: "
                    "apply the sigmoid to the output layer",
                    f"probs phải nằm trong [0, 1], nhưng có giá trị từ {probs.min():.4g} đến "
                    f"{probs.max():.4g}: hãy áp dụng sigmoid ở lớp ra"))


# --- bce_loss ----------------------------------------------------------------------------

@pytest.mark.points(1)
def test_bce_loss_value(xor, rng):
    probs = np.array([[0.9], [0.2], [0.6], [0.5]])
    Y = np.array([[1.0], [0.0], [1.0], [0.0]])
    hand = -(np.log(0.9) + np.log(0.8) + np.log(0.6) + np.log(0.5)) / 4  # 0.3709...
    cases = [(probs, Y, hand)]
    for N in (7, 3):
        p = rng.uniform(0.02, 0.98, size=(N, 1))
        _, y = _random_batch(rng, N)
        cases.append((p, y, _bce(p, y)))
    for p, y, expected in cases:
        N = p.shape[0]
        inputs = Inputs(probs=p, Y=y)
        loss = to_float(xor.bce_loss(p, y), "bce_loss")
        inputs.check_unchanged("bce_loss")
        terms = y * np.log(p) + (1 - y) * np.log(1 - p)
        check_close(loss, expected, "bce_loss", rtol=LOSS_RTOL, atol=LOSS_ATOL, mistakes=[
            Mistake(expected * N, tr(f"It is N = {N} times too large: take the mean over the examples, "
                                     "not the sum.",
                                     f"Nó lớn gấp N = {N} lần: hãy lấy trung bình theo các mẫu, không phải tổng.")),
            Mistake(-expected, tr("It has the wrong sign: the loss is MINUS the mean log-likelihood.",
                                  "Nó bị ngược dấu: hàm mất mát là TRỪ trung bình log-likelihood.")),
            Mistake(-np.mean(y * np.log(p)), tr("The (1 - Y) * log(1 - probs) term is missing.",
                                                "Thiếu số hạng (1 - Y) * log(1 - probs).")),
            Mistake(expected / np.log(10), tr("Use the natural log np.log, not np.log10.",
                                              "Hãy dùng log tự nhiên np.log, không dùng np.log10.")),
            Mistake(-np.mean(terms) / N, tr("It is divided by N twice.", "Nó bị chia cho N hai lần.")),
        ])


@pytest.mark.points(1)
def test_bce_loss_finite_at_zero_and_one(xor):
    cases = [
        (np.array([[0.0], [1.0], [1.0], [0.0]]), np.array([[0.0], [1.0], [0.0], [1.0]]), "wrong"),
        (np.array([[0.0], [1.0], [1.0], [0.0]]), np.array([[0.0], [1.0], [1.0], [0.0]]), "right"),
    ]
    for probs, Y, kind in cases:
        inputs = Inputs(probs=probs, Y=Y)
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            loss = to_float(xor.bce_loss(probs, Y), "bce_loss")
        inputs.check_unchanged("bce_loss")
        shown = f"probs={probs.ravel().tolist()}, Y={Y.ravel().tolist()}"
        if not np.isfinite(loss):
            fail(tr(f"bce_loss({shown}) is {loss}: log(0) = -inf. Clip the probabilities to "
                    "[eps, 1 - eps] (e.g. np.clip(probs, 1e-12, 1 - 1e-12)) before taking logs.",
                    f"bce_loss({shown}) bằng {loss}: log(0) = -inf. Hãy kẹp xác suất vào [eps, 1 - eps] "
                    "(vd. np.clip(probs, 1e-12, 1 - 1e-12)) trước khi lấy log."))
        if kind == "wrong" and loss < BCE_WRONG_MIN:
            fail(tr(f"bce_loss({shown}) = {loss:.4g}: two of four predictions are certain and wrong, "
                    f"which must cost a lot (at least {BCE_WRONG_MIN}); is eps too large or the sign wrong?",
                    f"bce_loss({shown}) = {loss:.4g}: hai trong bốn dự đoán chắc chắn nhưng sai, phải "
                    f"bị phạt nặng (ít nhất {BCE_WRONG_MIN}); eps quá lớn hay sai dấu?"))
        if kind == "right" and not abs(loss) <= BCE_RIGHT_MAX:
            fail(tr(f"bce_loss({shown}) = {loss:.4g}: every prediction is certain and right, so the "
                    f"loss should be about 0 (at most {BCE_RIGHT_MAX})",
                    f"bce_loss({shown}) = {loss:.4g}: mọi dự đoán đều chắc chắn và đúng nên hàm mất mát "
                    f"phải xấp xỉ 0 (tối đa {BCE_RIGHT_MAX})"))


# --- backward ----------------------------------------------------------------------------

@pytest.mark.points(2)
@pytest.mark.parametrize("n_hidden", [3, 5])
def test_backward_xor(xor, rng, n_hidden):
    for _ in range(3):
        _check_grads(xor, _random_params(rng, n_hidden), XOR_X.copy(), XOR_Y.copy())


@pytest.mark.points(2)
@pytest.mark.hidden
def test_backward_random_batches(xor, rng):
    for n_hidden in (3, 5):
        for _ in range(2):
            X, Y = _random_batch(rng, 7)
            _check_grads(xor, _random_params(rng, n_hidden), X, Y)


# --- predict -----------------------------------------------------------------------------

def _predict(xor, params, X):
    """The student's predict(params, X): checked as an integer (N, 1) array, as float64."""
    labels = xor.predict(params, X)
    if labels is None:
        fail(tr("predict returned None: did you forget a return statement?",
                "predict trả về None: bạn có quên câu lệnh return không?"))
    dtype = np.asarray(labels).dtype
    if not np.issubdtype(dtype, np.integer):
        fail(tr(f"predict should return an integer array of 0/1, got dtype {dtype}: "
                "use (probs > 0.5).astype(int)",
                f"predict phải trả về mảng số nguyên 0/1, nhưng nhận được kiểu {dtype}: "
                "hãy dùng (probs > 0.5).astype(int)"))
    labels = to_array(labels, "predict")
    check_shape(labels, (X.shape[0], 1), "predict(params, X)", "probs")
    return labels


def _check_labels(labels, probs):
    """labels == (probs > 0.5) where probs is not within 1e-9 of 0.5 (either label accepted there:
    a predict recomputing the probabilities may round differently from forward)."""
    keep = np.abs(probs - 0.5) > 1e-9
    expected = (probs > 0.5).astype(float)
    check_close(np.where(keep, labels, expected), expected, "predict(params, X)", rtol=0, atol=0,
                mistakes=[Mistake(1 - expected, tr("The labels are inverted: 1 where prob > 0.5.",
                                                  "Nhãn bị đảo ngược: 1 khi prob > 0.5."))])


@pytest.mark.points(1)
def test_predict(xor, rng):
    for H, N in ((3, 9), (4, 6)):
        params = _random_params(rng, H, 2.0)
        X = 2.0 * rng.standard_normal((N, 2))
        probs, _ = _forward(xor, params, X)
        _check_labels(_predict(xor, params, X), probs)


def _boundary_cases(rng):
    """(params, X) whose output pre-activation z is exactly 0 (sigmoid(0) = 0.5 exactly, in float64
    and float32, for 1 / (1 + exp(-z)) and 0.5 * (1 + tanh(z / 2)) alike) on some rows."""
    H = 3
    flat = {"W1": rng.standard_normal((2, H)), "b1": rng.standard_normal(H),
            "W2": np.zeros((H, 1)), "b2": np.zeros(1)}  # z = h @ 0 + 0 = 0 on every row
    # Two hidden units computing the same function of x1 and of x2, output h1 - h2 (weights 4, 0,
    # +1, -1: every product exact): z = 0 exactly where x1 == x2, clearly > 0 or < 0 elsewhere.
    mixed = {"W1": np.array([[4.0, 0.0], [0.0, 4.0]]), "b1": np.array([0.25, 0.25]),
             "W2": np.array([[1.0], [-1.0]]), "b2": np.zeros(1)}
    X_mixed = np.array([[0.5, 0.5], [1.0, -1.0], [-0.75, -0.75], [-1.0, 1.0], [0.5, -0.5], [0.0, 0.0]])
    return [(flat, rng.standard_normal((5, 2))), (mixed, X_mixed)]


@pytest.mark.points(1)
def test_predict_at_exactly_half(xor, rng):
    for params, X in _boundary_cases(rng):
        probs, _ = _forward(xor, params, X)
        labels = _predict(xor, params, X)
        at_half = (probs == 0.5) & (labels != 0)
        if np.any(at_half):
            at = tuple(int(i) for i in np.argwhere(at_half)[0])
            fail(tr(f"predict(params, X) gave 1 at index {at}, where the probability is exactly 0.5: "
                    "the contract says 1 only where prob > 0.5, so use (probs > 0.5).astype(int), "
                    "not >= 0.5.",
                    f"predict(params, X) trả về 1 tại chỉ số {at}, nơi xác suất bằng đúng 0.5: theo "
                    "đề bài chỉ trả về 1 khi prob > 0.5, nên hãy dùng (probs > 0.5).astype(int), "
                    "không dùng >= 0.5."))
        _check_labels(labels, probs)


# --- train -------------------------------------------------------------------------------

def _train(xor, X, Y, finite=True, **kwargs):
    """The student's train(X, Y, **kwargs): checked params (float64 copies) and losses (E,)."""
    inputs = Inputs(X=X, Y=Y)
    raw, losses = unpack(xor.train(X, Y, **kwargs), ("params", "losses"), "train")
    inputs.check_unchanged("train")
    if losses is None or not hasattr(losses, "__len__"):
        fail(tr(f"train should return a list of losses, got {type(losses).__name__}",
                f"train phải trả về một danh sách giá trị mất mát, nhưng nhận được {type(losses).__name__}"))
    losses = to_array(losses, "losses").ravel() if len(losses) else np.zeros(0)
    H = kwargs.get("n_hidden")
    if H is None:  # the student's default hidden size, read from the returned W1 (2, H)
        W1 = raw.get("W1") if isinstance(raw, dict) else None
        H = np.shape(W1)[-1] if W1 is not None and np.ndim(W1) == 2 else 1
    params = {}
    _with_note(lambda: params.update(_param_dict(raw, H, "train(...)[0]")),
               tr(" The parameters must keep their shapes during training: check the shapes of the "
                  "gradients returned by backward.",
                  " Các tham số phải giữ nguyên kích thước trong lúc huấn luyện: hãy kiểm tra kích "
                  "thước các gradient mà backward trả về."))
    if finite and not np.all(np.isfinite(losses)):
        fail(tr("train returned nan or inf losses: the training diverged. Check backward (its own tests) "
                "and the learning rate.",
                "train trả về giá trị mất mát nan hoặc inf: quá trình huấn luyện bị phân kỳ. Hãy kiểm tra "
                "backward (các test riêng của nó) và tốc độ học."))
    return params, losses


@pytest.mark.points(1)
def test_train_one_loss_per_epoch(xor):
    for epochs in (50, 7):
        _, losses = _train(xor, XOR_X.copy(), XOR_Y.copy(), epochs=epochs)
        if len(losses) != epochs:
            fail(tr(f"train(XOR_X, XOR_Y, epochs={epochs}) returned {len(losses)} losses: record "
                    f"exactly one per epoch ({epochs})",
                    f"train(XOR_X, XOR_Y, epochs={epochs}) trả về {len(losses)} giá trị mất mát: hãy "
                    f"ghi đúng một giá trị cho mỗi epoch ({epochs})"))


@pytest.mark.points(2)
def test_train_is_gradient_descent(xor, rng):
    batch_X, batch_Y = _random_batch(rng, 6)
    for X, Y, H, lr, epochs, seed in ((XOR_X.copy(), XOR_Y.copy(), 3, 0.5, 1, 2),
                                      (batch_X, batch_Y, 5, 0.3, 3, 5)):
        params = _param_dict(xor.init_params(n_hidden=H, seed=seed), H, "init_params")
        start = {key: value.copy() for key, value in params.items()}
        ascent = {key: value.copy() for key, value in params.items()}
        for _ in range(epochs):  # the same updates, by hand, with the student's own functions
            _, cache = _forward(xor, params, X)
            grads = _param_dict(xor.backward(params, cache, Y), H, "grads")
            params = {key: params[key] - lr * grads[key] for key in KEYS}
            _, cache = _forward(xor, ascent, X)
            grads = _param_dict(xor.backward(ascent, cache, Y), H, "grads")
            ascent = {key: ascent[key] + lr * grads[key] for key in KEYS}
        call = f"train(X, Y, n_hidden={H}, lr={lr}, epochs={epochs}, seed={seed})"
        trained, _ = _train(xor, X, Y, n_hidden=H, lr=lr, epochs=epochs, seed=seed)
        note = tr(f" train should start from init_params(n_hidden, seed) with the n_hidden and seed it is "
                  f"given, then do {epochs} update(s) params[k] - lr * grads[k] with your own forward and "
                  "backward on the X and Y it is given.",
                  f" train phải bắt đầu từ init_params(n_hidden, seed) với đúng n_hidden và seed được truyền "
                  f"vào, rồi thực hiện {epochs} bước cập nhật params[k] - lr * grads[k] bằng chính forward "
                  "và backward của bạn trên X và Y được truyền vào.")
        for key in KEYS:
            _with_note(lambda: check_close(
                        trained[key], params[key], f"{call}[0]['{key}']", rtol=TRAIN_RTOL, atol=TRAIN_ATOL,
                        what=f"init_params(n_hidden={H})['{key}']", mistakes=[
                            Mistake(start[key], tr(
                                "These are the initial params: update them every epoch with "
                                "params[k] = params[k] - lr * grads[k].",
                                "Đây là tham số ban đầu: hãy cập nhật mỗi epoch bằng "
                                "params[k] = params[k] - lr * grads[k].")),
                            Mistake(ascent[key], tr(
                                "The gradient was added: gradient DESCENT subtracts lr * grads[k].",
                                "Gradient đã bị cộng vào: gradient descent phải TRỪ lr * grads[k].")),
                        ]), note)


@pytest.mark.points(2)
@pytest.mark.hidden
def test_train_losses_are_real(xor, rng):
    batch_X, batch_Y = _random_batch(rng, 6)
    for X, Y, H, lr, epochs, seed in ((XOR_X.copy(), XOR_Y.copy(), 4, 0.5, 30, 1),
                                      (batch_X, batch_Y, 3, 0.3, 12, 4)):
        call = f"train(X, Y, n_hidden={H}, lr={lr}, epochs={epochs}, seed={seed})"
        params, losses = _train(xor, X, Y, n_hidden=H, lr=lr, epochs=epochs, seed=seed)
        before_last, shorter = _train(xor, X, Y, n_hidden=H, lr=lr, epochs=epochs - 1, seed=seed)
        after_first, _ = _train(xor, X, Y, n_hidden=H, lr=lr, epochs=1, seed=seed)
        if len(losses) != epochs or len(shorter) != epochs - 1:
            fail(tr(f"{call} returned {len(losses)} losses instead of {epochs}: one per epoch",
                    f"{call} trả về {len(losses)} giá trị mất mát thay vì {epochs}: mỗi epoch một giá trị"))
        if not np.allclose(losses[:-1], shorter, rtol=TRAIN_RTOL, atol=TRAIN_ATOL, equal_nan=True):
            fail(tr(f"the first {epochs - 1} losses of {call} differ from those of the same run with "
                    f"epochs={epochs - 1}: record the losses during the run, epoch by epoch (and the same seed "
                    "must give the same run)",
                    f"{epochs - 1} giá trị mất mát đầu tiên của {call} khác với lần chạy giống hệt nhưng "
                    f"epochs={epochs - 1}: hãy ghi giá trị mất mát trong lúc chạy, từng epoch một (và cùng một seed "
                    "phải cho cùng một lần chạy)"))
        start = _param_dict(xor.init_params(n_hidden=H, seed=seed), H, "init_params")
        for index, options in ((0, (start, after_first)), (epochs - 1, (before_last, params))):
            truth = [_loss_of(xor, p, X, Y) for p in options]
            got = float(losses[index])
            if not any(np.isclose(got, t, rtol=LOSS_RTOL, atol=LOSS_ATOL) for t in truth):
                hint = ""
                if any(np.isclose(got, t * X.shape[0], rtol=LOSS_RTOL) for t in truth):
                    hint = tr(" It is N times too large: bce_loss should be a mean.",
                              " Nó lớn gấp N lần: bce_loss phải là trung bình.")
                fail(tr(f"losses[{index}] of {call} is {got:.6g}, but the mean BCE of the network just "
                        f"before that epoch's update is {truth[0]:.6g} and just after it {truth[1]:.6g}: "
                        f"record bce_loss(forward(params, X)[0], Y) of the current params each epoch.{hint}",
                        f"losses[{index}] của {call} bằng {got:.6g}, nhưng BCE trung bình của mạng ngay "
                        f"trước bước cập nhật của epoch đó là {truth[0]:.6g} và ngay sau là {truth[1]:.6g}: "
                        f"hãy ghi bce_loss(forward(params, X)[0], Y) của tham số hiện tại ở mỗi epoch.{hint}"))
        if not losses[-1] < losses[0]:
            fail(tr(f"the loss of {call} went from {losses[0]:.4g} to {losses[-1]:.4g}: it should decrease",
                    f"hàm mất mát của {call} đi từ {losses[0]:.4g} đến {losses[-1]:.4g}: lẽ ra phải giảm"))


@pytest.mark.points(4)
@pytest.mark.time_limit(BAR_TIME_LIMIT)
def test_train_solves_xor(xor):
    results = {}
    for seed in BAR_SEEDS:
        params, _ = _train(xor, XOR_X.copy(), XOR_Y.copy(), finite=False, seed=seed)  # own defaults
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            probs, _ = _forward(xor, params, XOR_X.copy())
        accuracy = float(np.mean((probs > 0.5) == (XOR_Y > 0.5)))
        results[seed] = (accuracy, _bce(probs, XOR_Y))
    failed = {seed: r for seed, r in results.items() if not (r[0] == 1.0 and r[1] < BAR_MAX_LOSS)}
    if len(BAR_SEEDS) - len(failed) < BAR_MIN_PASSING:
        detail = "; ".join(f"seed {s}: {tr('accuracy', 'độ chính xác')} {a:.0%}, "
                           f"{tr('loss', 'mất mát')} {loss:.3g}" for s, (a, loss) in failed.items())
        stuck = ""
        if all(abs(loss - np.log(2)) < 1e-3 for _, loss in failed.values()):
            stuck = tr(" The loss is stuck at log(2) = 0.693, i.e. probs = 0.5 everywhere: are the params "
                       "updated, and do the hidden units start different (symmetry breaking)?",
                       " Hàm mất mát kẹt ở log(2) = 0.693, tức probs = 0.5 ở mọi điểm: tham số có được "
                       "cập nhật không, và các nơ-ron ẩn có khác nhau lúc khởi tạo không (phá vỡ đối xứng)?")
        fail(tr(f"train(XOR_X, XOR_Y, seed=s) with your defaults solves XOR (100% accuracy, loss < "
                f"{BAR_MAX_LOSS}) for only {len(BAR_SEEDS) - len(failed)} of the seeds 0-9 (at least "
                f"{BAR_MIN_PASSING} needed). Failed: {detail}. Check the learning rate (too small: not "
                "converged; too large: unstable), the number of epochs, the hidden size and the initial scale."
                f"{stuck}",
                f"train(XOR_X, XOR_Y, seed=s) với các mặc định của bạn chỉ giải được XOR (độ chính xác "
                f"100%, mất mát < {BAR_MAX_LOSS}) với {len(BAR_SEEDS) - len(failed)} trong các seed 0-9 "
                f"(cần ít nhất {BAR_MIN_PASSING}). Không đạt: {detail}. Hãy kiểm tra tốc độ học (quá nhỏ: "
                "chưa hội tụ; quá lớn: không ổn định), số epoch, số nơ-ron ẩn và độ lớn khởi tạo."
                f"{stuck}"))
