"""Grader of exercise 1, ``backprop``: layers, losses and a two-layer net by hand.

Contract: docs/contract.md, section 1 (its clauses and the tests that check them).

What is graded (34 points, of which 3 in hidden tests that are not described here and are
left out of the student release):

    affine_forward 1, affine_backward 3
    relu_forward 1, relu_backward 2
    sigmoid_forward 1, sigmoid_backward 2, sigmoid at +-1000 without overflow 2
    tanh_forward 1, tanh_backward 1
    softmax_cross_entropy: loss 2, gradient 3, scores up to +-1e4 2,
        correct class far below the maximum 1
    mse_loss: loss 1, gradient 1
    two_layer_net: loss 1 + 1 (reg == 0 and reg > 0), gradients 2 + 2, the default reg=0.0 1

Every gradient is compared with the graders' own centred differences of the exact
(float64) function, never with anything the student computed. Inputs have
non-square shapes, several random draws per test, and stay away from the ReLU kink;
every test also checks that the inputs were left
unchanged. Forward values and gradients are graded by separate tests.
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
    relative_error,
    to_array,
    to_float,
    unpack,
)
from autograder.grading.messages import tr
from autograder.grading.numgrad import numerical_gradient, numerical_gradient_array
from autograder.grading.plugin import student_location, student_message

# Time limit of each test (unless it says otherwise): the reference's slowest test takes
# ~0.02 s here; a correct solution written with Python loops over these small arrays stays
# under 1 s even on a loaded machine; an endless loop costs 10 s once (later calls of the
# same function fail at once)
pytestmark = pytest.mark.time_limit(10)

# --- tolerances -----------------------------------------------------------------------
# Expected values are float64. Centred differences of these smooth, O(1) functions with
# step H are accurate to ~1e-9, and a student computing in float32 inside is off by
# ~1e-7 relative (a few 1e-7 absolute after sums of a handful of O(1) terms). Every
# mistake listed in tests/test_variants_backprop.py is off by 1e-2 or more.
RTOL = 1e-5
ATOL = 1e-6
H = 1e-6  # step of the centred differences (the ReLU inputs stay KINK_MARGIN >> H away from 0)
KINK_MARGIN = 0.05  # smallest |x| fed to ReLU in the random tests (and |pre-activation| in the net)
REG = 0.3  # L2 strength for the regularised two-layer-net tests: big enough that a
           # missing or doubled term moves the loss and the gradients by > 1e-2

# Non-square (N, D, M) for the affine layer, N > 1 so that a sum over the batch is visible.
AFFINE_SHAPES = [(4, 5, 3), (7, 3, 6), (3, 8, 2)]
# Arrays of "any shape" for element-wise layers and the MSE.
ELEMENTWISE_SHAPES = [(4, 6), (3, 2, 5), (7,)]
# (N, C) for the softmax.
SOFTMAX_SHAPES = [(5, 3), (8, 6), (3, 10)]
# (N, D, H, C) for the two-layer net.
NET_SHAPES = [(6, 5, 7, 4), (9, 3, 5, 6)]
LARGE_SCORE = 1e4  # the spec: softmax cross-entropy is finite for scores up to +-1e4
# Scores near +-1e4: a correct float32 solution may round an intermediate of that size, such
# as logsumexp = m + log(sum(exp(s - m))), to float32's spacing there, 2**-10 (~9.8e-4); the
# loss (O(1)) and the probabilities are then off by up to half of it, ~4.9e-4 absolute. The
# mistakes these scores catch (no shift: inf or nan; a wrong shift) are off by O(1) or more.
LARGE_SCORE_ATOL = 2.0 ** -10


@pytest.fixture
def bp(impl):
    return impl.exercise("backprop")


# --- the graders' own reference functions (float64) ----------------------------------

def ref_sigmoid(x):
    z = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + z), z / (1.0 + z))


def ref_log_softmax(scores, axis=1):
    shifted = scores - scores.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def ref_ce(scores, y):
    return float(-ref_log_softmax(scores)[np.arange(len(y)), y].mean())


def ref_net_loss(params, X, y, reg):
    hidden = np.maximum(X @ params["W1"] + params["b1"], 0.0)
    scores = hidden @ params["W2"] + params["b2"]
    return ref_ce(scores, y) + 0.5 * reg * (np.sum(params["W1"] ** 2) + np.sum(params["W2"] ** 2))


def away_from_zero(rng, shape, low=KINK_MARGIN, high=2.0):
    """Random values with low <= |x| <= high and random signs."""
    return rng.uniform(low, high, size=shape) * rng.choice([-1.0, 1.0], size=shape)


def make_net(rng, n, d, h, c, label_dtype=np.int64):
    """Random params, X, y whose hidden pre-activations are all KINK_MARGIN away from 0."""
    for _ in range(1000):
        params = {"W1": 0.5 * rng.standard_normal((d, h)), "b1": 0.5 * rng.standard_normal(h),
                  "W2": 0.5 * rng.standard_normal((h, c)), "b2": 0.5 * rng.standard_normal(c)}
        X = rng.standard_normal((n, d))
        if np.min(np.abs(X @ params["W1"] + params["b1"])) > KINK_MARGIN:
            return params, X, rng.integers(0, c, size=n).astype(label_dtype)
    raise RuntimeError("could not draw a network away from the ReLU kinks")  # pragma: no cover


def check_loss(actual, expected, name, mistakes=(), atol=ATOL):
    """Like check_close for one number: expected vs got, and the matching mistake if any."""
    value = to_float(actual, name)
    if abs(value - expected) <= atol + RTOL * abs(expected):
        return
    if not np.isfinite(value):
        fail(tr(f"{name} is {value} but should be {expected:.6g}: look for overflow in exp or "
                "log(0)", f"{name} bằng {value} nhưng phải là {expected:.6g}: hãy kiểm tra tràn số "
                "trong exp hoặc log(0)"))
    hint = next((m.message for m in mistakes
                 if abs(value - float(m.value)) <= ATOL + RTOL * abs(float(m.value))), "")
    fail(tr(f"{name} is wrong: expected {expected:.6g} but got {value:.6g} (relative error "
            f"{relative_error(value, expected):.3g}; tolerance rtol={RTOL:g}, atol={atol:g}). "
            f"{hint}",
            f"{name} sai: cần {expected:.6g} nhưng nhận được {value:.6g} (sai số tương đối "
            f"{relative_error(value, expected):.3g}; dung sai rtol={RTOL:g}, atol={ATOL:g}). {hint}"
            ).strip())


NET_HINT_EN = ("two_layer_net reuses your layers: if a test of affine, relu or "
               "softmax_cross_entropy fails too, fix that one first.")
NET_HINT_VI = ("two_layer_net dùng lại các lớp của bạn: nếu một bài kiểm tra của affine, relu hoặc "
               "softmax_cross_entropy cũng sai, hãy sửa nó trước.")


def check_net(check, *args, mistakes=(), **kwargs):
    """Run a check of two_layer_net; without a known mistake, point at the layers it reuses."""
    try:
        check(*args, mistakes=mistakes, **kwargs)
    except GradingFailure as exc:
        if any(m.message in str(exc) for m in mistakes):
            raise
        fail(f"{str(exc).rstrip()} {tr(NET_HINT_EN, NET_HINT_VI)}")


def student_line(exc, bp):
    """' (backprop.py line N)' for the deepest frame of ``exc`` in the student's code."""
    return student_location(exc, bp.owns)


def call_strict(bp, fn_name, *args, divide="raise", hint_en="", hint_vi=""):
    """Call bp.<fn_name>(*args) with floating-point overflow and invalid operations as errors.

    Underflow (exp(-1000) == 0) is allowed by the spec and ignored. Any RuntimeWarning
    the call emits also fails the test (nothing may leak to the student's stderr).
    """
    fn = getattr(bp, fn_name)
    with warnings.catch_warnings(record=True) as caught, \
            np.errstate(over="raise", invalid="raise", divide=divide, under="ignore"):
        warnings.simplefilter("always")
        try:
            result = fn(*args)
        except FloatingPointError as exc:
            fail(tr(f"{fn_name} is numerically unstable: {exc}{student_line(exc, bp)}. {hint_en}",
                    f"{fn_name} không ổn định về số (numpy báo: {exc}){student_line(exc, bp)}. "
                    f"{hint_vi}"))
    warned = [w for w in caught if issubclass(w.category, RuntimeWarning)]
    if warned:
        fail(tr(f"{fn_name} emitted a warning: {warned[0].message}. {hint_en}",
                f"{fn_name} phát ra cảnh báo: {warned[0].message}. {hint_vi}"))
    return result


# --- affine ---------------------------------------------------------------------------

@pytest.mark.points(1)
def test_affine_forward(bp, rng):
    for n, d, m in AFFINE_SHAPES:
        x, w, b = rng.standard_normal((n, d)), rng.standard_normal((d, m)), rng.standard_normal(m)
        inputs = Inputs(x=x, w=w, b=b)
        out, _ = unpack(bp.affine_forward(x, w, b), ("out", "cache"), "affine_forward")
        inputs.check_unchanged("affine_forward")
        check_close(out, x @ w + b, "affine_forward out", rtol=RTOL, atol=ATOL,
                    what=tr("x @ w: (N, M)", "x @ w: (N, M)"), mistakes=[
                        Mistake(x @ w, tr("The bias b is missing: out = x @ w + b.",
                                          "Thiếu bias b: out = x @ w + b.")),
                    ])


@pytest.mark.points(3)
def test_affine_backward(bp, rng):
    for n, d, m in AFFINE_SHAPES:
        x, w, b = rng.standard_normal((n, d)), rng.standard_normal((d, m)), rng.standard_normal(m)
        dout = rng.standard_normal((n, m))
        _, cache = unpack(bp.affine_forward(x, w, b), ("out", "cache"), "affine_forward")
        inputs = Inputs(x=x, w=w, b=b, dout=dout)
        dx, dw, db = unpack(bp.affine_backward(dout, cache), ("dx", "dw", "db"), "affine_backward")
        inputs.check_unchanged("affine_backward")
        dx_num = numerical_gradient_array(lambda z, w=w, b=b: z @ w + b, x, dout, H)
        dw_num = numerical_gradient_array(lambda z, x=x, b=b: x @ z + b, w, dout, H)
        db_num = numerical_gradient_array(lambda z, x=x, w=w: x @ w + z, b, dout, H)
        check_close(dx, dx_num, "dx", rtol=RTOL, atol=ATOL, what="x")
        dw_arr = to_array(dw, "dw")
        if dw_arr.shape == (m, d):
            fail(tr(f"dw has shape {dw_arr.shape} but w has shape {(d, m)}: it is transposed. "
                    "dL/dw[d, m] = sum over n of x[n, d] * dout[n, m], i.e. dw = x.T @ dout.",
                    f"dw có kích thước {dw_arr.shape} nhưng w có kích thước {(d, m)}: dw bị "
                    "chuyển vị. dL/dw[d, m] = tổng theo n của x[n, d] * dout[n, m], tức là "
                    "dw = x.T @ dout."))
        check_close(dw, dw_num, "dw", rtol=RTOL, atol=ATOL, what="w")
        check_close(db, db_num, "db", rtol=RTOL, atol=ATOL, what="b", mistakes=[
            Mistake(dout[0], tr("db is the gradient of the first example only: sum dout over the "
                                "batch (axis 0).",
                                "db chỉ là gradient của mẫu đầu tiên: hãy cộng dout trên cả batch "
                                "(trục 0).")),
            Mistake(dout.mean(axis=0), tr(
                "db is the mean of dout over the batch: it must be the sum (b is used by every "
                "example; any 1/N of a mean loss is already inside dout).",
                "db là trung bình của dout trên batch: phải là tổng (b được dùng bởi mọi mẫu; "
                "hệ số 1/N của hàm mất mát trung bình đã nằm sẵn trong dout).")),
        ])


# --- ReLU -----------------------------------------------------------------------------

@pytest.mark.points(1)
def test_relu_forward(bp, rng):
    for shape in ELEMENTWISE_SHAPES:
        x = away_from_zero(rng, shape)
        inputs = Inputs(x=x)
        out, _ = unpack(bp.relu_forward(x), ("out", "cache"), "relu_forward")
        inputs.check_unchanged("relu_forward")
        check_close(out, np.maximum(x, 0.0), "relu_forward out", rtol=RTOL, atol=ATOL, what="x")


@pytest.mark.points(2)
def test_relu_backward(bp, rng):
    for shape in ELEMENTWISE_SHAPES:
        x, dout = away_from_zero(rng, shape), rng.standard_normal(shape)
        _, cache = unpack(bp.relu_forward(x), ("out", "cache"), "relu_forward")
        inputs = Inputs(x=x, dout=dout)
        dx = bp.relu_backward(dout, cache)
        inputs.check_unchanged("relu_backward")
        dx_num = numerical_gradient_array(lambda z: np.maximum(z, 0.0), x, dout, H)
        check_close(dx, dx_num, "dx", rtol=RTOL, atol=ATOL, what="x", mistakes=[
            Mistake(dout * (dout > 0), tr(
                "The mask was built from dout: the gradient passes where the layer's INPUT x > 0.",
                "Mặt nạ được tạo từ dout: gradient chỉ đi qua nơi ĐẦU VÀO x của lớp > 0.")),
            Mistake((x > 0).astype(float), tr(
                "dx is only the local gradient (x > 0): multiply it by the upstream gradient dout.",
                "dx mới chỉ là gradient cục bộ (x > 0): hãy nhân với gradient từ phía trên dout.")),
        ])


@pytest.mark.hidden
@pytest.mark.points(1)
def test_relu_backward_at_zero(bp):
    x = np.array([[-1.5, 0.0, 2.0, 0.0, 0.5],
                  [0.0, 3.0, -0.5, 1e-3, 0.0],
                  [-1e-3, 0.0, 0.0, -2.0, 1.0]])
    dout = np.array([[1.0, -2.0, 3.0, 0.5, -1.0],
                     [4.0, -0.5, 2.0, 1.5, -3.0],
                     [0.25, 1.0, -1.0, 2.5, 0.75]])
    inputs = Inputs(x=x, dout=dout)
    _, cache = unpack(bp.relu_forward(x), ("out", "cache"), "relu_forward")
    dx = bp.relu_backward(dout, cache)
    inputs.check_unchanged("relu_forward/relu_backward")
    check_close(dx, dout * (x > 0), "dx", rtol=RTOL, atol=ATOL, what="x", mistakes=[
        Mistake(dout * (x >= 0), tr(
            "At x == 0 exactly, ReLU's (sub)gradient must be 0: use the mask x > 0, not x >= 0.",
            "Tại đúng x == 0, gradient (đạo hàm dưới) của ReLU phải bằng 0: hãy dùng mặt nạ "
            "x > 0, không phải x >= 0.")),
    ])


# Shapes with size-1 and empty axes: the contract's "any shape" for ReLU (ndim >= 1; the
# random tests above cover the ordinary shapes).
RELU_ODD_SHAPES = [(1,), (1, 1), (5, 1), (1, 3, 1), (0,), (2, 0, 3)]


def relu_on_odd_shape(bp, shape, fn_name, *args):
    """bp.<fn_name>(*args) on an array of ``shape``, with the shape named in the message when the
    student's code raises on it."""
    try:
        return getattr(bp, fn_name)(*args)
    except (IndexError, ValueError, TypeError) as exc:  # what a shape problem raises
        sentence = student_message(exc, bp.owns)
        if sentence is None:
            raise
        fail(f"{sentence} " + tr(
            f"Here x has shape {shape}: ReLU is element-wise, so it must work on arrays of any "
            "shape, size-1 and empty axes included.",
            f"Ở đây x có kích thước {shape}: ReLU tính theo từng phần tử nên phải chạy được với mảng "
            "mọi kích thước, kể cả trục kích thước 1 và trục rỗng."))


def check_keeps_shape(value, shape, name):
    """Fail unless ``value`` is an array of exactly ``shape`` (the shape of x)."""
    array = to_array(value, name)
    if array.shape != tuple(shape):
        fail(tr(f"{name} has shape {array.shape} for an x of shape {shape}: ReLU is element-wise, "
                "so its output and gradient keep the shape of x, size-1 and empty axes included "
                "(no squeeze, ravel or reshape).",
                f"{name} có kích thước {array.shape} với x kích thước {shape}: ReLU tính theo từng "
                "phần tử nên đầu ra và gradient giữ nguyên kích thước của x, kể cả trục kích thước 1 "
                "và trục rỗng (không squeeze, ravel hay reshape)."))
    return array


@pytest.mark.hidden
@pytest.mark.points(1)
def test_relu_any_shape(bp, rng):
    """ReLU on shapes with size-1 and empty axes, forward with exact zeros in x (max(0, 0) = 0);
    the backward input stays away from 0, whose subgradient test_relu_backward_at_zero grades."""
    for shape in RELU_ODD_SHAPES:
        x, dout = away_from_zero(rng, shape), rng.standard_normal(shape)
        with_zeros = np.where(rng.random(shape) < 0.5, 0.0, x)
        inputs = Inputs(x=x, with_zeros=with_zeros, dout=dout)
        out, _ = unpack(relu_on_odd_shape(bp, shape, "relu_forward", with_zeros), ("out", "cache"),
                        "relu_forward")
        out = check_keeps_shape(out, shape, "relu_forward out")
        check_close(out, np.maximum(with_zeros, 0.0), f"relu_forward out (x of shape {shape})",
                    rtol=RTOL, atol=ATOL, what="x")
        _, cache = unpack(relu_on_odd_shape(bp, shape, "relu_forward", x), ("out", "cache"),
                          "relu_forward")
        dx = relu_on_odd_shape(bp, shape, "relu_backward", dout, cache)
        inputs.check_unchanged("relu_forward/relu_backward")
        dx = check_keeps_shape(dx, shape, "relu_backward dx")
        check_close(dx, dout * (x > 0), f"relu_backward dx (x of shape {shape})", rtol=RTOL,
                    atol=ATOL, what="x")


# --- sigmoid and tanh -----------------------------------------------------------------

@pytest.mark.points(1)
def test_sigmoid_forward(bp, rng):
    for shape in ELEMENTWISE_SHAPES:
        x = 3.0 * rng.standard_normal(shape)
        inputs = Inputs(x=x)
        out, _ = unpack(bp.sigmoid_forward(x), ("out", "cache"), "sigmoid_forward")
        inputs.check_unchanged("sigmoid_forward")
        check_close(out, ref_sigmoid(x), "sigmoid_forward out", rtol=RTOL, atol=ATOL, what="x",
                    mistakes=[Mistake(1.0 / (1.0 + np.exp(x)), tr(
                        "That is sigmoid(-x): the formula is 1 / (1 + exp(-x)).",
                        "Đó là sigmoid(-x): công thức là 1 / (1 + exp(-x))."))])


@pytest.mark.points(2)
def test_sigmoid_backward(bp, rng):
    for shape in ELEMENTWISE_SHAPES:
        x, dout = 3.0 * rng.standard_normal(shape), rng.standard_normal(shape)
        _, cache = unpack(bp.sigmoid_forward(x), ("out", "cache"), "sigmoid_forward")
        inputs = Inputs(x=x, dout=dout)
        dx = bp.sigmoid_backward(dout, cache)
        inputs.check_unchanged("sigmoid_backward")
        s = ref_sigmoid(x)
        check_close(dx, numerical_gradient_array(ref_sigmoid, x, dout, H), "dx", rtol=RTOL,
                    atol=ATOL, what="x", mistakes=[
                        Mistake(dout * s * (1 - x), tr(
                            "dx = dout * sigmoid(x) * (1 - x): the derivative is "
                            "sigmoid(x) * (1 - sigmoid(x)), with the OUTPUT in both places.",
                            "dx = dout * sigmoid(x) * (1 - x): đạo hàm là "
                            "sigmoid(x) * (1 - sigmoid(x)), dùng ĐẦU RA ở cả hai chỗ.")),
                        Mistake(dout * x * (1 - x), tr(
                            "s * (1 - s) was applied to the input x: apply it to sigmoid(x).",
                            "s * (1 - s) được tính trên đầu vào x: phải tính trên sigmoid(x).")),
                        Mistake(dout * s * (1 - s) * s, tr(
                            "There is an extra factor sigmoid(x).",
                            "Thừa một thừa số sigmoid(x).")),
                    ])


SIGMOID_HINT_EN = ("exp(-x) overflows for x < -709. Use z = exp(-|x|), which lies in (0, 1]: "
                   "sigmoid = 1 / (1 + z) for x >= 0 and z / (1 + z) for x < 0 (np.where computes "
                   "both branches everywhere, so both must be safe).")
SIGMOID_HINT_VI = ("exp(-x) bị tràn số khi x < -709. Hãy dùng z = exp(-|x|), nằm trong (0, 1]: "
                   "sigmoid = 1 / (1 + z) khi x >= 0 và z / (1 + z) khi x < 0 (np.where tính cả "
                   "hai nhánh ở mọi phần tử, nên cả hai phải an toàn).")


@pytest.mark.points(2)
def test_sigmoid_extreme_inputs(bp):
    x = np.array([[-1000.0, -745.0, -710.0, -50.0],
                  [-1.0, 0.0, 1e-3, 1.0],
                  [50.0, 710.0, 745.0, 1000.0]])
    dout = np.linspace(-2.0, 2.0, x.size).reshape(x.shape)
    inputs = Inputs(x=x, dout=dout)
    out, cache = unpack(call_strict(bp, "sigmoid_forward", x, hint_en=SIGMOID_HINT_EN,
                                    hint_vi=SIGMOID_HINT_VI), ("out", "cache"), "sigmoid_forward")
    check_close(out, ref_sigmoid(x), "sigmoid_forward out at x = +-1000", rtol=RTOL, atol=ATOL,
                what="x")
    dx = call_strict(bp, "sigmoid_backward", dout, cache, hint_en=SIGMOID_HINT_EN,
                     hint_vi=SIGMOID_HINT_VI)
    inputs.check_unchanged("sigmoid_forward/sigmoid_backward")
    s = ref_sigmoid(x)
    check_close(dx, dout * s * (1 - s), "sigmoid_backward dx at x = +-1000", rtol=RTOL, atol=ATOL,
                what="x")


@pytest.mark.points(1)
def test_tanh_forward(bp, rng):
    for shape in ELEMENTWISE_SHAPES:
        x = 2.0 * rng.standard_normal(shape)
        inputs = Inputs(x=x)
        out, _ = unpack(bp.tanh_forward(x), ("out", "cache"), "tanh_forward")
        inputs.check_unchanged("tanh_forward")
        check_close(out, np.tanh(x), "tanh_forward out", rtol=RTOL, atol=ATOL, what="x")


@pytest.mark.points(1)
def test_tanh_backward(bp, rng):
    for shape in ELEMENTWISE_SHAPES:
        x, dout = 2.0 * rng.standard_normal(shape), rng.standard_normal(shape)
        _, cache = unpack(bp.tanh_forward(x), ("out", "cache"), "tanh_forward")
        inputs = Inputs(x=x, dout=dout)
        dx = bp.tanh_backward(dout, cache)
        inputs.check_unchanged("tanh_backward")
        t = np.tanh(x)
        check_close(dx, numerical_gradient_array(np.tanh, x, dout, H), "dx", rtol=RTOL, atol=ATOL,
                    what="x", mistakes=[
                        Mistake(dout * (1 - x ** 2), tr(
                            "dx = dout * (1 - x**2) with x the input: the derivative is "
                            "1 - tanh(x)**2, computed from the OUTPUT.",
                            "dx = dout * (1 - x**2) với x là đầu vào: đạo hàm là "
                            "1 - tanh(x)**2, tính từ ĐẦU RA.")),
                        Mistake(dout * (1 - t), tr(
                            "The derivative of tanh is 1 - tanh(x)**2: the square is missing.",
                            "Đạo hàm của tanh là 1 - tanh(x)**2: thiếu bình phương.")),
                    ])


# --- softmax cross-entropy ------------------------------------------------------------

def softmax_mistakes(scores, y, expected):
    """Gradients that common mistakes give, for the dscores checks."""
    n = scores.shape[0]
    probs = np.exp(ref_log_softmax(scores))
    wrong_axis = np.exp(ref_log_softmax(scores, axis=0))
    wrong_axis[np.arange(n), y] -= 1.0
    return [
        Mistake(expected * n, tr(
            "dscores is N times too large: the loss is a MEAN over the N examples, so divide the "
            "gradient by N too.",
            "dscores lớn gấp N lần: hàm mất mát là TRUNG BÌNH trên N mẫu, nên gradient cũng phải "
            "chia cho N.")),
        Mistake(probs / n, tr(
            "dscores = softmax / N: subtract 1 at the correct class of each row before dividing.",
            "dscores = softmax / N: hãy trừ 1 tại lớp đúng của mỗi hàng trước khi chia.")),
        Mistake(wrong_axis / n, tr(
            "The softmax was normalised over the wrong axis: each ROW (axis=1) must sum to 1.",
            "Softmax được chuẩn hoá sai trục: mỗi HÀNG (axis=1) phải có tổng bằng 1.")),
    ]


@pytest.mark.points(2)
def test_softmax_cross_entropy_loss(bp, rng):
    for n, c in SOFTMAX_SHAPES:
        scores, y = 2.0 * rng.standard_normal((n, c)), rng.integers(0, c, size=n)
        inputs = Inputs(scores=scores, y=y)
        loss, _ = unpack(bp.softmax_cross_entropy(scores, y), ("loss", "dscores"),
                         "softmax_cross_entropy")
        inputs.check_unchanged("softmax_cross_entropy")
        expected = ref_ce(scores, y)
        check_loss(loss, expected, "loss", mistakes=[
            Mistake(expected * n, tr("The loss is the SUM over the batch: it must be the mean.",
                                     "Hàm mất mát đang là TỔNG trên batch: phải là trung bình.")),
            Mistake(-ref_log_softmax(scores, axis=0)[np.arange(n), y].mean(), tr(
                "The softmax was normalised over the wrong axis: each ROW (axis=1) must sum to 1.",
                "Softmax được chuẩn hoá sai trục: mỗi HÀNG (axis=1) phải có tổng bằng 1.")),
        ])


@pytest.mark.points(3)
def test_softmax_cross_entropy_gradient(bp, rng):
    for n, c in SOFTMAX_SHAPES:
        scores, y = 2.0 * rng.standard_normal((n, c)), rng.integers(0, c, size=n)
        inputs = Inputs(scores=scores, y=y)
        _, dscores = unpack(bp.softmax_cross_entropy(scores, y), ("loss", "dscores"),
                            "softmax_cross_entropy")
        inputs.check_unchanged("softmax_cross_entropy")
        expected = numerical_gradient(lambda s, y=y: ref_ce(s, y), scores, H)
        check_close(dscores, expected, "dscores", rtol=RTOL, atol=ATOL, what="scores",
                    mistakes=softmax_mistakes(scores, y, expected))


SOFTMAX_HINT_EN = ("Subtract each row's maximum from the scores first: softmax does not change, "
                   "every exponent becomes <= 0 and cannot overflow.")
SOFTMAX_HINT_VI = ("Hãy trừ giá trị lớn nhất của mỗi hàng khỏi điểm số trước: softmax không đổi, "
                   "mọi số mũ đều <= 0 và không thể tràn số.")


def large_scores(rng, n, c):
    """Rows near +1e4, near -1e4, and mixed +-1e4 with the correct class near the maximum.

    Offsets are multiples of 1/8, exact in float32 too, so the expected values do not
    depend on the precision a correct solution computes in.
    """
    base = np.array([LARGE_SCORE, -LARGE_SCORE, LARGE_SCORE, -LARGE_SCORE, LARGE_SCORE])[:n]
    scores = base[:, None] + rng.integers(-24, 25, size=(n, c)) / 8.0
    y = rng.integers(0, c, size=n)
    scores[2, :] = np.where(rng.random(c) < 0.5, LARGE_SCORE, -LARGE_SCORE)  # a mixed row
    scores[2, y[2]] = LARGE_SCORE + 1.0
    return scores, y


@pytest.mark.points(2)
def test_softmax_cross_entropy_large_scores(bp, rng):
    for n, c in [(5, 4), (4, 7)]:
        scores, y = large_scores(rng, n, c)
        inputs = Inputs(scores=scores, y=y)
        loss, dscores = unpack(
            call_strict(bp, "softmax_cross_entropy", scores, y, divide="ignore",
                        hint_en=SOFTMAX_HINT_EN, hint_vi=SOFTMAX_HINT_VI),
            ("loss", "dscores"), "softmax_cross_entropy")
        inputs.check_unchanged("softmax_cross_entropy")
        loss = to_float(loss, "loss")
        if not np.isfinite(loss):
            fail(tr(f"loss is {loss} for scores around +-1e4. {SOFTMAX_HINT_EN}",
                    f"loss bằng {loss} với điểm số cỡ +-1e4. {SOFTMAX_HINT_VI}"))
        check_loss(loss, ref_ce(scores, y), "loss for scores around +-1e4", atol=LARGE_SCORE_ATOL)
        expected = np.exp(ref_log_softmax(scores))
        expected[np.arange(n), y] -= 1.0
        check_close(dscores, expected / n, "dscores for scores around +-1e4", rtol=RTOL,
                    atol=LARGE_SCORE_ATOL, what="scores")


@pytest.mark.points(1)
def test_softmax_cross_entropy_far_below_max(bp):
    # The correct class's probability is exp(-2e4), which is 0.0 in floating point, but its
    # log, -2e4, and so the loss, are perfectly finite.
    scores = np.array([[LARGE_SCORE, -LARGE_SCORE, 0.0],
                       [1.0, 2.0, 3.0],
                       [-LARGE_SCORE, 0.0, LARGE_SCORE],
                       [0.5, -LARGE_SCORE, 0.0]])
    y = np.array([1, 2, 0, 1])
    inputs = Inputs(scores=scores, y=y)
    loss, dscores = unpack(
        call_strict(bp, "softmax_cross_entropy", scores, y, divide="ignore",
                    hint_en=SOFTMAX_HINT_EN, hint_vi=SOFTMAX_HINT_VI),
        ("loss", "dscores"), "softmax_cross_entropy")
    inputs.check_unchanged("softmax_cross_entropy")
    loss = to_float(loss, "loss")
    if not np.isfinite(loss):
        fail(tr(f"loss is {loss} when the correct class scores 2e4 below the best one: its "
                "probability underflows to 0 and log(0) = -inf. Compute the log-probabilities "
                "directly: log p = shifted - log(sum(exp(shifted))) (log-sum-exp), not log(p).",
                f"loss bằng {loss} khi lớp đúng có điểm thấp hơn lớp cao nhất 2e4: xác suất của nó "
                "bị làm tròn về 0 và log(0) = -inf. Hãy tính trực tiếp log-xác suất: log p = "
                "shifted - log(sum(exp(shifted))) (log-sum-exp), không phải log(p)."))
    probs = np.exp(ref_log_softmax(scores))
    check_loss(loss, ref_ce(scores, y), "loss", mistakes=[
        Mistake(-np.mean(np.log(probs[np.arange(4), y] + 1e-12)), tr(
            "log(p + 1e-12) caps each example's loss at about 27.6: compute log-probabilities "
            "with log-sum-exp instead of adding a small constant.",
            "log(p + 1e-12) chặn hàm mất mát của mỗi mẫu ở khoảng 27,6: hãy tính log-xác suất "
            "bằng log-sum-exp thay vì cộng thêm một hằng số nhỏ.")),
    ])
    expected = probs.copy()
    expected[np.arange(4), y] -= 1.0
    check_close(dscores, expected / 4, "dscores", rtol=RTOL, atol=ATOL, what="scores")


@pytest.mark.hidden
@pytest.mark.points(1)
def test_softmax_cross_entropy_label_dtypes(bp, rng):
    n, c = 6, 4
    scores = 2.0 * rng.standard_normal((n, c))
    labels = rng.integers(0, c, size=n)
    expected_grad = numerical_gradient(lambda s: ref_ce(s, labels), scores, H)
    for dtype in (np.int8, np.uint8, np.int16, np.int32, np.uint32, np.int64, np.uint64):
        y = labels.astype(dtype)
        loss, dscores = unpack(bp.softmax_cross_entropy(scores, y), ("loss", "dscores"),
                               "softmax_cross_entropy")
        name = np.dtype(dtype).name
        check_loss(loss, ref_ce(scores, labels), f"loss (labels of dtype {name})")
        check_close(dscores, expected_grad, f"dscores (labels of dtype {name})", rtol=RTOL,
                    atol=ATOL, what="scores")


# --- mean squared error ---------------------------------------------------------------

@pytest.mark.points(1)
def test_mse_loss_value(bp, rng):
    for shape in ELEMENTWISE_SHAPES:
        pred, target = rng.standard_normal(shape), rng.standard_normal(shape)
        inputs = Inputs(pred=pred, target=target)
        loss, _ = unpack(bp.mse_loss(pred, target), ("loss", "dpred"), "mse_loss")
        inputs.check_unchanged("mse_loss")
        expected = float(np.mean((pred - target) ** 2))
        check_loss(loss, expected, "loss", mistakes=[
            Mistake(expected * pred.size, tr(
                "The loss is the sum of the squared errors: it must be their mean.",
                "Hàm mất mát đang là tổng bình phương sai số: phải là trung bình.")),
            Mistake(expected * pred.size / shape[0], tr(
                "The loss was divided by the number of rows only: take the mean over ALL elements.",
                "Hàm mất mát chỉ được chia cho số hàng: hãy lấy trung bình trên TẤT CẢ phần tử.")),
            Mistake(np.sqrt(expected), tr(
                "That is the root of the mean squared error (RMSE).",
                "Đó là căn bậc hai của sai số bình phương trung bình (RMSE).")),
        ])


@pytest.mark.points(1)
def test_mse_loss_gradient(bp, rng):
    for shape in ELEMENTWISE_SHAPES:
        pred, target = rng.standard_normal(shape), rng.standard_normal(shape)
        inputs = Inputs(pred=pred, target=target)
        _, dpred = unpack(bp.mse_loss(pred, target), ("loss", "dpred"), "mse_loss")
        inputs.check_unchanged("mse_loss")
        expected = numerical_gradient(lambda p, t=target: np.mean((p - t) ** 2), pred, H)
        k = pred.size
        check_close(dpred, expected, "dpred", rtol=RTOL, atol=ATOL, what="pred", mistakes=[
            Mistake(expected / 2, tr("The factor 2 of d(e**2)/de = 2e is missing.",
                                     "Thiếu hệ số 2 của d(e**2)/de = 2e.")),
            Mistake(expected * k / shape[0], tr(
                "dpred was divided by the number of rows: divide by pred.size, the number of "
                "elements the mean is over.",
                "dpred được chia cho số hàng: hãy chia cho pred.size, số phần tử mà ta lấy "
                "trung bình.")),
            Mistake(expected * k, tr(
                "dpred is not divided by the number of elements: the loss is a mean.",
                "dpred chưa được chia cho số phần tử: hàm mất mát là trung bình.")),
        ])


# --- two-layer net ---------------------------------------------------------------------

def net_case(rng, index, n, d, h, c):
    # Labels of another integer dtype in every other draw: any integer dtype is allowed.
    return make_net(rng, n, d, h, c, np.int64 if index % 2 == 0 else np.int32)


@pytest.mark.points(1)
@pytest.mark.parametrize("reg", [0.0, REG], ids=["reg0", "reg"])
def test_two_layer_net_loss(bp, rng, reg):
    for index, (n, d, h, c) in enumerate(NET_SHAPES):
        params, X, y = net_case(rng, index, n, d, h, c)
        inputs = Inputs(X=X, y=y, **params)
        loss, _ = unpack(bp.two_layer_net(params, X, y, reg), ("loss", "grads"), "two_layer_net")
        inputs.check_unchanged("two_layer_net")
        expected = ref_net_loss(params, X, y, reg)
        weights = np.sum(params["W1"] ** 2) + np.sum(params["W2"] ** 2)
        biases = np.sum(params["b1"] ** 2) + np.sum(params["b2"] ** 2)
        mistakes = [] if reg == 0 else [
            Mistake(expected - 0.5 * reg * weights, tr(
                "The regularisation term 0.5 * reg * (sum(W1**2) + sum(W2**2)) is missing.",
                "Thiếu số hạng điều chuẩn 0.5 * reg * (sum(W1**2) + sum(W2**2)).")),
            Mistake(expected + 0.5 * reg * weights, tr(
                "The regularisation term is reg * sum(W**2): the contract is "
                "0.5 * reg * sum(W**2).",
                "Số hạng điều chuẩn đang là reg * sum(W**2): yêu cầu là 0.5 * reg * sum(W**2).")),
            Mistake(expected + 0.5 * reg * biases, tr(
                "The biases were regularised too: only W1 and W2 are.",
                "Bias cũng bị điều chuẩn: chỉ W1 và W2 được điều chuẩn.")),
        ]
        check_net(check_loss, loss, expected, f"loss (reg={reg:g})", mistakes=mistakes)


@pytest.mark.points(2)
@pytest.mark.parametrize("reg", [0.0, REG], ids=["reg0", "reg"])
def test_two_layer_net_gradients(bp, rng, reg):
    for index, (n, d, h, c) in enumerate(NET_SHAPES):
        params, X, y = net_case(rng, index, n, d, h, c)
        inputs = Inputs(X=X, y=y, **params)
        _, grads = unpack(bp.two_layer_net(params, X, y, reg), ("loss", "grads"), "two_layer_net")
        inputs.check_unchanged("two_layer_net")
        if not isinstance(grads, dict):
            fail(tr(f"grads should be a dict with the keys of params, got {type(grads).__name__}",
                    f"grads phải là một dict có các khoá của params, nhưng nhận được "
                    f"{type(grads).__name__}"))
        missing = [key for key in params if key not in grads]
        extra = [str(key) for key in grads if key not in params]
        if missing or extra:
            fail(tr(f"grads must have exactly the keys of params {sorted(params)}: "
                    + "; ".join(filter(None, [missing and f"missing {missing}",
                                              extra and f"unexpected {extra}"])),
                    f"grads phải có đúng các khoá của params {sorted(params)}: "
                    + "; ".join(filter(None, [missing and f"thiếu {missing}",
                                              extra and f"thừa {extra}"]))))
        for key in params:
            check_shape(to_array(grads[key], f"grads['{key}']"), params[key].shape,
                        f"grads['{key}']", what=key)
        for key in ("W2", "b2", "W1", "b1"):
            def loss_of(p, params=params, key=key, X=X, y=y):
                return ref_net_loss({**params, key: p}, X, y, reg)

            expected = numerical_gradient(loss_of, params[key], H)
            term = reg * params[key]
            if reg == 0:
                mistakes = []
            elif key.startswith("W"):
                mistakes = [
                    Mistake(expected - term, tr(
                        f"The gradient of the regularisation, reg * {key}, is missing.",
                        f"Thiếu gradient của số hạng điều chuẩn, reg * {key}.")),
                    Mistake(expected + term, tr(
                        f"The regularisation gradient is 2 * reg * {key}: the derivative of "
                        f"0.5 * reg * sum({key}**2) is reg * {key}.",
                        f"Gradient điều chuẩn đang là 2 * reg * {key}: đạo hàm của "
                        f"0.5 * reg * sum({key}**2) là reg * {key}.")),
                ]
            else:
                mistakes = [Mistake(expected + term, tr(
                    f"reg * {key} was added: the biases are not regularised.",
                    f"Đã cộng reg * {key}: bias không bị điều chuẩn."))]
            check_net(check_close, grads[key], expected, f"grads['{key}'] (reg={reg:g})", rtol=RTOL,
                      atol=ATOL, what=key, mistakes=mistakes)


@pytest.mark.points(1)
def test_two_layer_net_default_reg(bp, rng):
    """two_layer_net(params, X, y) is two_layer_net(params, X, y, reg=0.0): the student's own two
    results are compared, so a mistake elsewhere in the net costs nothing here."""
    n, d, h, c = NET_SHAPES[0]
    params, X, y = make_net(rng, n, d, h, c)
    inputs = Inputs(X=X, y=y, **params)
    signature = "two_layer_net(params, X, y, reg=0.0)"
    try:
        default = bp.two_layer_net(params, X, y)
    except TypeError as exc:
        if "argument" not in str(exc):
            raise
        fail(tr(f"two_layer_net(params, X, y) raised TypeError ({exc}): the contract's signature is "
                f"{signature}, so reg may be left out and then means no regularisation.",
                f"two_layer_net(params, X, y) gây lỗi TypeError ({exc}): chữ ký trong đặc tả là "
                f"{signature}, nên có thể bỏ qua reg và khi đó không có điều chuẩn."))
    loss, grads = unpack(default, ("loss", "grads"), "two_layer_net")
    inputs.check_unchanged("two_layer_net")
    loss0, grads0 = unpack(bp.two_layer_net(params, X, y, 0.0), ("loss", "grads"), "two_layer_net")
    loss, loss0 = to_float(loss, "loss"), to_float(loss0, "loss (reg=0)")
    same = abs(loss - loss0) <= ATOL + RTOL * abs(loss0)
    if same and isinstance(grads, dict) and isinstance(grads0, dict):
        for key in params:
            if key in grads and key in grads0:
                a, e = to_array(grads[key], f"grads['{key}']"), to_array(grads0[key], f"grads['{key}']")
                same = same and a.shape == e.shape and bool(np.allclose(a, e, rtol=RTOL, atol=ATOL))
    if same:
        return
    implied = (loss - loss0) / (0.5 * (np.sum(params["W1"] ** 2) + np.sum(params["W2"] ** 2)))
    fail(tr(f"two_layer_net(params, X, y) without reg gave the loss {loss:.6g} and "
            f"two_layer_net(params, X, y, 0.0) {loss0:.6g}"
            + (f" (the term of reg={implied:.3g})" if loss != loss0 else ", but other gradients")
            + f": the default must be reg=0.0, no regularisation, as in the contract's signature "
            f"{signature}.",
            f"two_layer_net(params, X, y) khi không truyền reg cho giá trị mất mát {loss:.6g} còn "
            f"two_layer_net(params, X, y, 0.0) cho {loss0:.6g}"
            + (f" (đúng số hạng của reg={implied:.3g})" if loss != loss0 else ", nhưng gradient khác")
            + f": giá trị mặc định phải là reg=0.0, không điều chuẩn, như trong chữ ký của đặc tả "
            f"{signature}."))
