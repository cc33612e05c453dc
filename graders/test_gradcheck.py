"""Grader of exercise 2, ``gradcheck``: gradient checking with centred differences.

Contract: docs/contract.md, section 2 (its clauses and the tests that check them).

What is graded (42 points, of which 4 in hidden tests that are not described here):

- ``numerical_gradient`` (14 + hidden): known analytic gradients on shapes (1,), 1-D, 2-D
  non-square and 3-D (6); centred, not one-sided differences (3); the step ``h`` is the
  one given (1), and 1e-5 when none is (1); ``x`` restored bit for bit and ``f`` always
  called with arrays shaped like ``x`` (3).
- ``numerical_gradient_array`` (5 + hidden): known Jacobian-vector products (3); the step
  ``h`` given, and 1e-5 by default (1); ``x`` restored (1).
- ``relative_error`` (5): a hand-computed value, symmetric (2); all-zero arrays give 0.0
  without nan or warning (2); the ``eps`` floor (1).
- ``gradient_check`` (14): below 1e-7 for correct gradients (2), above 1e-2 for wrong ones
  (2); gradients that are 0: 0.0, not nan, where both are 0, and the eps floor where only
  the analytic one is (1); the largest error over the coordinates checked, not the mean
  (2); same seed, same result, and the seed matters (2); 2 * num_checks calls to f, not a
  full gradient (2); ``x`` restored bit for bit and ``analytic_grad`` unchanged (1); the
  step ``h`` given, and 1e-5 by default (1); the defaults ``num_checks=10`` and ``seed=0`` (1).

Every f handed to the student checks that it receives arrays shaped like x. Perturbing x
in place or passing f perturbed copies are both correct; the coordinates gradient_check
draws are its own choice, so they are never compared with the reference's. Graded calls
never ask gradient_check for more coordinates than x has (drawing without replacement is
fine).

Expected values come from analytic formulas or the graders' own
``autograder.grading.numgrad``, never from the student's other functions.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from autograder.grading import numgrad
from autograder.grading.checks import GradingFailure, Mistake, check_close, fail, to_array, to_float
from autograder.grading.messages import tr
from autograder.grading.plugin import student_message
from autograder.grading.values import TestFunction

# Time limit of each test (unless it says otherwise): the reference's slowest test takes
# ~0.02 s here (centred differences over at most 24 elements, a few hundred calls of f);
# loops and a loaded machine stay far under 10 s; an endless loop costs 10 s once
pytestmark = pytest.mark.time_limit(10)

H = 1e-5  # the contract's default step

# Numerical gradients against analytic ones. On every test function here a correct
# centred difference (float64, h=1e-5) is within ~3e-10 (abs) / 3e-10 (rel) of the
# analytic gradient: truncation h^2 f'''/6 ~ 1e-10, rounding eps*|f|/h ~ 1e-10. A
# one-sided difference is off by h f''/2, 20-200 times beyond these tolerances, and
# float32 copies (error ~ 6e-8/h ~ 1e-2) by thousands of times.
GRAD_RTOL = 1e-7
GRAD_ATOL = 1e-7
# relative_error: the values are simple float64 formulas (rounding ~1e-16). 1e-7 lets a
# denominator |a| + |b| + eps pass where |a| + |b| >> eps (it is off by eps / (|a| + |b|));
# test_relative_error_eps is the one test where the floor max(eps, ...) matters. Every
# mistaken formula is off by far more (percent level).
REL_RTOL = 1e-7
REL_ATOL = 1e-12
# gradient_check: below GOOD_MAX for a correct gradient (the course's own rule of thumb;
# a correct checker gives < 1e-9 on the functions used, whose gradients are far from 0,
# a one-sided one ~ h f''/(4 f') >= 2.5e-6), above WRONG_MIN for a wrong one.
GOOD_MAX = 1e-7
WRONG_MIN = 1e-2
# The value gradient_check returns must be one of the per-coordinate relative errors the
# grader computes (its own centred differences differ from the student's by rounding).
PICK_RTOL = 1e-6
# test_gradient_check_zero_gradient, sum(x**3) at x = 0 with analytic_grad = 0: every
# centred (and one-sided) difference is h² = 1e-10, so the error is h² / max(1e-8, h²) = 0.01
# (1.0 without the floor). 2e-2 also lets a denominator |a| + |b| + eps pass (0.0099), as
# everywhere but test_relative_error_eps.
FLOOR_RTOL = 2e-2
# f calls allowed for num_checks coordinates: 2 per coordinate, a couple extra (e.g. an
# initial f(x)), and one duplicate coordinate skipped.
EXTRA_CALLS = 2


@pytest.fixture
def gc(impl):
    return impl.exercise("gradcheck")


# --- helpers ------------------------------------------------------------------------

def check_shapes(f, fn_name):
    """Fail if the student's fn_name called the test function f with an array not shaped
    like x (f is a TestFunction made with shape=x.shape, which records the first one)."""
    if f.bad_shape is None:
        return
    fail(tr(f"{fn_name} called f with an array of shape {f.bad_shape}, but x has shape "
            f"{f.shape}: f must always receive an array shaped like x (perturb x or a "
            "copy of x, not a flattened version).",
            f"{fn_name} gọi f với một mảng kích thước {f.bad_shape}, nhưng x có kích thước "
            f"{f.shape}: f phải luôn nhận một mảng cùng kích thước với x (hãy dịch chuyển x "
            "hoặc một bản sao của x, không phải một bản đã làm phẳng)."))


def call(gc, fn_name, f, *args, **kwargs):
    """Call gc.<fn_name>(f, *args, **kwargs), where f is a TestFunction made with
    shape=x.shape; f.calls then counts the calls of this one call. If f was given an array
    not shaped like x, say so, whether the call returned or raised (f raised ValueError
    inside the student's code). If a numerical gradient crashes on a multi-dimensional x,
    add a hint about shapes. Graded calls never ask gradient_check for more coordinates
    than x has, so that drawing them without replacement is fine."""
    assert isinstance(f, TestFunction) and f.shape is not None, "f is a TestFunction with shape=x.shape"
    f.calls, f.bad_shape = 0, None
    shape = f.shape
    fn = getattr(gc, fn_name)
    try:
        result = fn(f, *args, **kwargs)
    except Exception as exc:
        check_shapes(f, fn_name)
        if (not isinstance(exc, (IndexError, ValueError, TypeError)) or len(shape) < 2
                or isinstance(exc, GradingFailure) or fn_name == "gradient_check"):
            raise
        sentence = student_message(exc, gc.owns)
        if sentence is None:
            raise
        fail(sentence + " " + tr(
            f"Here x has shape {tuple(shape)}: does your loop handle arrays of any shape? "
            "Loop over np.ndindex(x.shape) (or np.nditer with multi_index) so that each step moves "
            "one element; with an integer i, x[i] is a whole row.",
            f"Ở đây x có kích thước {tuple(shape)}: vòng lặp của bạn có chạy được với mảng mọi kích "
            "thước không? Hãy lặp qua np.ndindex(x.shape) (hoặc np.nditer với multi_index) để mỗi "
            "bước chỉ dịch chuyển một phần tử; với số nguyên i, x[i] là cả một hàng."))
    check_shapes(f, fn_name)
    return result


def one_sided(f, x, h, sign=+1):
    """(f(x + sign h e_i) - f(x)) / (sign h) for every i: the one-sided mistakes."""
    x = np.array(x, dtype=np.float64)
    f0, grad = float(f(x)), np.zeros_like(x)
    for index in np.ndindex(x.shape):
        moved = x.copy()
        moved[index] += sign * h
        grad[index] = (float(f(moved)) - f0) / (sign * h)
    return grad


def gradient_mistakes(f, x, expected, h=H):
    one_sided_msg = tr(
        "This is the one-sided difference (f(x+h) - f(x)) / h: its error is about h·f''/2, "
        "far more than the centred difference's h²·f'''/6. Use (f(x+h) - f(x-h)) / (2h).",
        "Đây là sai phân một phía (f(x+h) - f(x)) / h: sai số của nó cỡ h·f''/2, lớn hơn nhiều so "
        "với h²·f'''/6 của sai phân trung tâm. Hãy dùng (f(x+h) - f(x-h)) / (2h).")
    mistakes = [
        Mistake(one_sided(f, x, h, +1), one_sided_msg),
        Mistake(one_sided(f, x, h, -1), one_sided_msg),
        Mistake(2 * expected, tr("Your gradient is twice the true one: divide f(x+h) - f(x-h) by "
                                 "2h, the distance between the two points, not by h.",
                                 "Gradient của bạn gấp đôi giá trị đúng: hãy chia f(x+h) - f(x-h) "
                                 "cho 2h, khoảng cách giữa hai điểm, không phải cho h.")),
    ]
    if expected.ndim >= 2:
        slice_sums = expected.reshape(expected.shape[0], -1).sum(axis=1)
        mistakes.append(Mistake(
            np.broadcast_to(slice_sums.reshape((-1,) + (1,) * (expected.ndim - 1)), expected.shape),
            tr("Every element of x[i] got the same value, the sum of the true gradient over x[i]: "
               "with one integer index, x[i] is a whole row (slice) of a multi-dimensional array. "
               "Loop over np.ndindex(x.shape) to move one element at a time.",
               "Mọi phần tử của x[i] nhận cùng một giá trị, bằng tổng gradient đúng trên x[i]: với "
               "một chỉ số nguyên, x[i] là cả một hàng (lát cắt) của mảng nhiều chiều. Hãy lặp qua "
               "np.ndindex(x.shape) để mỗi lần chỉ dịch chuyển một phần tử.")))
    return mistakes


def check_gradient(actual, expected, name, mistakes=()):
    """check_close with the gradient tolerances; when no known mistake explains the
    difference, a hint on the usual causes instead of check_close's generic guesses (its
    "k times the expected value" would mislead here: float32 noise looks like a factor)."""
    e = np.asarray(expected, dtype=np.float64)
    a = to_array(actual, name)
    fallback = [
        Mistake(np.zeros_like(e), tr(f"{name} is all zeros: does f see the perturbed x?",
                                     f"{name} toàn số 0: f có nhận được x đã dịch chuyển không?")),
        Mistake(-e, tr("It has the wrong sign: the centred difference is (f(x+h) - f(x-h)) / (2h).",
                       "Kết quả bị ngược dấu: sai phân trung tâm là (f(x+h) - f(x-h)) / (2h).")),
    ]
    if a.shape == e.shape and np.all(np.isfinite(a)):
        fallback.append(Mistake(a, tr(
            "Check the centred difference (f(x+h) - f(x-h)) / (2h) with the h you were given, "
            "computed in float64 (float32 copies lose the digits that h=1e-5 needs), moving one "
            "element at a time and putting it back before the next.",
            "Hãy kiểm tra sai phân trung tâm (f(x+h) - f(x-h)) / (2h) với đúng h được truyền vào, "
            "tính bằng float64 (bản sao float32 làm mất những chữ số mà h=1e-5 cần), mỗi lần chỉ "
            "dịch chuyển một phần tử và đặt lại nó trước khi sang phần tử kế tiếp.")))
    check_close(a, e, name, rtol=GRAD_RTOL, atol=GRAD_ATOL, mistakes=list(mistakes) + fallback,
                what="x")


def tricky_x(rng, shape):
    """Values where x + h - h, or x + h - 2h + h, is not x again in floating point."""
    size = int(np.prod(shape))
    kinds = [0.1 * rng.integers(1, 10, size),               # 0.1, 0.3, ...: ((x+h)-2h)+h != x
             1e-7 * rng.standard_normal(size),              # tiny: (x+h)-h loses digits
             1e3 * rng.random(size) * rng.choice([-1, 1], size),
             rng.standard_normal(size)]
    choice = rng.choice(len(kinds), size, p=[0.3, 0.4, 0.15, 0.15])
    choice[: len(kinds)] = np.arange(len(kinds))            # every kind at least once
    values = np.choose(choice, kinds)
    return rng.permutation(values).reshape(shape)


def check_restored(x, original, fn_name):
    """Fail unless the array object x holds, bit for bit, the values in original."""
    if x.shape == original.shape and np.array_equal(x, original):
        return
    if x.shape != original.shape:
        fail(tr(f"{fn_name} changed the shape of x from {original.shape} to {x.shape}.",
                f"{fn_name} đã đổi kích thước của x từ {original.shape} thành {x.shape}."))
    changed = np.argwhere(x != original)
    index = tuple(int(i) for i in changed[0])
    before, after = float(original[index]), float(x[index])
    where = tr(f"{len(changed)} element(s) of x changed; at index {index} x was {before!r} and "
               f"is {after!r} after the call. ",
               f"{len(changed)} phần tử của x đã bị thay đổi; tại chỉ số {index} x từng là {before!r} "
               f"và sau lời gọi là {after!r}. ")
    steps = (after - before) / H
    if round(steps) != 0 and abs(steps - round(steps)) < 1e-3:
        k = f"{round(steps):+d}"
        why = tr(f"That is off by {k}·h: put every element back after perturbing it.",
                 f"Lệch đúng {k}·h: hãy đặt lại mỗi phần tử sau khi dịch chuyển nó.")
    else:
        why = tr("Put back the saved value (old = x[i] ... x[i] = old) instead of undoing with "
                 "x[i] += h or x[i] -= h: floating-point arithmetic does not undo exactly, "
                 "e.g. ((0.1 + h) - 2*h) + h != 0.1.",
                 "Hãy đặt lại giá trị đã lưu (old = x[i] ... x[i] = old) thay vì hoàn tác bằng "
                 "x[i] += h hay x[i] -= h: phép tính dấu phẩy động không đảo ngược chính xác, "
                 "ví dụ ((0.1 + h) - 2*h) + h != 0.1.")
    fail(tr(f"{fn_name} must leave x exactly as it was. ", f"{fn_name} phải giữ nguyên x. ")
         + where + why)


# --- numerical_gradient -------------------------------------------------------------

def _case(name, rng):
    """(x, f, analytic gradient) of a function with a known gradient."""
    if name == "sum(x**3), x of shape (1,)":
        x = rng.uniform(0.5, 1.5, (1,)) * rng.choice([-1, 1])
        return x, TestFunction("np.sum(z ** 3)", shape=x.shape), 3 * x ** 2
    if name == "2.5 * sum(sin(x)), x of shape (7,)":
        x = 2 * rng.standard_normal(7)
        return x, TestFunction("2.5 * np.sum(np.sin(z))", shape=x.shape), 2.5 * np.cos(x)
    if name == "x @ A @ x with A not symmetric, x of shape (6,)":
        A = rng.standard_normal((6, 6))  # not symmetric: the gradient is (A + A^T) x
        x = rng.standard_normal(6)
        return x, TestFunction("z @ A @ z", A=A, shape=x.shape), (A + A.T) @ x
    if name == "sum(W @ v), W of shape (3, 5)":
        v = rng.standard_normal(5)
        x = rng.standard_normal((3, 5))
        return x, TestFunction("np.sum(z @ v)", v=v, shape=x.shape), np.ones((3, 1)) * v
    if name == "sum((W @ u)**2), W of shape (4, 3)":
        u = rng.standard_normal(3)
        x = rng.standard_normal((4, 3))
        return x, TestFunction("np.sum((z @ u) ** 2)", u=u, shape=x.shape), 2 * np.outer(x @ u, u)
    if name == "sum(C * x**2) + sum(exp(x)), x of shape (2, 3, 4)":
        C = rng.uniform(0.5, 2.0, (2, 3, 4))
        x = rng.standard_normal((2, 3, 4))
        f = TestFunction("np.sum(C * z ** 2) + np.sum(np.exp(z))", C=C, shape=x.shape)
        return x, f, 2 * C * x + np.exp(x)
    raise KeyError(name)


KNOWN = [
    pytest.param("sum(x**3), x of shape (1,)", id="cube-1"),
    pytest.param("2.5 * sum(sin(x)), x of shape (7,)", id="sin-7"),
    pytest.param("x @ A @ x with A not symmetric, x of shape (6,)", id="quadratic-form-6"),
    pytest.param("sum(W @ v), W of shape (3, 5)", id="matrix-3x5"),
    pytest.param("sum((W @ u)**2), W of shape (4, 3)", id="matrix-4x3"),
    pytest.param("sum(C * x**2) + sum(exp(x)), x of shape (2, 3, 4)", id="tensor-2x3x4"),
]


@pytest.mark.points(1)
@pytest.mark.parametrize("case", KNOWN)
def test_numerical_gradient_known_functions(gc, rng, case):
    x, f, expected = _case(case, rng)
    grad = call(gc, "numerical_gradient", f, x)
    case_vi = (case.replace("x of shape", "x kích thước").replace("W of shape", "W kích thước")
               .replace("with A not symmetric", "với A không đối xứng"))
    check_gradient(grad, expected, tr(f"numerical_gradient for {case}",
                                      f"numerical_gradient với {case_vi}"),
                   gradient_mistakes(f, x, expected))


@pytest.mark.points(3)
def test_numerical_gradient_centred(gc, rng):
    """Large second derivatives: a one-sided difference is off by ~h f''/2 there."""
    exp_x = rng.uniform(0.2, 1.0, (3, 4))
    quartic_x = rng.uniform(1.5, 2.5, 5) * rng.choice([-1, 1], 5)
    cases = [
        ("sum(exp(3x))", exp_x, TestFunction("np.sum(np.exp(3 * z))", shape=exp_x.shape),
         lambda x: 3 * np.exp(3 * x)),
        ("sum(x**4)", quartic_x, TestFunction("np.sum(z ** 4)", shape=quartic_x.shape),
         lambda x: 4 * x ** 3),
    ]
    for label, x, f, grad_f in cases:
        expected = grad_f(x)
        grad = call(gc, "numerical_gradient", f, x)
        check_gradient(grad, expected, f"numerical_gradient ({label}, h=1e-5)",
                       gradient_mistakes(f, x, expected))


@pytest.mark.points(1)
def test_numerical_gradient_uses_h(gc, rng):
    """For sum(x**3) the centred difference is exactly 3x² + h²: h=1e-2 shows in the result."""
    h = 1e-2
    x = rng.uniform(0.5, 1.5, (2, 3)) * rng.choice([-1, 1], (2, 3))
    f = TestFunction("np.sum(z ** 3)", shape=x.shape)
    grad = call(gc, "numerical_gradient", f, x, h=h)
    expected = 3 * x ** 2 + h ** 2
    check_gradient(grad, expected, tr("numerical_gradient(f, x, h=1e-2) for sum(x**3)",
                                      "numerical_gradient(f, x, h=1e-2) với sum(x**3)"),
                   gradient_mistakes(f, x, expected, h) + [Mistake(3 * x ** 2 + H ** 2, tr(
                       "This is the result for h=1e-5: use the h argument you were given.",
                       "Đây là kết quả với h=1e-5: hãy dùng đúng tham số h được truyền vào."))])


# The step a centred difference used, read off its result. For f = sum(exp(A z)) the centred
# difference at x is exactly exp(A x) sinh(A h) / h = f'(x) r(h), r(h) = sinh(A h) / (A h)
# = 1 + (A h)²/6 + ..., the same factor at every coordinate. With A = 30, h = 1e-5 and
# |x| <= STEP_X, r - 1 = 1.5e-8, while float64 rounding (eps |f| / (h |f'|) ~ 1e-12) and the
# rounding of x + h itself (eps |x| / h ~ 1e-12) are 10^4 times smaller. A result within
# STEP_FRACTION = 10% of r - 1 means a step within ~5% of h (r - 1 grows as h²): h = 1e-6
# (r - 1 = 1.5e-10) and h = 1e-4 (1.5e-6) are far outside, float32 arithmetic far more so.
STEP_A = 30.0
STEP_X = 0.05
STEP_FRACTION = 0.1
STEP_ATOL = 1e-12  # absolute part: 10% of r - 1 is >= 5e-9 on these derivatives (>= 3.3)


def step_factor(h):
    """r(h) = sinh(A h) / (A h): the centred difference of exp(A z) over its derivative."""
    return float(np.sinh(STEP_A * h) / (STEP_A * h))


def step_used(ratio):
    """The step h with step_factor(h) == ratio at every coordinate (within 20%), or None."""
    ratio = np.asarray(ratio, dtype=np.float64).ravel()
    if ratio.size == 0 or not np.all(np.isfinite(ratio)) or not np.all(ratio > 1.0):
        return None
    steps = np.sqrt(6.0 * (ratio - 1.0)) / STEP_A
    return float(np.median(steps)) if steps.max() <= 1.2 * steps.min() else None


def check_step(grad, derivative, h, name, mistakes, hint):
    """grad must be the centred difference of step h of exp(A z) (weighted by dout), whose
    derivative is ``derivative``; else the step the student used, a known mistake, or ``hint``."""
    a = to_array(grad, name)
    expected = derivative * step_factor(h)
    tolerance = STEP_FRACTION * (step_factor(h) - 1.0)
    if a.shape == expected.shape and np.allclose(a, expected, rtol=tolerance, atol=STEP_ATOL):
        return
    if a.shape == expected.shape and not any(
            np.allclose(a, m.value, rtol=GRAD_RTOL, atol=GRAD_ATOL) for m in mistakes):
        with np.errstate(all="ignore"):
            used = step_used(a / derivative)
        if used is not None:
            fail(tr(f"{name}: the values are those of a centred difference with a step of about "
                    f"{used:.2g}, not h={h:g}. {hint[0]}",
                    f"{name}: các giá trị là của sai phân trung tâm với bước khoảng {used:.2g}, "
                    f"không phải h={h:g}. {hint[1]}"))
    check_gradient(a, expected, name, mistakes)  # names a known mistake, if any
    fail(tr(f"{name} is off by more than {tolerance:.2g} (relative) from the centred difference "
            f"with h={h:g}. {hint[0]}",
            f"{name} lệch hơn {tolerance:.2g} (tương đối) so với sai phân trung tâm với h={h:g}. "
            f"{hint[1]}"))


DEFAULT_H_HINT = (
    ("The default step must be h=1e-5, as in numerical_gradient(f, x, h=1e-5): it balances the "
     "truncation error h²·f'''/6 against the rounding error eps·|f|/h."),
    ("Bước mặc định phải là h=1e-5, như trong numerical_gradient(f, x, h=1e-5): nó cân bằng sai số "
     "cắt cụt h²·f'''/6 với sai số làm tròn eps·|f|/h."))


@pytest.mark.points(1)
def test_numerical_gradient_default_h(gc, rng):
    """numerical_gradient(f, x) without h: the step shows in the result (see STEP_A)."""
    x = rng.uniform(-STEP_X, STEP_X, (2, 3))
    f = TestFunction(f"np.sum(np.exp({STEP_A!r} * z))", shape=x.shape)
    grad = call(gc, "numerical_gradient", f, x)
    derivative = STEP_A * np.exp(STEP_A * x)
    check_step(grad, derivative, H, tr("numerical_gradient(f, x) for sum(exp(30x)), without h",
                                       "numerical_gradient(f, x) với sum(exp(30x)), không truyền h"),
               gradient_mistakes(f, x, derivative * step_factor(H)), DEFAULT_H_HINT)


@pytest.mark.points(3)
def test_numerical_gradient_restores_x(gc, rng):
    for shape in [(9,), (4, 6)]:
        x = tricky_x(rng, shape)
        original = x.copy()
        weights = rng.standard_normal(shape)
        f = TestFunction("np.sum(w * z ** 2)", w=weights, shape=shape)
        call(gc, "numerical_gradient", f, x)
        check_restored(x, original, "numerical_gradient")
        if f.calls < 2 * x.size:
            fail(tr(f"numerical_gradient called f {f.calls} times for an x of {x.size} "
                    f"elements: a centred difference needs f(x+h e_i) and f(x-h e_i) for every i.",
                    f"numerical_gradient gọi f {f.calls} lần với x có {x.size} phần tử: sai "
                    "phân trung tâm cần f(x+h e_i) và f(x-h e_i) cho mọi i."))


@pytest.mark.hidden
@pytest.mark.points(2)
def test_numerical_gradient_noncontiguous(gc, rng):
    """x may be a view that is not contiguous in memory, e.g. a transposed weight matrix."""
    base = rng.standard_normal((5, 3))
    base_copy = base.copy()
    x = base.T  # shape (3, 5); x.reshape(-1) is a copy, not a view, of it
    v = rng.standard_normal(5)
    f = TestFunction("np.sum(z @ v) + np.sum(z ** 3)", v=v, shape=x.shape)
    grad = call(gc, "numerical_gradient", f, x)
    expected = np.ones((3, 1)) * v + 3 * x ** 2
    check_gradient(grad, expected, tr("numerical_gradient with x = W.T (a non-contiguous view)",
                                      "numerical_gradient với x = W.T (một view không liên tục)"),
                   gradient_mistakes(f, x, expected) + [Mistake(np.zeros_like(expected), tr(
                       "Your gradient is all zeros: the elements you moved were not those of x. "
                       "x.reshape(-1) or x.ravel() is a copy when x is not contiguous (here x = W.T); "
                       "index x itself with np.ndindex(x.shape), or perturb an explicit copy and "
                       "pass that copy to f.",
                       "Gradient của bạn toàn số 0: các phần tử bạn dịch chuyển không phải của x. "
                       "x.reshape(-1) hay x.ravel() là một bản sao khi x không liên tục trong bộ nhớ "
                       "(ở đây x = W.T); hãy đánh chỉ số trực tiếp trên x bằng np.ndindex(x.shape), "
                       "hoặc dịch chuyển một bản sao tường minh và truyền bản sao đó cho f."))])
    check_restored(base, base_copy, "numerical_gradient")


# --- numerical_gradient_array ---------------------------------------------------------

def _array_case(name, rng):
    """(x, f, dout, expected gradient of sum(f(x) * dout))."""
    if name == "A @ x":
        A = rng.standard_normal((5, 4))
        x = rng.standard_normal((4, 3))
        dout = rng.standard_normal((5, 3))
        return x, TestFunction("A @ z", A=A, shape=x.shape), dout, A.T @ dout
    if name == "x**2":
        x = rng.standard_normal((3, 4))
        dout = rng.standard_normal((3, 4))
        return x, TestFunction("z ** 2", shape=x.shape), dout, 2 * x * dout
    if name == "tanh(x @ W)":
        W = rng.standard_normal((4, 6))
        x = rng.standard_normal((3, 4))
        dout = rng.standard_normal((3, 6))
        out = np.tanh(x @ W)
        f = TestFunction("np.tanh(z @ W)", W=W, shape=x.shape)
        return x, f, dout, (dout * (1 - out ** 2)) @ W.T
    raise KeyError(name)


def array_mistakes(f, x, dout, expected):
    return [
        Mistake(numgrad.numerical_gradient_array(f, x, np.ones_like(dout), H), tr(
            "This is the gradient of sum(f(x)), not of sum(f(x) * dout): weight the change of "
            "every output by dout.",
            "Đây là gradient của sum(f(x)), không phải của sum(f(x) * dout): hãy nhân thay đổi của "
            "từng đầu ra với dout.")),
        Mistake(one_sided(lambda z: np.sum(f(z) * dout), x, H), tr(
            "This is a one-sided difference: use (f(x+h) - f(x-h)) / (2h).",
            "Đây là sai phân một phía: hãy dùng (f(x+h) - f(x-h)) / (2h).")),
        Mistake(2 * expected, tr("Your gradient is twice the true one: divide by 2h, not h.",
                                 "Gradient của bạn gấp đôi giá trị đúng: hãy chia cho 2h, không "
                                 "phải cho h.")),
    ]


@pytest.mark.points(1)
@pytest.mark.parametrize("case", ["A @ x", "x**2", "tanh(x @ W)"],
                         ids=["matmul", "square", "tanh-affine"])
def test_numerical_gradient_array_known(gc, rng, case):
    x, f, dout, expected = _array_case(case, rng)
    grad = call(gc, "numerical_gradient_array", f, x, dout)
    check_gradient(grad, expected, tr(f"numerical_gradient_array for f(x) = {case}",
                                      f"numerical_gradient_array với f(x) = {case}"),
                   array_mistakes(f, x, dout, expected))


@pytest.mark.points(1)
def test_numerical_gradient_array_restores_x(gc, rng):
    x = tricky_x(rng, (3, 5))
    original = x.copy()
    dout = rng.standard_normal((3, 5))
    dout_copy = dout.copy()
    call(gc, "numerical_gradient_array", TestFunction("z ** 2", shape=x.shape), x, dout)
    check_restored(x, original, "numerical_gradient_array")
    if not np.array_equal(dout, dout_copy):
        fail(tr("numerical_gradient_array modified dout: it must not change its inputs.",
                "numerical_gradient_array đã sửa dout: hàm không được thay đổi đầu vào."))


@pytest.mark.points(1)
def test_numerical_gradient_array_uses_h(gc, rng):
    """f(x) = exp(30x) element-wise: the centred difference shows its step (see STEP_A), with
    h=1e-3 given and without h (the default 1e-5)."""
    x = rng.uniform(-STEP_X, STEP_X, (3, 4))
    dout = rng.uniform(0.5, 1.5, x.shape) * rng.choice([-1.0, 1.0], x.shape)
    f = TestFunction(f"np.exp({STEP_A!r} * z)", shape=x.shape)
    derivative = dout * STEP_A * np.exp(STEP_A * x)
    for kwargs, h in (({"h": 1e-3}, 1e-3), ({}, H)):
        grad = call(gc, "numerical_gradient_array", f, x, dout, **kwargs)
        given = "h=1e-3" if kwargs else tr("without h", "không truyền h")
        hint = (("Use the h argument you were given.", "Hãy dùng đúng tham số h được truyền vào.")
                if kwargs else
                ("The default step must be h=1e-5, as in numerical_gradient_array(f, x, dout, h=1e-5).",
                 "Bước mặc định phải là h=1e-5, như trong numerical_gradient_array(f, x, dout, h=1e-5)."))
        check_step(grad, derivative, h, tr(f"numerical_gradient_array for f(x) = exp(30x), {given}",
                                           f"numerical_gradient_array với f(x) = exp(30x), {given}"),
                   array_mistakes(f, x, dout, derivative * step_factor(h)), hint)


@pytest.mark.hidden
@pytest.mark.points(2)
def test_numerical_gradient_array_view_output(gc, rng):
    """f returns a view of its input, as a flatten layer does (z.reshape(N, -1))."""
    x = rng.standard_normal((2, 3, 4))
    dout = rng.standard_normal((2, 12))
    f = TestFunction("z.reshape(z.shape[0], -1)", shape=x.shape)
    grad = call(gc, "numerical_gradient_array", f, x, dout)
    expected = dout.reshape(x.shape)
    check_gradient(grad, expected, tr("numerical_gradient_array for a flatten layer f(x) = x.reshape(N, -1)",
                                      "numerical_gradient_array với lớp flatten f(x) = x.reshape(N, -1)"),
                   array_mistakes(f, x, dout, expected) + [Mistake(np.zeros_like(expected), tr(
                       "Your gradient is all zeros: here f(x) returns a view of x (as a flatten "
                       "layer does), so after you perturb x again the output you kept changes too. "
                       "Keep a copy: out_plus = np.array(f(x)) or f(x).copy().",
                       "Gradient của bạn toàn số 0: ở đây f(x) trả về một view của x (như lớp "
                       "flatten), nên khi bạn dịch chuyển x lần nữa thì đầu ra đã lưu cũng đổi theo. "
                       "Hãy giữ một bản sao: out_plus = np.array(f(x)) hoặc f(x).copy()."))])


# --- relative_error -------------------------------------------------------------------

def relative_error_mistakes(a, b, eps=1e-8):
    """Values that known mistaken formulas give for relative_error(a, b, eps)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    diff, total = np.abs(a - b), np.abs(a) + np.abs(b)
    with np.errstate(divide="ignore", invalid="ignore"):
        right = diff / np.maximum(eps, total)
        candidates = [
            (np.mean(right), tr("That is the mean over elements: return the largest (np.max); a "
                                "mean hides one wrong entry among many right ones.",
                                "Đó là giá trị trung bình trên các phần tử: hãy trả về giá trị lớn "
                                "nhất (np.max); trung bình che mất một phần tử sai giữa nhiều phần "
                                "tử đúng.")),
            (np.sum(right), tr("That is the sum over elements: return the largest (np.max).",
                               "Đó là tổng trên các phần tử: hãy trả về giá trị lớn nhất (np.max).")),
            *[(np.max(diff / np.maximum(floor, np.abs(one))), tr(
                f"You divided by |{letter}| only: the denominator is max(eps, |a| + |b|), "
                "symmetric in a and b.",
                f"Bạn chỉ chia cho |{letter}|: mẫu số là max(eps, |a| + |b|), đối xứng theo a và b."))
              for one, letter in ((a, "a"), (b, "b")) for floor in (0.0, eps)],
            (np.max(diff / np.maximum(eps, np.maximum(np.abs(a), np.abs(b)))), tr(
                "You divided by max(|a|, |b|): the denominator is max(eps, |a| + |b|).",
                "Bạn chia cho max(|a|, |b|): mẫu số là max(eps, |a| + |b|).")),
            (np.max(diff / np.maximum(eps, np.abs(a + b))), tr(
                "You divided by |a + b|: the denominator is max(eps, |a| + |b|).",
                "Bạn chia cho |a + b|: mẫu số là max(eps, |a| + |b|).")),
            (np.max(diff / (total + eps)), tr(
                "You added eps to the denominator: the contract uses it as a floor, "
                "max(eps, |a| + |b|); the two differ where |a| + |b| is close to eps.",
                "Bạn cộng eps vào mẫu số: đề bài dùng eps làm cận dưới, max(eps, |a| + |b|); hai "
                "cách khác nhau khi |a| + |b| gần bằng eps.")),
            (np.max(diff / np.maximum(1e-8, total)), tr(
                "That is the value for eps=1e-8: use the eps argument you were given.",
                "Đó là giá trị với eps=1e-8: hãy dùng đúng tham số eps được truyền vào.")),
            (np.max(np.where(total > 0, diff / np.where(total > 0, total, 1.0), 0.0)), tr(
                "Without the eps floor tiny values give huge errors and zeros give nan: divide "
                "by np.maximum(eps, |a| + |b|).",
                "Không có cận dưới eps thì các giá trị rất nhỏ cho sai số rất lớn còn các số 0 cho "
                "nan: hãy chia cho np.maximum(eps, |a| + |b|).")),
        ]
    expected = float(np.max(right))
    return [Mistake(value, message) for value, message in candidates
            if np.isfinite(value) and not np.isclose(value, expected, rtol=REL_RTOL, atol=REL_ATOL)]


def relative_error_fallback(value):
    """A last Mistake matching any value: the formula to use (instead of generic guesses)."""
    return Mistake(value, tr("Compute |a - b| / np.maximum(eps, |a| + |b|) element by element and "
                             "return the largest value.",
                             "Hãy tính |a - b| / np.maximum(eps, |a| + |b|) cho từng phần tử và trả "
                             "về giá trị lớn nhất."))


def check_finite_relative_error(value, label):
    if not np.isfinite(value):
        fail(tr(f"relative_error({label}) returned {value}: somewhere a division by zero (0/0 where "
                "both are zero?). Divide by np.maximum(eps, |a| + |b|), which is never 0.",
                f"relative_error({label}) trả về {value}: có phép chia cho 0 ở đâu đó (0/0 khi cả hai "
                "đều bằng 0?). Hãy chia cho np.maximum(eps, |a| + |b|), không bao giờ bằng 0."))


def check_relative_error(gc, a, b, expected, label, **kwargs):
    inputs_a, inputs_b = a.copy(), b.copy()
    value = to_float(gc.relative_error(a, b, **kwargs), f"relative_error({label})")
    if not (np.array_equal(a, inputs_a) and np.array_equal(b, inputs_b)):
        fail(tr("relative_error modified its inputs: it must not change a or b.",
                "relative_error đã sửa đầu vào: hàm không được thay đổi a hay b."))
    check_finite_relative_error(value, label)
    check_close(value, expected, f"relative_error({label})", rtol=REL_RTOL, atol=REL_ATOL,
                mistakes=relative_error_mistakes(a, b, kwargs.get("eps", 1e-8))
                + [relative_error_fallback(value)])


@pytest.mark.points(2)
def test_relative_error_value(gc, rng):
    # By hand: |a-b| / (|a|+|b|) = 0.5/2.5, 0, 0.3/6.3, 0.25/0.75, 0, 1/19 -> max 1/3.
    a = np.array([[1.0, 2.0, -3.0], [0.5, 7.0, 10.0]])
    b = np.array([[1.5, 2.0, -3.3], [0.25, 7.0, 9.0]])
    check_relative_error(gc, a, b, 1 / 3, "a, b")
    check_relative_error(gc, b, a, 1 / 3, "b, a")
    a = rng.standard_normal((4, 5))
    b = a * (1 + 0.1 * rng.standard_normal((4, 5)))
    expected = float(np.max(np.abs(a - b) / (np.abs(a) + np.abs(b))))
    check_relative_error(gc, a, b, expected, tr("random a, b of shape (4, 5)",
                                                 "a, b ngẫu nhiên kích thước (4, 5)"))


@pytest.mark.points(2)
def test_relative_error_zeros(gc):
    zeros = np.zeros((3, 4))
    partly = (np.array([0.0, 0.0, 1.0, -2.0]), np.array([0.0, 0.0, 2.0, -2.0]))
    with warnings.catch_warnings(record=True) as caught, \
            np.errstate(divide="warn", invalid="warn", over="warn"):
        warnings.simplefilter("always")
        both_zero = gc.relative_error(zeros, zeros.copy())
        some_zero = gc.relative_error(*partly)
    both_zero = to_float(both_zero, "relative_error(zeros, zeros)")
    if np.isnan(both_zero):
        fail(tr("relative_error returned nan for two all-zero arrays: that is 0/0. Divide by "
                "np.maximum(eps, |a| + |b|), which is never 0; identical arrays give 0.0.",
                "relative_error trả về nan cho hai mảng toàn số 0: đó là 0/0. Hãy chia cho "
                "np.maximum(eps, |a| + |b|), không bao giờ bằng 0; hai mảng giống nhau cho 0.0."))
    if both_zero != 0.0:
        fail(tr(f"relative_error of two identical all-zero arrays should be 0.0, got {both_zero!r}.",
                f"relative_error của hai mảng toàn số 0 giống nhau phải là 0.0, nhưng nhận được "
                f"{both_zero!r}."))
    some_zero = to_float(some_zero, "relative_error([0, 0, 1, -2], [0, 0, 2, -2])")
    if np.isnan(some_zero):
        fail(tr("relative_error([0, 0, 1, -2], [0, 0, 2, -2]) returned nan: the 0/0 of the "
                "zero entries spoils the max. Divide by np.maximum(eps, |a| + |b|).",
                "relative_error([0, 0, 1, -2], [0, 0, 2, -2]) trả về nan: phép 0/0 ở các phần "
                "tử bằng 0 làm hỏng giá trị max. Hãy chia cho np.maximum(eps, |a| + |b|)."))
    check_close(some_zero, 1 / 3, "relative_error([0, 0, 1, -2], [0, 0, 2, -2])",
                rtol=REL_RTOL, atol=REL_ATOL,
                mistakes=relative_error_mistakes(*partly) + [relative_error_fallback(some_zero)])
    runtime = [w for w in caught if issubclass(w.category, RuntimeWarning)]
    if runtime:
        fail(tr(f"relative_error raised a warning on arrays containing zeros: "
                f"\"{runtime[0].message}\". Compute the denominator with np.maximum(eps, |a| + |b|) "
                "before dividing (np.where still divides everywhere and warns).",
                f"relative_error phát sinh cảnh báo với mảng có số 0: \"{runtime[0].message}\". Hãy "
                "tính mẫu số bằng np.maximum(eps, |a| + |b|) trước khi chia (np.where vẫn chia ở mọi "
                "chỗ và vẫn cảnh báo)."))


@pytest.mark.points(1)
def test_relative_error_eps(gc):
    # Default eps=1e-8: 4e-9 / max(1e-8, 4e-9) = 0.4.
    check_relative_error(gc, np.array([0.0, 4e-9]), np.array([0.0, 0.0]), 0.4,
                         "[0, 4e-9], [0, 0]")
    # eps=1e-3: 1e-4 / max(1e-3, 1e-4) = 0.1.
    check_relative_error(gc, np.array([0.0, 3e-4, 2.0]), np.array([1e-4, 3e-4, 2.0]), 0.1,
                         "[0, 3e-4, 2], [1e-4, 3e-4, 2], eps=1e-3", eps=1e-3)


# --- gradient_check -------------------------------------------------------------------

def coordinate_errors(f, x, analytic):
    """The relative error at every coordinate, with the graders' own centred differences."""
    numeric = numgrad.numerical_gradient(f, x, H)
    return np.abs(numeric - analytic) / np.maximum(1e-8, np.abs(numeric) + np.abs(analytic))


def run_check(gc, f, x, analytic, **kwargs):
    """(the value gradient_check returns, how many times it called f)."""
    assert kwargs.get("num_checks", 10) <= x.size, "graders never ask for more coordinates than x has"
    value = call(gc, "gradient_check", f, x, analytic, **kwargs)
    value = to_float(value, "gradient_check")
    if not np.isfinite(value):
        fail(tr(f"gradient_check returned {value}: the largest relative error must be a finite "
                "number (see relative_error's eps floor).",
                f"gradient_check trả về {value}: sai số tương đối lớn nhất phải là một số hữu hạn "
                "(xem cận dưới eps của relative_error)."))
    return value, f.calls


def signed_uniform(rng, shape, low=0.5, high=1.5):
    return rng.uniform(low, high, shape) * rng.choice([-1, 1], shape)


@pytest.mark.points(2)
def test_gradient_check_correct_gradient(gc, rng):
    """Functions whose gradients stay far from 0, so that relative errors are meaningful."""
    v = signed_uniform(rng, 6)
    C = rng.uniform(0.5, 2.0, (2, 3, 4))
    exp_x, matrix_x, tensor_x = (rng.uniform(0.2, 1.0, (3, 4)), rng.standard_normal((4, 6)),
                                 rng.standard_normal((2, 3, 4)))
    cases = [
        ("sum(exp(3x))", exp_x, TestFunction("np.sum(np.exp(3 * z))", shape=exp_x.shape),
         lambda x: 3 * np.exp(3 * x), {}),
        ("sum(W @ v)", matrix_x, TestFunction("np.sum(z @ v)", v=v, shape=matrix_x.shape),
         lambda x: np.ones((4, 1)) * v, {"seed": 7}),
        ("sum(C * exp(x))", tensor_x, TestFunction("np.sum(C * np.exp(z))", C=C, shape=tensor_x.shape),
         lambda x: C * np.exp(x), {"num_checks": 15, "seed": 3}),
    ]
    for label, x, f, grad_f, kwargs in cases:
        value, _ = run_check(gc, f, x, grad_f(x), **kwargs)
        if 0.0 <= value < GOOD_MAX:
            continue
        if abs(value - 1 / 3) < 1e-3:
            hint = tr("1/3 is what dividing by h instead of 2h gives (twice the true derivative).",
                      "1/3 là kết quả khi chia cho h thay vì 2h (gấp đôi đạo hàm đúng).")
        elif 1e-6 < value < 1e-4:
            hint = tr("An error of this size is typical of a one-sided difference (f(x+h) - f(x)) / h "
                      "(use (f(x+h) - f(x-h)) / (2h)), or of an x not put back exactly after each "
                      "coordinate.",
                      "Sai số cỡ này là đặc trưng của sai phân một phía (f(x+h) - f(x)) / h (hãy dùng "
                      "(f(x+h) - f(x-h)) / (2h)), hoặc của việc không đặt lại x chính xác sau mỗi tọa độ.")
        else:
            hint = tr("Compare the centred difference at coordinate ix with analytic_grad[ix], the "
                      "same coordinate.",
                      "Hãy so sánh sai phân trung tâm tại tọa độ ix với analytic_grad[ix], cùng tọa độ đó.")
        fail(tr(f"gradient_check returned {value:.3g} for the correct gradient of {label} "
                f"(x of shape {x.shape}); a correct check gives below {GOOD_MAX:g} here. ",
                f"gradient_check trả về {value:.3g} cho gradient đúng của {label} (x kích thước "
                f"{x.shape}); một hàm kiểm tra đúng cho kết quả dưới {GOOD_MAX:g} ở đây. ") + hint)


@pytest.mark.points(2)
def test_gradient_check_wrong_gradient(gc, rng):
    A = rng.standard_normal((12, 12))
    cube_x = signed_uniform(rng, (3, 4))
    exp_x = rng.uniform(0.2, 1.0, (12,))
    quad_x = rng.standard_normal(12)
    cases = [
        (tr("sum(x**3) with the gradient 4 * 3x² (an extra factor N)",
            "sum(x**3) với gradient 4 * 3x² (thừa hệ số N)"),
         cube_x, TestFunction("np.sum(z ** 3)", shape=cube_x.shape), 4 * 3 * cube_x ** 2),
        (tr("x^T A x with the gradient A x (A is not symmetric)",
            "x^T A x với gradient A x (A không đối xứng)"),
         quad_x, TestFunction("z @ A @ z", A=A, shape=quad_x.shape), A @ quad_x),
        (tr("sum(exp(x)) with the gradient -exp(x) (wrong sign)",
            "sum(exp(x)) với gradient -exp(x) (ngược dấu)"),
         exp_x, TestFunction("np.sum(np.exp(z))", shape=exp_x.shape), -np.exp(exp_x)),
    ]
    for label, x, f, wrong in cases:
        value, _ = run_check(gc, f, x, wrong)
        if value <= WRONG_MIN:
            fail(tr(f"gradient_check returned {value:.3g} for a wrong gradient ({label}); it should "
                    f"report a relative error above {WRONG_MIN:g}. Compare the centred difference at "
                    "each checked coordinate ix with analytic_grad[ix].",
                    f"gradient_check trả về {value:.3g} cho một gradient sai ({label}); kết quả phải là "
                    f"sai số tương đối lớn hơn {WRONG_MIN:g}. Hãy so sánh sai phân trung tâm tại mỗi "
                    "tọa độ ix được kiểm tra với analytic_grad[ix]."))
        if value > 1.0 + 1e-9:
            fail(tr(f"gradient_check returned {value:.3g} ({label}), but a relative error "
                    "|a - b| / max(eps, |a| + |b|) is never above 1: use the symmetric denominator.",
                    f"gradient_check trả về {value:.3g} ({label}), nhưng sai số tương đối "
                    "|a - b| / max(eps, |a| + |b|) không bao giờ lớn hơn 1: hãy dùng mẫu số đối xứng."))


@pytest.mark.points(1)
def test_gradient_check_zero_gradient(gc, rng):
    """Gradients that are 0: a constant f (every difference exactly 0, so 0/0 without the
    eps floor) must give 0.0; sum(x**3) at x = 0 (differences h², analytic 0) gives
    h² / max(1e-8, h²) = 0.01, not the 1.0 of a denominator without the floor. Warnings are
    recorded, so that only the value counts."""
    constant_x = rng.standard_normal((3, 4))
    constant = TestFunction("2.5", shape=constant_x.shape)
    with warnings.catch_warnings(record=True), \
            np.errstate(divide="warn", invalid="warn", over="warn"):
        warnings.simplefilter("always")
        divided_by_zero = False
        try:
            value = call(gc, "gradient_check", constant, constant_x, np.zeros_like(constant_x))
        except ZeroDivisionError:  # Python floats: 0.0 / 0.0 raises instead of giving nan
            divided_by_zero = True
        value = None if divided_by_zero else to_float(value, "gradient_check")
        if value is None or not np.isfinite(value):
            did_en = "divided by zero" if value is None else f"returned {value}"
            did_vi = "chia cho 0" if value is None else f"trả về {value}"
            fail(tr(f"gradient_check {did_en} where both gradients are 0 (a constant f, "
                    "analytic_grad all zeros): use max(eps, |a| + |b|) as the denominator, as "
                    "relative_error does.",
                    f"gradient_check {did_vi} tại chỗ cả hai gradient đều bằng 0 (f hằng, "
                    "analytic_grad toàn số 0): hãy dùng max(eps, |a| + |b|) làm mẫu số, như "
                    "relative_error."))
        if value != 0.0:
            fail(tr(f"gradient_check returned {value!r} for a constant f with analytic_grad all "
                    "zeros, where every centred difference is exactly 0 and the relative error "
                    "0 / max(eps, 0) is 0.0.",
                    f"gradient_check trả về {value!r} với f hằng và analytic_grad toàn số 0, trong "
                    "khi mọi sai phân trung tâm đều đúng bằng 0 và sai số tương đối "
                    "0 / max(eps, 0) bằng 0.0."))
        cube_x = np.zeros((4, 5))
        cube = TestFunction("np.sum(z ** 3)", shape=cube_x.shape)
        value = to_float(call(gc, "gradient_check", cube, cube_x, np.zeros_like(cube_x)),
                         "gradient_check")
    expected = H ** 2 / 1e-8
    if np.isfinite(value) and abs(value - expected) <= FLOOR_RTOL * expected:
        return
    if np.isclose(value, 1.0, rtol=1e-6, atol=0):
        fail(tr(f"gradient_check returned {value:.6g} for sum(x**3) at x = 0 with analytic_grad "
                "all zeros, where the centred difference is h² = 1e-10, a rounding-level value "
                "that must not look like a wrong gradient: divide by max(1e-8, |num| + |ana|), "
                "which gives 1e-10 / 1e-8 = 0.01.",
                f"gradient_check trả về {value:.6g} với sum(x**3) tại x = 0 và analytic_grad toàn "
                "số 0, trong khi sai phân trung tâm là h² = 1e-10, một giá trị cỡ sai số làm tròn "
                "không được trông như một gradient sai: hãy chia cho max(1e-8, |num| + |ana|), "
                "cho ra 1e-10 / 1e-8 = 0.01."))
    if abs(value - 2 * expected) <= FLOOR_RTOL * expected:
        fail(tr(f"gradient_check returned {value:.6g} for sum(x**3) at x = 0 with analytic_grad "
                "all zeros, twice the 0.01 that the centred difference h² = 1e-10 gives: divide "
                "f(x+h) - f(x-h) by 2h, not by h.",
                f"gradient_check trả về {value:.6g} với sum(x**3) tại x = 0 và analytic_grad toàn "
                "số 0, gấp đôi giá trị 0.01 mà sai phân trung tâm h² = 1e-10 cho ra: hãy chia "
                "f(x+h) - f(x-h) cho 2h, không phải cho h."))
    fail(tr(f"gradient_check returned {value:.6g} for sum(x**3) at x = 0 with analytic_grad all "
            "zeros, where every centred difference is h² = 1e-10 and the relative error "
            "|num - ana| / max(1e-8, |num| + |ana|) is 1e-10 / 1e-8 = 0.01.",
            f"gradient_check trả về {value:.6g} với sum(x**3) tại x = 0 và analytic_grad toàn số "
            "0, trong khi mọi sai phân trung tâm đều là h² = 1e-10 và sai số tương đối "
            "|num - ana| / max(1e-8, |num| + |ana|) bằng 1e-10 / 1e-8 = 0.01."))


@pytest.mark.points(2)
def test_gradient_check_returns_max(gc, rng):
    """Coordinates of two kinds: relative error 0.5 (3/4 of them) or 1/9 (1/4)."""
    x = signed_uniform(rng, (4, 6))
    f = TestFunction("np.sum(z ** 3)", shape=x.shape)
    high = rng.permutation(x.size).reshape(x.shape) < 18
    analytic = 3 * x ** 2 * np.where(high, 3.0, 1.25)  # errors 2/4 = 0.5 and 0.25/2.25 = 1/9
    for seed in (0, 1, 2):
        value, _ = run_check(gc, f, x, analytic, num_checks=10, seed=seed)
        if np.isclose(value, 0.5, rtol=PICK_RTOL, atol=0):
            continue
        common = tr(f"With num_checks=10 and seed={seed}, gradient_check returned {value:.6g}; here "
                    "every coordinate has a relative error of 0.5 (three quarters of them) or 1/9, so "
                    "the largest over 10 coordinates is 0.5. ",
                    f"Với num_checks=10 và seed={seed}, gradient_check trả về {value:.6g}; ở đây mỗi tọa "
                    "độ có sai số tương đối 0.5 (ba phần tư số tọa độ) hoặc 1/9, nên giá trị lớn nhất "
                    "trên 10 tọa độ là 0.5. ")
        if np.isclose(value, 1 / 9, rtol=PICK_RTOL, atol=0):
            hint = tr("You returned the error of one coordinate (the last one?) or the smallest: return "
                      "the largest over all the coordinates checked.",
                      "Bạn trả về sai số của một tọa độ (tọa độ cuối?) hoặc giá trị nhỏ nhất: hãy trả "
                      "về giá trị lớn nhất trên mọi tọa độ đã kiểm tra.")
        elif abs(value - 0.5) < 1e-3:
            hint = tr("Close to 0.5 but not equal: your numerical derivatives are slightly off (a "
                      "one-sided difference? x not put back between coordinates?).",
                      "Gần 0.5 nhưng không bằng: đạo hàm số của bạn hơi lệch (sai phân một phía? x "
                      "không được đặt lại giữa các tọa độ?).")
        elif 1 / 9 < value < 0.5:
            hint = tr("A value between the two looks like a mean: return the largest error (max).",
                      "Một giá trị nằm giữa hai mức trông giống trung bình: hãy trả về sai số lớn "
                      "nhất (max).")
        else:
            hint = tr("Use the relative error |num - ana| / max(1e-8, |num| + |ana|) of each "
                      "coordinate and return the largest.",
                      "Hãy dùng sai số tương đối |num - ana| / max(1e-8, |num| + |ana|) của từng tọa "
                      "độ và trả về giá trị lớn nhất.")
        fail(common + hint)


@pytest.mark.points(2)
def test_gradient_check_seed(gc, rng):
    """Same seed, same result; the seed decides which coordinates are checked."""
    x = signed_uniform(rng, (10, 20))
    f = TestFunction("np.sum(z ** 3)", shape=x.shape)
    analytic = 3 * x ** 2 * (1 + rng.uniform(0.05, 2.0, x.shape))  # a different error everywhere
    errors = coordinate_errors(f, x, analytic)
    original = x.copy()
    repeated = [run_check(gc, f, x, analytic, num_checks=3, seed=3)[0] for _ in range(3)]
    check_restored(x, original, "gradient_check")  # else x itself differs between the calls
    if not np.allclose(repeated, repeated[0], rtol=1e-12, atol=0):
        fail(tr(f"gradient_check(..., num_checks=3, seed=3) gave {', '.join(f'{v:.6g}' for v in repeated)} "
                "in three calls: the same seed must give the same result. Draw the coordinates with "
                "rng = np.random.default_rng(seed), not with an unseeded generator.",
                f"gradient_check(..., num_checks=3, seed=3) cho {', '.join(f'{v:.6g}' for v in repeated)} "
                "trong ba lần gọi: cùng seed phải cho cùng kết quả. Hãy chọn tọa độ bằng "
                "rng = np.random.default_rng(seed), không dùng bộ sinh số chưa đặt seed."))
    runs = [run_check(gc, f, x, analytic, num_checks=3, seed=seed) for seed in range(5)]
    by_seed = [value for value, _ in runs]
    for value in repeated[:1] + by_seed:
        if not np.any(np.isclose(errors, value, rtol=PICK_RTOL, atol=0)):
            nearest = errors.flat[int(np.argmin(np.abs(errors - value)))]
            fail(tr(f"gradient_check returned {value:.6g}, which is not the relative error of any "
                    "coordinate of x (here they lie between 0.024 and 0.5, a different one at every "
                    f"coordinate; the nearest is {nearest:.6g}). Compare the centred difference at ix with analytic_grad[ix] using "
                    "|num - ana| / max(1e-8, |num| + |ana|).",
                    f"gradient_check trả về {value:.6g}, không phải sai số tương đối của tọa độ nào "
                    "của x (ở đây chúng nằm giữa 0.024 và 0.5, mỗi tọa độ một giá trị khác; giá trị "
                    f"gần nhất là {nearest:.6g}). Hãy so "
                    "sánh sai phân trung tâm tại ix với analytic_grad[ix] bằng "
                    "|num - ana| / max(1e-8, |num| + |ana|)."))
    calls = max(calls for _, calls in runs)
    if np.allclose(by_seed, by_seed[0], rtol=1e-12, atol=0) and calls > 2 * 3 + EXTRA_CALLS:
        fail(tr(f"gradient_check gave the same result for seeds 0 to 4 with num_checks=3, calling f "
                f"{calls} times: it checks more than the num_checks coordinates drawn with the seed. "
                "Check only num_checks coordinates drawn with rng = np.random.default_rng(seed).",
                f"gradient_check cho cùng một kết quả với các seed từ 0 đến 4, num_checks=3, và gọi f "
                f"{calls} lần: hàm kiểm tra nhiều hơn num_checks tọa độ được chọn theo seed. Hãy chỉ "
                "kiểm tra num_checks tọa độ chọn bằng rng = np.random.default_rng(seed)."))
    if np.allclose(by_seed, by_seed[0], rtol=1e-12, atol=0):
        fail(tr(f"gradient_check gave the same result, {by_seed[0]:.6g}, for seeds 0 to 4 with "
                "num_checks=3 on an x of 200 elements: use the seed argument, "
                "rng = np.random.default_rng(seed), to draw the coordinates.",
                f"gradient_check cho cùng một kết quả, {by_seed[0]:.6g}, với các seed từ 0 đến 4, "
                "num_checks=3, trên x có 200 phần tử: hãy dùng tham số seed, "
                "rng = np.random.default_rng(seed), để chọn tọa độ."))


@pytest.mark.points(2)
def test_gradient_check_num_checks(gc, rng):
    x = rng.standard_normal((20, 50))
    f = TestFunction("np.sum(z ** 3)", shape=x.shape)
    for num_checks in (1, 7):
        _, calls = run_check(gc, f, x, 3 * x ** 2, num_checks=num_checks, seed=num_checks)
        low, high = max(2, 2 * (num_checks - 1)), 2 * num_checks + EXTRA_CALLS
        if not low <= calls <= high:
            fail(tr(f"gradient_check called f {calls} times with num_checks={num_checks} on an x "
                    f"of {x.size} elements; it should call it about 2 * num_checks = {2 * num_checks} "
                    "times: two evaluations at each of num_checks random coordinates, not a full "
                    "numerical gradient.",
                    f"gradient_check gọi f {calls} lần với num_checks={num_checks} trên x có "
                    f"{x.size} phần tử; đáng lẽ chỉ khoảng 2 * num_checks = {2 * num_checks} lần: hai lần "
                    "tính tại mỗi tọa độ trong num_checks tọa độ ngẫu nhiên, không tính cả gradient số."))


@pytest.mark.points(1)
def test_gradient_check_restores_x(gc, rng):
    x = tricky_x(rng, (6, 8))
    original = x.copy()
    weights = rng.standard_normal(x.shape)
    analytic = 2 * weights * x
    analytic_copy = analytic.copy()
    f = TestFunction("np.sum(w * z ** 2)", w=weights, shape=x.shape)
    run_check(gc, f, x, analytic, num_checks=40, seed=5)
    check_restored(x, original, "gradient_check")
    if not np.array_equal(analytic, analytic_copy):
        fail(tr("gradient_check modified analytic_grad: it must not change its inputs.",
                "gradient_check đã sửa analytic_grad: hàm không được thay đổi đầu vào."))


@pytest.mark.points(1)
def test_gradient_check_uses_h(gc, rng):
    """sum(exp(30x)) with its exact gradient: at every coordinate the centred difference of step
    h is r(h) times the derivative (see STEP_A), so the relative error is (r - 1) / (r + 1)
    ~ (30h)²/12 wherever gradient_check looks: 7.5e-7 for h=1e-4, 7.5e-9 for the default 1e-5.
    A value within STEP_FRACTION of it means a step within ~5% of h; rounding is ~1e-12."""
    x = rng.uniform(-STEP_X, STEP_X, (4, 5))
    f = TestFunction(f"np.sum(np.exp({STEP_A!r} * z))", shape=x.shape)
    analytic = STEP_A * np.exp(STEP_A * x)
    for kwargs, h in (({"h": 1e-4}, 1e-4), ({}, H)):
        value, _ = run_check(gc, f, x, analytic, **kwargs)
        r = step_factor(h)
        expected = (r - 1.0) / (r + 1.0)
        if abs(value - expected) <= STEP_FRACTION * expected:
            continue
        used = np.sqrt(12.0 * value) / STEP_A if value > 0 else 0.0
        call_en = "gradient_check(f, x, analytic_grad, h=1e-4)" if kwargs else \
            "gradient_check(f, x, analytic_grad) without h"
        call_vi = "gradient_check(f, x, analytic_grad, h=1e-4)" if kwargs else \
            "gradient_check(f, x, analytic_grad) khi không truyền h"
        rule_en = "use the h argument you were given" if kwargs else \
            "the default step must be h=1e-5, as in the contract's signature"
        rule_vi = "hãy dùng đúng tham số h được truyền vào" if kwargs else \
            "bước mặc định phải là h=1e-5, như trong chữ ký của đặc tả"
        fail(tr(f"{call_en} returned {value:.3g} for sum(exp(30x)) and its exact gradient, where the "
                f"centred difference with step h={h:g} gives {expected:.3g} at every coordinate "
                f"(about (30h)²/12); {value:.3g} is what a step of about {used:.2g} gives: {rule_en}.",
                f"{call_vi} trả về {value:.3g} với sum(exp(30x)) và gradient chính xác của nó, trong "
                f"khi sai phân trung tâm với bước h={h:g} cho {expected:.3g} tại mọi tọa độ (khoảng "
                f"(30h)²/12); {value:.3g} là kết quả của bước khoảng {used:.2g}: {rule_vi}."))


DEFAULT_NUM_CHECKS = 10  # the contract: gradient_check(f, x, analytic_grad, num_checks=10, h=1e-5, seed=0)


@pytest.mark.points(1)
def test_gradient_check_defaults(gc, rng):
    """Without num_checks, 2 * 10 calls to f (as in test_gradient_check_num_checks); without
    seed, the result of seed=0. x has 400 coordinates with a different relative error at every
    one, so with num_checks=1 another seed (or none) gives the same result by chance with a
    probability of about 1/400."""
    x = signed_uniform(rng, (20, 20))
    f = TestFunction("np.sum(z ** 3)", shape=x.shape)
    analytic = 3 * x ** 2 * (1 + rng.uniform(0.05, 2.0, x.shape))
    _, calls = run_check(gc, f, x, analytic)
    low, high = 2 * (DEFAULT_NUM_CHECKS - 1), 2 * DEFAULT_NUM_CHECKS + EXTRA_CALLS
    if not low <= calls <= high:
        fail(tr(f"gradient_check(f, x, analytic_grad) without num_checks called f {calls} times on an "
                f"x of {x.size} elements; with the contract's default num_checks=10 it should call it "
                f"about 2 * 10 = 20 times (two evaluations at each of 10 coordinates).",
                f"gradient_check(f, x, analytic_grad) khi không truyền num_checks gọi f {calls} lần "
                f"trên x có {x.size} phần tử; với giá trị mặc định num_checks=10 của đặc tả, hàm phải "
                "gọi f khoảng 2 * 10 = 20 lần (hai lần tính tại mỗi tọa độ trong 10 tọa độ)."))
    without = [run_check(gc, f, x, analytic, num_checks=1)[0] for _ in range(2)]
    seeded = run_check(gc, f, x, analytic, num_checks=1, seed=0)[0]
    if np.allclose(without, seeded, rtol=1e-12, atol=0):
        return
    if without[0] != without[1]:  # drawn without a fixed seed: the values are not repeatable
        did_en, did_vi = "gave a different result in each of two calls", \
            "cho kết quả khác nhau ở hai lần gọi"
    else:
        did_en = f"gave {without[0]:.6g} in both calls and {seeded:.6g} with seed=0"
        did_vi = f"cho {without[0]:.6g} ở cả hai lần gọi và {seeded:.6g} với seed=0"
    fail(tr(f"gradient_check(f, x, analytic_grad, num_checks=1) without seed {did_en}: the default "
            "must be seed=0, as in the contract's signature, so that a call without seed checks "
            "the coordinates of seed 0 every time (np.random.default_rng(seed), not "
            "default_rng() or another number).",
            f"gradient_check(f, x, analytic_grad, num_checks=1) khi không truyền seed {did_vi}: "
            "giá trị mặc định phải là seed=0 như trong chữ ký của đặc tả, để mỗi lần gọi không có "
            "seed đều kiểm tra các tọa độ của seed 0 (np.random.default_rng(seed), không phải "
            "default_rng() hay một số khác)."))
