"""Property-based tests (hypothesis) of what every grade relies on: the graders' own
centred differences (autograder.grading.numgrad), their checks (autograder.grading.checks)
and the data that crosses to the student's code (autograder.grading.values).

Each test checks one contract stated in a docstring of those modules, on random shapes
(0-d, size-1 and empty axes where allowed), memory layouts (C, Fortran, strided,
reversed, permuted axes, read-only), float32 and float64 and extreme magnitudes. They
found four defects of checks.py, fixed since: numeric strings, None and complex values taken
as numbers by to_array, an OverflowError escaping it (a grader crash), relative_error's nan
for finite values near 1e308, and the "k times the expected value" hint lost at extreme
magnitudes.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from autograder.grading.checks import (
    GradingFailure,
    Mistake,
    check_close,
    relative_error,
    to_array,
    to_float,
)
from autograder.grading.messages import get_language, set_language
from autograder.grading.numgrad import DEFAULT_H, numerical_gradient, numerical_gradient_array
from autograder.grading.values import (
    KEYS,
    MAX_DEPTH,
    Ref,
    TestFunction,
    from_data,
    is_data_leaf,
    to_data,
    type_name,
)

# The machine is shared with CI: few examples each (the whole module runs in seconds), no
# deadline (a busy core must not fail a test), and no complaint about slow data generation.
FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
QUICK = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(autouse=True, scope="module")
def english():
    """Messages are asserted in English, whatever DLKIT_LANG says."""
    previous = get_language()
    set_language("en")
    yield
    set_language(previous)


# --------------------------------------------------------------------------------------
# Arrays in every memory layout
# --------------------------------------------------------------------------------------

FLOAT_DTYPES = (np.float64, np.float32)
LAYOUTS = ("C", "F", "strided", "reversed", "permuted")
X_MAX = 2.0  # |x| <= X_MAX for the points where gradients are taken
C_MAX = 2.0  # |coefficient| <= C_MAX in the test functions
MAX_SIZE = 36  # elements of x (each costs two evaluations of f)
SHAPES = hnp.array_shapes(min_dims=0, max_dims=4, min_side=1, max_side=3).filter(
    lambda shape: math.prod(shape) <= MAX_SIZE)
EMPTY_SHAPES = ((0,), (3, 0), (0, 2, 1), (2, 1, 0))


def with_layout(values: np.ndarray, layout: str, perm: tuple[int, ...]) -> np.ndarray:
    """The same values (shape, dtype) stored as ``layout`` says; 0-d arrays stay 0-d."""
    if values.ndim == 0 or layout == "C":
        out = np.array(values, order="C", copy=True)
    elif layout == "F":
        out = np.array(values, order="F", copy=True)
    elif layout == "strided":  # every other element of a larger array, the rest nan (or 0)
        fill = np.nan if values.dtype.kind == "f" else 0
        base = np.full(tuple(2 * n for n in values.shape), fill, dtype=values.dtype)
        out = base[(slice(None, None, 2),) * values.ndim]
        out[...] = values
    elif layout == "reversed":  # negative strides on every axis
        flip = (slice(None, None, -1),) * values.ndim
        out = np.array(values[flip], order="C", copy=True)[flip]
    else:  # "permuted": a C array of the axes in another order, seen transposed
        out = np.array(values.transpose(perm), order="C", copy=True).transpose(np.argsort(perm))
    assert out.shape == values.shape and out.dtype == values.dtype
    assert np.array_equal(out, values, equal_nan=True)
    return out


@st.composite
def laid_out(draw, shape=None, dtype=None, bound=X_MAX):
    """A float array of ``shape`` (drawn if None) in a random layout, maybe read-only."""
    shape = draw(SHAPES) if shape is None else shape
    dtype = draw(st.sampled_from(FLOAT_DTYPES)) if dtype is None else dtype
    width = 32 if dtype == np.float32 else 64
    values = draw(hnp.arrays(dtype, shape, elements=st.floats(-bound, bound, width=width)))
    out = with_layout(values, draw(st.sampled_from(LAYOUTS)),
                      draw(st.permutations(range(len(shape)))))
    if draw(st.booleans()):
        out.flags.writeable = False
    return out


def coefficients(shape):
    return hnp.arrays(np.float64, shape, elements=st.floats(-C_MAX, C_MAX))


def snapshot(x: np.ndarray) -> tuple:
    """Everything of ``x`` a function could change: values bit for bit, shape, layout."""
    base = None if x.base is None else np.asarray(x.base).tobytes()
    return (type(x), x.shape, x.strides, x.dtype, x.flags.c_contiguous, x.flags.f_contiguous,
            x.flags.writeable, x.__array_interface__["data"][0], x.tobytes(), base)


# --------------------------------------------------------------------------------------
# numgrad: centred differences against known gradients
# --------------------------------------------------------------------------------------

EPS = float(np.finfo(np.float64).eps)  # 2.2e-16: numgrad works on float64 copies
ETA = float(np.finfo(np.float64).smallest_subnormal)  # 4.9e-324: the spacing near 0

# The tolerance is the error bound of centred differences at step h, coordinate by
# coordinate (``centred_difference_tolerance``):
#
# - truncation: (f(x+h) - f(x-h)) / 2h - f'(x) = h^2/6 * f'''(xi) for some xi in (x-h, x+h)
#   (Taylor with the remainder; exactly h^2 * c3 for c3 * x^3);
# - rounding of f: one evaluation of f at z is off by at most EVAL_ROUNDINGS * eps * S,
#   S the sum of the magnitudes of all products f adds up (at |x| + h). Each addition of
#   the final sum, summed in the worst (sequential) order, contributes at most eps * S:
#   <= MAX_SIZE - 1 of them; the linear maps below nest two sums of <= 12 terms (<= 23);
#   the roundings inside one term (products, powers, sin, the polynomial's own additions)
#   add at most 8 more. Near 0 (tiny coefficients: f(x +- h) = c h can be subnormal) a
#   rounding is off by up to ETA/2 absolutely instead, so each rounding costs at most
#   eps * S + ETA. The two evaluations' errors add and are divided by 2h:
#   2 * EVAL_ROUNDINGS * (eps * S + ETA) / 2h;
# - rounding of the step: fl(x + h) - x differs from h by at most eps/2 * (|x| + h) on each
#   side, which scales the quotient by 1 +- eps * (|x| + h) / h, i.e. an error of at most
#   eps * (|x| + h) / h * G, G >= |f'(x)| the sum of the magnitudes of the terms of the
#   analytic gradient;
# - the analytic reference itself, computed in float64: at most EVAL_ROUNDINGS * eps * G.
#
# These are worst-case bounds (real rounding errors partly cancel), so SAFETY only has to
# cover the terms left out (h^4 f^(5), eps^2, eps * h): 2 is ample.
EVAL_ROUNDINGS = MAX_SIZE + 8
SAFETY = 2.0
STEPS = st.sampled_from([None, 1e-4, 1e-5, 1e-7])  # None: numgrad's default, DEFAULT_H


def centred_difference_tolerance(h: float, third: np.ndarray, s: float, x: np.ndarray,
                                 g: np.ndarray) -> np.ndarray:
    """The bound above: ``third`` >= |f'''| near x, ``s`` the magnitude of f's sum, ``g``
    the magnitude of the analytic gradient (all element-wise but ``s``)."""
    truncation = h ** 2 / 6 * third
    rounding_f = EVAL_ROUNDINGS * (EPS * s + ETA) / h
    rounding_step = EPS * (np.abs(x) + h) / h * g
    reference = EVAL_ROUNDINGS * EPS * g
    return SAFETY * (truncation + rounding_f + rounding_step + reference)


def gradient(f, x, h):
    return numerical_gradient(f, x) if h is None else numerical_gradient(f, x, h)


def assert_gradient(grad, expected, tolerance, x):
    assert isinstance(grad, np.ndarray) and grad.dtype == np.float64
    assert grad.shape == x.shape
    error = np.abs(grad - expected)
    assert np.all(error <= tolerance), (
        f"max error / tolerance = {np.max(error / tolerance):.3g}; error {error}, "
        f"tolerance {tolerance}")


@FAST
@given(x=laid_out(), data=st.data(), h=STEPS)
def test_numerical_gradient_of_polynomials(x, data, h):
    """The gradient of sum(c1 x + c2 x^2 + c3 x^3) is c1 + 2 c2 x + 3 c3 x^2 within the
    centred-difference bound, for any shape, layout and float dtype of x."""
    c1, c2, c3 = (data.draw(coefficients(x.shape)) for _ in range(3))
    before = snapshot(x)
    grad = gradient(lambda z: np.sum(c1 * z + c2 * z ** 2 + c3 * z ** 3), x, h)
    step = DEFAULT_H if h is None else h
    x64 = x.astype(np.float64)
    reach = np.abs(x64) + step
    s = float(np.sum(np.abs(c1) * reach + np.abs(c2) * reach ** 2 + np.abs(c3) * reach ** 3))
    g = np.abs(c1) + 2 * np.abs(c2) * np.abs(x64) + 3 * np.abs(c3) * x64 ** 2
    tolerance = centred_difference_tolerance(step, 6 * np.abs(c3), s, x64, g)
    assert_gradient(grad, c1 + 2 * c2 * x64 + 3 * c3 * x64 ** 2, tolerance, x)
    assert snapshot(x) == before


@FAST
@given(x=laid_out(), data=st.data(), h=STEPS)
def test_numerical_gradient_of_sines(x, data, h):
    """The gradient of sum(c * sin(x)) is c * cos(x) within the centred-difference bound."""
    c = data.draw(coefficients(x.shape))
    before = snapshot(x)
    grad = gradient(lambda z: np.sum(c * np.sin(z)), x, h)
    step = DEFAULT_H if h is None else h
    x64 = x.astype(np.float64)
    tolerance = centred_difference_tolerance(step, np.abs(c), float(np.sum(np.abs(c))), x64,
                                             np.abs(c))
    assert_gradient(grad, c * np.cos(x64), tolerance, x)
    assert snapshot(x) == before


@FAST
@given(data=st.data(), n=st.integers(1, 6), k=st.sampled_from([None, 1, 2]),
       m=st.integers(1, 6), h=STEPS)
def test_numerical_gradient_array_of_matrix_products(data, n, k, m, h):
    """numerical_gradient_array(lambda z: A @ z, x, dout) is A.T @ dout (the map is linear,
    so only rounding is left), for x of shape (n,) or (n, k) in any layout and dtype."""
    x = data.draw(laid_out(shape=(n,) if k is None else (n, k)))
    dout = data.draw(laid_out(shape=(m,) if k is None else (m, k)))
    a = data.draw(coefficients((m, n)))
    before, dout_before = snapshot(x), snapshot(dout)
    grad = (numerical_gradient_array(lambda z: a @ z, x, dout) if h is None
            else numerical_gradient_array(lambda z: a @ z, x, dout, h))
    step = DEFAULT_H if h is None else h
    x64, d64 = x.astype(np.float64), dout.astype(np.float64)
    s = float(np.sum((np.abs(a) @ (np.abs(x64) + step)) * np.abs(d64)))
    g = np.abs(a).T @ np.abs(d64)
    tolerance = centred_difference_tolerance(step, np.zeros(x.shape), s, x64, g)
    assert_gradient(grad, a.T @ d64, tolerance, x)
    assert snapshot(x) == before and snapshot(dout) == dout_before


@FAST
@given(data=st.data(), out_shape=hnp.array_shapes(min_dims=0, max_dims=2, min_side=1,
                                                  max_side=3))
def test_numerical_gradient_array_of_linear_maps(data, out_shape):
    """For any linear map z -> tensordot(A, z) (0-d x and 0-d outputs included), the
    gradient of sum(f(x) * dout) is tensordot(dout, A) within the rounding bound."""
    x = data.draw(laid_out(shape=data.draw(SHAPES.filter(lambda s: math.prod(s) <= 12))))
    dout = data.draw(laid_out(shape=out_shape))
    a = data.draw(coefficients(out_shape + x.shape))
    before = snapshot(x)
    grad = numerical_gradient_array(lambda z: np.tensordot(a, z, axes=z.ndim), x, dout)
    x64, d64 = x.astype(np.float64), dout.astype(np.float64)
    reach = np.abs(x64) + DEFAULT_H
    s = float(np.sum(np.tensordot(np.abs(a), reach, axes=x.ndim) * np.abs(d64)))
    g = np.tensordot(np.abs(d64), np.abs(a), axes=dout.ndim)
    tolerance = centred_difference_tolerance(DEFAULT_H, np.zeros(x.shape), s, x64, g)
    assert_gradient(grad, np.tensordot(d64, a, axes=dout.ndim), tolerance, x)
    assert snapshot(x) == before


@FAST
@given(x=laid_out())
def test_numerical_gradient_never_modifies_x_even_if_f_does(x):
    """x is left bit for bit unchanged (values, shape, strides, flags), f is given float64
    arrays shaped like x, even when f writes into the array it is given."""
    before = snapshot(x)
    seen = []

    def scribbling(z):
        seen.append((z.shape, z.dtype))
        value = float(np.sum(z ** 2))
        z[...] = np.nan
        return value

    grad = numerical_gradient(scribbling, x)
    assert snapshot(x) == before
    assert grad.shape == x.shape and grad.dtype == np.float64
    assert seen and all(seen_shape == x.shape and dtype == np.float64
                        for seen_shape, dtype in seen)
    out = numerical_gradient_array(scribbling, x, np.float32(3.0))
    assert snapshot(x) == before and out.shape == x.shape


@FAST
@given(x=laid_out(dtype=np.float32), data=st.data())
def test_float32_x_is_differentiated_at_its_float64_value(x, data):
    """numgrad works on float64 copies: a float32 x gives bit for bit the gradient of
    x.astype(float64), and f never sees a float32 array."""
    c = data.draw(coefficients(x.shape))

    def f(z):
        assert z.dtype == np.float64
        return np.sum(c * z ** 3)

    assert np.array_equal(numerical_gradient(f, x), numerical_gradient(f, x.astype(np.float64)))


@pytest.mark.parametrize("shape", EMPTY_SHAPES)
def test_numerical_gradient_of_empty_arrays(shape):
    """An x with an empty axis (any shape is allowed) has an empty float64 gradient of
    its shape."""
    x = np.ones(shape, dtype=np.float32)
    for grad in (numerical_gradient(lambda z: np.sum(z), x),
                 numerical_gradient_array(lambda z: z, x, np.ones(shape))):
        assert grad.shape == shape and grad.dtype == np.float64


# --------------------------------------------------------------------------------------
# checks.relative_error: max |a - e| / max(floor, |a| + |e|)
# --------------------------------------------------------------------------------------

# |a - e| <= |a| + |e| (triangle inequality) and rounding is monotone, so the definition
# guarantees 0 <= relative_error <= 1 for all finite values of any signs, as long as
# |a| + |e| does not overflow: elements are kept below 1e300.
FINITE = st.floats(-1e300, 1e300)


@st.composite
def pairs(draw, elements=FINITE):
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4))
    return (draw(hnp.arrays(np.float64, shape, elements=elements)),
            draw(hnp.arrays(np.float64, shape, elements=elements)))


@FAST
@given(pair=pairs())
def test_relative_error_is_symmetric_and_in_0_1(pair):
    """relative_error(a, e) == relative_error(e, a), a Python float in [0, 1], for finite
    arrays of any signs."""
    a, e = pair
    r = relative_error(a, e)
    assert type(r) is float
    assert r == relative_error(e, a)
    assert 0.0 <= r <= 1.0


@FAST
@given(pair=pairs())
def test_relative_error_is_1_for_opposite_signs(pair):
    """Where every pair of elements has opposite signs (or a zero) and one pair reaches
    the floor, relative_error is exactly 1."""
    a, e = np.array(np.abs(pair[0])), -np.abs(pair[1])  # np.array: 0-d stays an array
    a.flat[0] = max(a.flat[0], 1e-12)
    assert relative_error(a, e) == 1.0
    assert relative_error(e, a) == 1.0
    assert relative_error(a, np.zeros_like(a)) == 1.0


@FAST
@given(x=hnp.arrays(np.float64, hnp.array_shapes(min_dims=0, max_dims=3, min_side=0,
                                                 max_side=4), elements=FINITE),
       floor=st.sampled_from([1e-12, 1e-6, 1.0]))
def test_relative_error_is_0_for_identical_arrays(x, floor):
    """Identical arrays (all-zero and empty ones included) have relative error 0."""
    assert relative_error(x, x.copy(), floor) == 0.0
    assert relative_error(np.zeros_like(x), np.zeros_like(x), floor) == 0.0


@FAST
@given(data=st.data(), floor=st.sampled_from([1e-12, 1e-6, 1.0]))
def test_relative_error_below_the_floor_is_absolute(data, floor):
    """Where |a| + |e| < floor everywhere, relative_error is max |a - e| / floor."""
    a, e = data.draw(pairs(st.floats(-floor / 4, floor / 4)))
    assert relative_error(a, e, floor) == float(np.max(np.abs(a - e))) / floor


@FAST
@given(pair=pairs(st.one_of(st.just(0.0), st.floats(1e-2, 1e2), st.floats(-1e2, -1e-2))),
       k=st.integers(-20, 100))
def test_relative_error_is_scale_invariant_above_the_floor(pair, k):
    """Above the floor, scaling both arrays by 2**k leaves relative_error unchanged."""
    a, e = pair
    assert relative_error(a * 2.0 ** k, e * 2.0 ** k) == relative_error(a, e)


def test_relative_error_of_huge_opposite_values_is_1():
    """1e308 against -1e308 (finite) has relative error 1, as the definition says."""
    with np.errstate(all="ignore"):
        assert relative_error(np.array([1e308]), np.array([-1e308])) == 1.0


# --------------------------------------------------------------------------------------
# checks.to_array / to_float
# --------------------------------------------------------------------------------------

NUMERIC_DTYPES = (np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16,
                  np.uint32, np.uint64, np.float16, np.float32, np.float64)


@st.composite
def single_numbers(draw):
    """A Python float or int, a numpy scalar, a 0-d array or a size-1 array of any ndim."""
    kind = draw(st.sampled_from(["float", "int", "numpy scalar", "0-d", "size 1"]))
    if kind == "float":
        return draw(st.floats())
    if kind == "int":
        return draw(st.integers(-2 ** 63, 2 ** 64 - 1))
    dtype = draw(st.sampled_from(NUMERIC_DTYPES))
    shape = (1,) * draw(st.integers(1, 4)) if kind == "size 1" else ()
    array = draw(hnp.arrays(dtype, shape))
    return array[()] if kind == "numpy scalar" else array


def same_float(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


@FAST
@given(value=single_numbers())
def test_to_float_of_single_numbers(value):
    """to_float gives a Python float equal to the value, for Python floats and ints,
    numpy scalars, 0-d and size-1 arrays of every numeric dtype."""
    result = to_float(value, "loss")
    assert type(result) is float
    assert same_float(result, float(np.ravel(value)[0]))


@FAST
@given(value=hnp.arrays(st.sampled_from(NUMERIC_DTYPES),
                        hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=3)),
       data=st.data())
def test_to_array_of_numeric_arrays(value, data):
    """to_array gives a float64 ndarray of the same shape and values, in any layout."""
    value = with_layout(value, data.draw(st.sampled_from(LAYOUTS)),
                        data.draw(st.permutations(range(value.ndim))))
    result = to_array(value, "dw")
    assert type(result) is np.ndarray and result.dtype == np.float64
    assert result.shape == value.shape
    assert np.array_equal(result, value.astype(np.float64), equal_nan=True)


@FAST
@given(value=hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, min_side=0,
                                                     max_side=3).filter(
    lambda s: math.prod(s) != 1)))
def test_to_float_refuses_arrays_of_other_sizes(value):
    """to_float of an array that is not of size 1 fails, naming its shape."""
    with pytest.raises(GradingFailure) as failure:
        to_float(value, "loss")
    assert "loss should be a single number" in str(failure.value)
    assert str(value.shape) in str(failure.value)


class Opaque:
    """An object of the student's code: not data."""


NON_NUMERIC = st.one_of(
    st.builds(object), st.builds(Opaque), st.builds(set, st.lists(st.integers(), max_size=2)),
    st.dictionaries(st.text(max_size=2), st.floats(), max_size=2),
    st.text(alphabet="abcdeghjklmopqrsuvwxyz", min_size=1, max_size=5),  # no "inf", "nan"
    st.just([[1.0], [1.0, 2.0]]), st.just([1.0, "a"]), st.just(np.array(["abc"])),
    st.just(np.array([Opaque()], dtype=object)), st.just(lambda: 1.0),
    st.just(1 + 2j), st.just(np.zeros(2, dtype=[("a", int), ("b", float)])),
)


@FAST
@given(value=NON_NUMERIC)
def test_non_numeric_values_are_refused_naming_their_type(value):
    """to_array and to_float refuse what is not numbers with a GradingFailure naming the
    value's type (and the name given)."""
    for convert in (to_array, to_float):
        with pytest.raises(GradingFailure) as failure:
            convert(value, "dw")
        message = str(failure.value)
        assert message.startswith("dw should be a numpy array of numbers")
        assert f"got {type(value).__name__}" in message


@pytest.mark.parametrize("convert", [to_array, to_float])
def test_none_is_refused_as_a_missing_return(convert):
    """None fails with the hint that a return statement may be missing."""
    with pytest.raises(GradingFailure, match="dw is None: did you forget a return"):
        convert(None, "dw")


@pytest.mark.parametrize("value", ["1.5", "inf", b"2.5", ["1", "2"], np.array(["3.0"]),
                                   [1.0, None], np.array([1 + 2j])],
                         ids=["str", "str-inf", "bytes", "list-of-str", "str-array",
                              "None-in-list", "complex-array"])
def test_numbers_in_disguise_are_refused(value):
    """A value that is not an array of real numbers (a numeric string, None in a list,
    a complex array) is refused, as Python's complex numbers already are."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", np.exceptions.ComplexWarning)
        with pytest.raises(GradingFailure, match="should be a numpy array of numbers"):
            to_array(value, "dw")


@pytest.mark.parametrize("value", [10 ** 400, [1.0, 10 ** 400]], ids=["int", "list"])
def test_huge_ints_fail_as_a_grading_failure(value):
    """An int beyond float64's range fails as a GradingFailure, not a grader crash."""
    with pytest.raises(GradingFailure):
        to_array(value, "dw")


# --------------------------------------------------------------------------------------
# checks.check_close: |actual - expected| <= atol + rtol * |expected| element-wise
# --------------------------------------------------------------------------------------

# actual = expected + u * (atol + rtol * |expected|): |u| <= INSIDE must pass and one
# |u| >= OUTSIDE must fail. Forming expected + u * t rounds by <= eps * |expected|, which
# is <= 2.2e-8 * t because t >= rtol * |expected| with rtol >= 1e-8 (and |expected| >=
# 1e-300 keeps t out of the subnormal range where it would lose digits): a 1% margin on
# either side of the boundary is far beyond it.
INSIDE, OUTSIDE = 0.99, 1.01
RTOLS = st.sampled_from([1e-8, 1e-6, 1e-4, 1e-2, 1e-1])
ATOLS = st.sampled_from([0.0, 1e-300, 1e-12, 1e-8])
SMALL_SHAPES = hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=3)


def magnitudes(min_exp=-300, max_exp=300):
    """Non-zero floats from 1e-300 to 1e301 of either sign."""
    return st.builds(lambda sign, m, k: sign * m * 10.0 ** k, st.sampled_from([-1.0, 1.0]),
                     st.floats(1.0, 9.99), st.integers(min_exp, max_exp))


@st.composite
def expected_arrays(draw, shape=None, elements=None):
    shape = draw(SMALL_SHAPES) if shape is None else shape
    if elements is None:
        elements = st.one_of(magnitudes(), st.just(0.0))
    values = draw(st.lists(elements,
                           min_size=math.prod(shape), max_size=math.prod(shape)))
    return np.array(values, dtype=np.float64).reshape(shape)


def offsets(shape, low, high):
    """Factors u of the tolerance, low <= |u| <= high, of random signs."""
    size = math.prod(shape)
    return st.lists(st.floats(low, high) | st.floats(-high, -low), min_size=size,
                    max_size=size).map(lambda u: np.array(u).reshape(shape))


def failure_of(actual, expected, **kwargs) -> str:
    with pytest.raises(GradingFailure) as failure:
        check_close(actual, expected, "dw", **kwargs)
    return str(failure.value)


@FAST
@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the ratio hint's overflow, see below
@given(e=expected_arrays(), rtol=RTOLS, atol=ATOLS, data=st.data())
def test_check_close_at_the_tolerance_boundary(e, rtol, atol, data):
    """Values within INSIDE * (atol + rtol * |expected|) of expected pass; one element at
    OUTSIDE times that distance fails with a GradingFailure, at magnitudes 1e-300..1e301."""
    t = atol + rtol * np.abs(e)
    check_close(e + data.draw(offsets(e.shape, 0.0, INSIDE)) * t, e, "dw", rtol=rtol, atol=atol)
    check_close(e.copy(), e, "dw", rtol=rtol, atol=atol)

    actual = np.array(e + data.draw(offsets(e.shape, 0.0, INSIDE)) * t)  # 0-d: an array
    i = data.draw(st.integers(0, e.size - 1))
    out = data.draw(offsets((), OUTSIDE, 100.0))
    step = out * t.flat[i] if t.flat[i] > 0 else np.copysign(5e-324, out)  # tolerance 0
    actual.flat[i] = e.flat[i] + step
    assert "dw is wrong" in failure_of(actual, e, rtol=rtol, atol=atol)


@pytest.mark.parametrize("scale", [1e-300, 1e300, -1e300, 1.0])
def test_check_close_relative_tolerance_at_extreme_magnitudes(scale):
    """With atol=0 the tolerance is relative at any magnitude: 0.99 rtol passes, 1.01 rtol
    fails."""
    e = scale * np.array([1.0, -2.0, 3.0])
    check_close(e * (1 + 0.99e-6), e, "dw", rtol=1e-6, atol=0.0)
    check_close(float(e[0] * (1 - 0.99e-6)), float(e[0]), "dw", rtol=1e-6, atol=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the ratio hint's overflow
        failure_of(e * (1 + 1.01e-6), e, rtol=1e-6, atol=0.0)
        failure_of(float(e[0] * (1 - 1.01e-6)), float(e[0]), rtol=1e-6, atol=0.0)


@FAST
@given(s1=hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=3),
       s2=hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=3))
def test_check_close_shape_mismatch_names_both_shapes(s1, s2):
    """Arrays of different shapes fail (even when they would broadcast), and the message
    names both shapes."""
    if s1 == s2:
        return
    message = failure_of(np.zeros(s1), np.zeros(s2), rtol=1e-6, atol=1e-9)
    assert f"dw has shape {s1} but should have shape {s2}" in message


@FAST
@given(e=expected_arrays(), data=st.data())
def test_check_close_nan_or_inf_in_actual(e, data):
    """Against a finite expected value, nan or inf in actual fails with a message naming
    the first such index (C order)."""
    actual = e.copy()
    mask = data.draw(hnp.arrays(bool, e.shape)) | (np.arange(e.size) == data.draw(
        st.integers(0, e.size - 1))).reshape(e.shape)
    actual[mask] = data.draw(st.sampled_from([np.nan, np.inf, -np.inf]))
    first = tuple(int(i) for i in np.unravel_index(int(np.flatnonzero(mask)[0]), e.shape))
    message = failure_of(actual, e, rtol=1e-6, atol=1e-9)
    assert f"dw contains nan or inf (first at index {first})" in message


@FAST
@given(e=expected_arrays(), data=st.data())
def test_check_close_infinite_expected(e, data):
    """Where expected is +-inf (np.allclose's rule, which check_close uses), the same inf
    passes and the opposite inf or a finite value fails."""
    mask = (np.arange(e.size) == data.draw(st.integers(0, e.size - 1))).reshape(e.shape)
    sign = data.draw(st.sampled_from([1.0, -1.0]))
    e = np.where(mask, sign * np.inf, e)
    check_close(e.copy(), e, "dw", rtol=1e-6, atol=1e-9)
    for wrong in (-sign * np.inf, 1e300, 0.0):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            failure_of(np.where(mask, wrong, e), e, rtol=1e-6, atol=1e-9)


@QUICK
@given(e=expected_arrays(), data=st.data())
def test_check_close_nan_expected_never_passes(e, data):
    """nan satisfies no inequality: an expected nan fails whatever actual is, nan too."""
    mask = (np.arange(e.size) == data.draw(st.integers(0, e.size - 1))).reshape(e.shape)
    e = np.where(mask, np.nan, e)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        failure_of(e.copy(), e, rtol=1e-6, atol=1e-9)
        failure_of(np.where(mask, 0.0, e), e, rtol=1e-6, atol=1e-9)


@FAST
@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the ratio hint's overflow, see below
@given(e=expected_arrays(elements=magnitudes()), factor=st.sampled_from([2.0, 0.5, -1.0, 10.0]),
       rtol=st.sampled_from([1e-8, 1e-6, 1e-3, 1e-2]), data=st.data())
def test_check_close_names_the_mistake_the_value_matches(e, factor, rtol, data):
    """When actual matches a Mistake's value (within the tolerances) the message carries
    that mistake's hint and no other's; a correct value passes whatever the mistakes."""
    mistakes = [Mistake(3.0 * e, "HINT three times"), Mistake(factor * e, "HINT the mistake")]
    matching = factor * e * (1 + 0.5 * rtol * data.draw(offsets(e.shape, 0.0, 1.0)))
    message = failure_of(matching, e, rtol=rtol, atol=0.0, mistakes=mistakes)
    assert "HINT the mistake" in message and "HINT three times" not in message
    assert "HINT" not in failure_of(7.0 * e, e, rtol=rtol, atol=0.0, mistakes=mistakes)
    check_close(e * (1 + 0.5 * rtol), e, "dw", rtol=rtol, atol=0.0, mistakes=mistakes)


@pytest.mark.parametrize("scale", [
    1.0,
    1e300,
    1e-300,
])
def test_check_close_factor_hint_at_any_magnitude(scale):
    """A value that is twice the expected one gets the "2 times the expected value" hint
    at any magnitude (the hint compares shapes of arrays, not their scale)."""
    e = scale * np.array([1.0, 2.0, 3.0])
    with np.errstate(all="ignore"):
        message = failure_of(2.0 * e, e, rtol=1e-6, atol=0.0)
    assert "dw is 2 times the expected value" in message


# --------------------------------------------------------------------------------------
# values.to_data / from_data
# --------------------------------------------------------------------------------------

DATA_KEYS = st.one_of(st.none(), st.booleans(), st.integers(-3, 3),
                      st.floats(allow_nan=False), st.text(max_size=3))


@st.composite
def numpy_data(draw):
    """A numpy array of a plain dtype, or a numpy scalar."""
    dtype = draw(st.one_of(hnp.scalar_dtypes(), hnp.byte_string_dtypes(max_len=3),
                           hnp.unicode_string_dtypes(max_len=3)))
    array = draw(hnp.arrays(dtype, hnp.array_shapes(min_dims=0, max_dims=2, max_side=3)))
    return array[()] if array.ndim == 0 and draw(st.booleans()) else array


DATA_LEAVES = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.complex_numbers(),
    st.text(max_size=4), st.binary(max_size=4), numpy_data(),
    st.builds(TestFunction, st.just("np.sum(z ** 3)")),
)
OPAQUE_LEAVES = st.one_of(
    st.builds(Opaque), st.builds(object), st.builds(set, st.lists(st.integers(), max_size=2)),
    st.builds(lambda: np.array([Opaque(), 1], dtype=object)),
    st.builds(lambda: np.zeros(2, dtype=[("a", int), ("b", float)])),
    st.builds(lambda: (lambda z: z)),
)


class ListOfStudent(list):
    """A list subclass of the student's code: not one of the data containers."""


def containers(children, keys=DATA_KEYS):
    return st.one_of(st.lists(children, max_size=3), st.lists(children, max_size=3).map(tuple),
                     st.dictionaries(keys, children, max_size=3))


PURE_DATA = st.recursive(DATA_LEAVES, containers, max_leaves=12)
MIXED_DATA = st.recursive(
    st.one_of(DATA_LEAVES, OPAQUE_LEAVES),
    lambda children: st.one_of(
        containers(children),
        st.lists(children, max_size=2).map(ListOfStudent),
        st.dictionaries(st.tuples(st.integers(0, 3)), children, min_size=1, max_size=2),
        st.dictionaries(st.integers(0, 3).map(np.int64), children, min_size=1, max_size=2),
    ),
    max_leaves=12)


class Refs:
    """make_ref and resolve of one exchange: each ref resolves to the object it stands for."""

    def __init__(self):
        self.objects: list = []

    def make_ref(self, obj) -> Ref:
        self.objects.append(obj)
        return Ref(type_name(obj), self, len(self.objects) - 1)

    def resolve(self, ref: Ref):
        assert isinstance(ref, Ref) and ref._ref_owner is self
        return self.objects[ref._ref_key]


def is_data(value, depth=0) -> bool:
    """The module docstring's definition: data leaves, and lists, tuples and dicts (with
    scalar keys) of data, nested less than MAX_DEPTH deep."""
    if is_data_leaf(value):
        return True
    if depth >= MAX_DEPTH:
        return False
    if type(value) in (list, tuple):
        return all(is_data(v, depth + 1) for v in value)
    if type(value) is dict:
        return (all(type(k) in KEYS for k in value)
                and all(is_data(v, depth + 1) for v in value.values()))
    return False


def is_container(value, depth) -> bool:
    """Whether to_data looks inside value (and rebuilds it where parts are replaced)."""
    return depth < MAX_DEPTH and (type(value) in (list, tuple) or (
        type(value) is dict and all(type(k) in KEYS for k in value)))


def parts(value, depth=0):
    """(original, depth) of every part that is not data all the way down, outside in."""
    if not is_data(value, depth) and is_container(value, depth):
        for v in (value.values() if type(value) is dict else value):
            yield from parts(v, depth + 1)
    elif not is_data(value, depth):
        yield value


def assert_converted(original, converted, refs: Refs, depth=0):
    """converted is to_data(original): data parts are the very same objects, containers
    holding non-data are rebuilt with the same type, keys and order, and every other part
    is a ref that resolves to the very object it replaced."""
    if is_data(original, depth):
        assert converted is original
    elif is_container(original, depth):
        assert type(converted) is type(original) and converted is not original
        if type(original) is dict:
            assert list(converted) == list(original)
            for key in original:
                assert_converted(original[key], converted[key], refs, depth + 1)
        else:
            assert len(converted) == len(original)
            for o, c in zip(original, converted):
                assert_converted(o, c, refs, depth + 1)
    else:
        assert isinstance(converted, Ref) and refs.resolve(converted) is original
        assert type_name(converted) == type(original).__name__


def assert_restored(original, restored, depth=0):
    """restored is from_data(to_data(original)): the same structure, and the very same
    objects wherever to_data did not rebuild."""
    if is_data(original, depth) or not is_container(original, depth):
        assert restored is original
    elif type(original) is dict:
        assert type(restored) is dict and list(restored) == list(original)
        for key in original:
            assert_restored(original[key], restored[key], depth + 1)
    else:
        assert type(restored) is type(original) and len(restored) == len(original)
        for o, r in zip(original, restored):
            assert_restored(o, r, depth + 1)


def test_leaf_strategies_are_what_the_module_calls_data():
    """The leaves drawn below as data are data leaves, the opaque ones are not."""
    @settings(max_examples=30, deadline=None)
    @given(st.one_of(DATA_LEAVES.map(lambda v: (v, True)), OPAQUE_LEAVES.map(lambda v: (v, False))))
    def check(leaf):
        value, data = leaf
        assert is_data_leaf(value) is data

    check()


@FAST
@given(value=PURE_DATA)
def test_data_passes_unchanged(value):
    """Data (nested lists, tuples and dicts of data leaves) comes back as the very same
    object from to_data and from_data, and no ref is made or resolved."""
    refs = Refs()
    assert to_data(value, refs.make_ref) is value
    assert from_data(value, refs.resolve) is value
    assert refs.objects == []


@FAST
@given(value=MIXED_DATA)
def test_to_data_and_back_gives_the_very_objects(value):
    """to_data replaces exactly the non-data parts by refs (one each, data parts kept as
    the same objects), and from_data resolves them back to the very objects."""
    refs = Refs()
    converted = to_data(value, refs.make_ref)
    assert is_data(converted)
    assert_converted(value, converted, refs)
    originals = list(parts(value))
    assert len(refs.objects) == len(originals)
    assert all(a is b for a, b in zip(refs.objects, originals))
    assert_restored(value, from_data(converted, refs.resolve))


@QUICK
@given(kinds=st.lists(st.sampled_from([list, tuple, dict]), min_size=MAX_DEPTH - 2,
                      max_size=MAX_DEPTH + 3), leaf=st.one_of(DATA_LEAVES, OPAQUE_LEAVES))
def test_nesting_deeper_than_max_depth_becomes_a_ref(kinds, leaf):
    """Containers nested MAX_DEPTH deep or more are refs (the rest rebuilt around them),
    and the round trip still gives the very objects back."""
    value = leaf
    for kind in reversed(kinds):
        value = {"k": value} if kind is dict else kind([value])
    refs = Refs()
    converted = to_data(value, refs.make_ref)
    assert_converted(value, converted, refs)
    assert_restored(value, from_data(converted, refs.resolve))
    assert (converted is not value) == (len(kinds) > MAX_DEPTH or not is_data_leaf(leaf))
