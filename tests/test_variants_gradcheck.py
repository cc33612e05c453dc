"""The gradcheck grader against mistaken and correct variants of the reference solution.

Each MISTAKE must lose points, on (at least) the tests it names; each CORRECT
alternative must get full marks with nothing printed as a warning. Variants replace one
function's solution region of solutions/gradcheck.py (``body``), so they keep applying
while the rest of the solution changes.

Decisions recorded here (see also the grader's docstring and constants):
- restoring x by arithmetic (x[i] += h ... x[i] -= 2h ... x[i] += h, or (x - h) + h) is a
  mistake: the contract says "x is left exactly as it was" and floating point does not
  undo exactly; the grader uses values where it shows (0.1, 1e-7, 1e3 * random).
- float32 copies are a mistake: with h = 1e-5 they lose ~1% of h (errors ~1e-2).
- checking every coordinate in gradient_check is a mistake: the contract is a sparse
  check at num_checks coordinates (the grader counts calls to f).
- the eps of relative_error is a floor, max(eps, |a| + |b|), as the contract says; adding
  it to the denominator loses the one point of test_relative_error_eps only.
- gradient_check's relative error has the same floor: without it, gradients that are both
  0 give 0/0 (nan, a ZeroDivisionError with Python floats, or 0.0 hidden by a running
  max(worst, nan)) and a 0 gradient against a numerical one at rounding level (h² = 1e-10)
  gives 1.0 instead of 0.01; that loses the one point of test_gradient_check_zero_gradient
  and no other.
"""

from __future__ import annotations

import re
import textwrap

import pytest
from harness import (
    SOLUTIONS,
    Variant,
    assert_full_marks,
    assert_mistake_caught,
    base_name,
    grade_variants,
    run_graders,
    selected_variants,
)

from autograder.stubs import make_stub

SOLUTION = (SOLUTIONS / "gradcheck.py").read_text(encoding="utf-8")
GRADER = "graders/test_gradcheck.py"


def region(fn: str) -> str:
    """The text of ``fn``'s solution region in the reference (markers excluded)."""
    match = re.search(rf"def {fn}\(.*?### BEGIN SOLUTION\n(.*?)\n\s*### END SOLUTION", SOLUTION,
                      re.DOTALL)
    assert match, f"no solution region in {fn}"
    return match.group(1)


def body(fn: str, code: str) -> tuple[str, str]:
    """A substitution replacing ``fn``'s solution region with ``code`` (any indentation)."""
    return region(fn), textwrap.indent(textwrap.dedent(code).strip("\n"), "    ")


def mistake(name: str, fn: str, code: str, must_fail: list[str]) -> Variant:
    return Variant("gradcheck", name, replace=[body(fn, code)], must_fail=must_fail)


def correct(name: str, fn: str, code: str) -> Variant:
    return Variant("gradcheck", name, replace=[body(fn, code)])


NG = "numerical_gradient"
NGA = "numerical_gradient_array"
RE = "relative_error"
GC = "gradient_check"

# An in-place centred difference whose middle is the parameter of each mistake.
NG_TEMPLATE = """
    grad = np.zeros(x.shape)
    for i in np.ndindex(x.shape):
        {body}
    return grad
"""


def ng_loop(code: str) -> str:
    return NG_TEMPLATE.format(body=textwrap.indent(textwrap.dedent(code).strip("\n"), " " * 8).lstrip())


# The reference gradient_check with one part changed.
GC_TEMPLATE = """
    rng = np.random.default_rng({rng_seed})
    errors = []
    for _ in range(num_checks):
        ix = tuple(int(rng.integers(n)) for n in x.shape)
        {evaluate}
        errors.append({error})
    return {reduce}
"""
GC_EVAL = """old = x[ix]
        x[ix] = old + h
        fp = f(x)
        x[ix] = old - h
        fm = f(x)
        x[ix] = old
        num = (fp - fm) / (2 * h)"""
GC_ERROR = "abs(num - analytic_grad[ix]) / max(1e-8, abs(num) + abs(analytic_grad[ix]))"


def gc_variant(rng_seed="seed", evaluate=GC_EVAL, error=GC_ERROR, reduce="max(errors)") -> str:
    return GC_TEMPLATE.format(rng_seed=rng_seed, evaluate=evaluate, error=error, reduce=reduce)


# gradient_check computing |num - ana| / (|num| + |ana|) without the eps floor: each must
# lose test_gradient_check_zero_gradient and nothing else (checked exactly below).
GC_NO_FLOOR = "abs(num - analytic_grad[ix]) / (abs(num) + abs(analytic_grad[ix]))"
ZERO = ["test_gradient_check_zero_gradient"]
ZERO_GRADIENT_MISTAKES = [
    # The reference with its relative_error call written out without the floor: 0/0 gives a
    # nan (and a RuntimeWarning) that max(worst, nan) drops, so only sum(x**3) at x = 0
    # (1.0 instead of 0.01) catches it.
    Variant("gradcheck", "gc_no_eps_floor_running_max", replace=[(
        "worst = max(worst, relative_error(numeric, analytic_grad[index]))",
        ("worst = max(worst, abs(numeric - analytic_grad[index])\n"
         "                    / (abs(numeric) + abs(analytic_grad[index])))"))], must_fail=ZERO),
    # max over a list of nans is nan: the measured bug (full marks before the zero test).
    mistake("gc_no_eps_floor", GC, gc_variant(error=GC_NO_FLOOR), must_fail=ZERO),
    mistake("gc_no_eps_floor_np_max", GC,
            gc_variant(error=GC_NO_FLOOR, reduce="float(np.max(errors))"), must_fail=ZERO),
    # Python floats: 0.0 / 0.0 raises ZeroDivisionError.
    mistake("gc_no_eps_floor_python_floats", GC, gc_variant(
        error="abs(float(num) - float(analytic_grad[ix])) / "
              "(abs(float(num)) + abs(float(analytic_grad[ix])))"), must_fail=ZERO),
    # 0/0 avoided by a guard instead of the floor: 0.0 where both are 0, but 1.0 where only
    # the analytic gradient is.
    mistake("gc_zero_guard_without_floor", GC, gc_variant(
        error="0.0 if num == analytic_grad[ix] else "
              "abs(num - analytic_grad[ix]) / (abs(num) + abs(analytic_grad[ix]))"),
            must_fail=ZERO),
]

NG_VALUES = ["test_numerical_gradient_known_functions", "test_numerical_gradient_centred"]
NGA_VALUES = ["test_numerical_gradient_array_known"]

MISTAKES = [
    # --- numerical_gradient
    mistake("ng_forward_difference", NG, ng_loop("""
        old = x[i]
        fx = f(x)
        x[i] = old + h
        fp = f(x)
        x[i] = old
        grad[i] = (fp - fx) / h
    """), must_fail=NG_VALUES),
    mistake("ng_backward_difference", NG, ng_loop("""
        old = x[i]
        fx = f(x)
        x[i] = old - h
        fm = f(x)
        x[i] = old
        grad[i] = (fx - fm) / h
    """), must_fail=["test_numerical_gradient_centred"]),
    mistake("ng_divides_by_h", NG, ng_loop("""
        old = x[i]
        x[i] = old + h
        fp = f(x)
        x[i] = old - h
        fm = f(x)
        x[i] = old
        grad[i] = (fp - fm) / h
    """), must_fail=NG_VALUES),
    mistake("ng_does_not_restore_x", NG, ng_loop("""
        old = x[i]
        x[i] = old + h
        fp = f(x)
        x[i] = old - h
        fm = f(x)
        grad[i] = (fp - fm) / (2 * h)
    """), must_fail=["test_numerical_gradient_restores_x"]),
    mistake("ng_restores_by_adding_h", NG, ng_loop("""
        x[i] += h
        fp = f(x)
        x[i] -= 2 * h
        fm = f(x)
        x[i] += h
        grad[i] = (fp - fm) / (2 * h)
    """), must_fail=["test_numerical_gradient_restores_x"]),
    mistake("ng_restores_from_minus", NG, ng_loop("""
        old = x[i]
        x[i] = old + h
        fp = f(x)
        x[i] = old - h
        fm = f(x)
        x[i] = x[i] + h
        grad[i] = (fp - fm) / (2 * h)
    """), must_fail=["test_numerical_gradient_restores_x"]),
    mistake("ng_1d_only_range_size", NG, """
        grad = np.zeros_like(x)
        for i in range(x.size):
            old = x[i].copy()
            x[i] = old + h
            fp = f(x)
            x[i] = old - h
            fm = f(x)
            x[i] = old
            grad[i] = (fp - fm) / (2 * h)
        return grad
    """, must_fail=["test_numerical_gradient_known_functions"]),
    mistake("ng_1d_only_range_len", NG, """
        grad = np.zeros_like(x)
        for i in range(len(x)):
            old = x[i].copy()
            x[i] = old + h
            fp = f(x)
            x[i] = old - h
            fm = f(x)
            x[i] = old
            grad[i] = (fp - fm) / (2 * h)
        return grad
    """, must_fail=["test_numerical_gradient_known_functions"]),
    mistake("ng_flattened_copies", NG, """
        flat = x.ravel().copy()
        grad = np.zeros(flat.size)
        for i in range(flat.size):
            plus, minus = flat.copy(), flat.copy()
            plus[i] += h
            minus[i] -= h
            grad[i] = (f(plus) - f(minus)) / (2 * h)
        return grad.reshape(x.shape)
    """, must_fail=["test_numerical_gradient_known_functions",
                    "test_numerical_gradient_restores_x"]),
    mistake("ng_float32_copies", NG, """
        grad = np.zeros(x.shape)
        for i in np.ndindex(x.shape):
            plus = x.astype(np.float32)
            minus = x.astype(np.float32)
            plus[i] += h
            minus[i] -= h
            grad[i] = (f(plus) - f(minus)) / (2 * h)
        return grad
    """, must_fail=NG_VALUES),
    mistake("ng_ignores_h", NG, ng_loop("""
        old = x[i]
        x[i] = old + 1e-5
        fp = f(x)
        x[i] = old - 1e-5
        fm = f(x)
        x[i] = old
        grad[i] = (fp - fm) / 2e-5
    """), must_fail=["test_numerical_gradient_uses_h"]),
    mistake("ng_in_place_on_reshape", NG, """
        flat = x.reshape(-1)  # a view only when x is contiguous
        grad = np.zeros(flat.size)
        for i in range(flat.size):
            old = flat[i]
            flat[i] = old + h
            fp = f(x)
            flat[i] = old - h
            fm = f(x)
            flat[i] = old
            grad[i] = (fp - fm) / (2 * h)
        return grad.reshape(x.shape)
    """, must_fail=["test_numerical_gradient_noncontiguous"]),
    mistake("ng_returns_list", NG, """
        return [0.0] * x.size
    """, must_fail=NG_VALUES),
    # --- numerical_gradient_array
    mistake("nga_ignores_dout", NGA, """
        return numerical_gradient(lambda z: np.sum(f(z)), x, h)
    """, must_fail=NGA_VALUES),
    mistake("nga_forward_difference", NGA, """
        grad = np.zeros(x.shape)
        base = np.array(f(x))
        for i in np.ndindex(x.shape):
            plus = x.copy()
            plus[i] += h
            grad[i] = np.sum((f(plus) - base) * dout) / h
        return grad
    """, must_fail=NGA_VALUES),
    mistake("nga_divides_by_h", NGA, """
        return numerical_gradient(lambda z: np.sum(f(z) * dout), x, h) * 2
    """, must_fail=NGA_VALUES),
    mistake("nga_keeps_output_view", NGA, """
        grad = np.zeros(x.shape)
        for i in np.ndindex(x.shape):
            old = x[i]
            x[i] = old + h
            pos = f(x)
            x[i] = old - h
            neg = f(x)
            x[i] = old
            grad[i] = np.sum((pos - neg) * dout) / (2 * h)
        return grad
    """, must_fail=["test_numerical_gradient_array_view_output"]),
    mistake("nga_does_not_restore_x", NGA, """
        grad = np.zeros(x.shape)
        for i in np.ndindex(x.shape):
            old = x[i]
            x[i] = old + h
            pos = np.array(f(x))
            x[i] = old - h
            neg = np.array(f(x))
            grad[i] = np.sum((pos - neg) * dout) / (2 * h)
        return grad
    """, must_fail=["test_numerical_gradient_array_restores_x"]),
    # --- relative_error
    mistake("re_no_eps", RE, """
        return float(np.max(np.abs(a - b) / (np.abs(a) + np.abs(b))))
    """, must_fail=["test_relative_error_zeros", "test_relative_error_eps",
                    "test_gradient_check_zero_gradient"]),  # via the reference gradient_check
    mistake("re_where_without_floor", RE, """
        den = np.abs(a) + np.abs(b)
        return float(np.max(np.where(den > 0, np.abs(a - b) / den, 0.0)))
    """, must_fail=["test_relative_error_zeros", "test_gradient_check_zero_gradient"]),
    mistake("re_mean", RE, """
        return float(np.mean(np.abs(a - b) / np.maximum(eps, np.abs(a) + np.abs(b))))
    """, must_fail=["test_relative_error_value"]),
    mistake("re_over_abs_a", RE, """
        return float(np.max(np.abs(a - b) / np.maximum(eps, np.abs(a))))
    """, must_fail=["test_relative_error_value"]),
    mistake("re_over_abs_b", RE, """
        return float(np.max(np.abs(a - b) / np.maximum(eps, np.abs(b))))
    """, must_fail=["test_relative_error_value"]),
    mistake("re_eps_added", RE, """
        return float(np.max(np.abs(a - b) / (np.abs(a) + np.abs(b) + eps)))
    """, must_fail=["test_relative_error_eps"]),
    mistake("re_eps_hardcoded", RE, """
        return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))
    """, must_fail=["test_relative_error_eps"]),
    mistake("re_norm_ratio", RE, """
        return float(np.linalg.norm(a - b) / max(eps, np.linalg.norm(a) + np.linalg.norm(b)))
    """, must_fail=["test_relative_error_value"]),
    # --- gradient_check
    mistake("gc_forward_difference", GC, gc_variant(evaluate="""old = x[ix]
        fx = f(x)
        x[ix] = old + h
        fp = f(x)
        x[ix] = old
        num = (fp - fx) / h"""), must_fail=["test_gradient_check_correct_gradient"]),
    mistake("gc_divides_by_h", GC, gc_variant(evaluate=GC_EVAL.replace("(2 * h)", "h")),
            must_fail=["test_gradient_check_correct_gradient"]),
    mistake("gc_unseeded_rng", GC, gc_variant(rng_seed=""),
            must_fail=["test_gradient_check_seed"]),
    mistake("gc_always_seed_0", GC, gc_variant(rng_seed="0"),
            must_fail=["test_gradient_check_seed"]),
    mistake("gc_checks_every_coordinate", GC, """
        num = numerical_gradient(f, x, h)
        return relative_error(num, analytic_grad)
    """, must_fail=["test_gradient_check_num_checks"]),
    mistake("gc_mean", GC, gc_variant(reduce="float(np.mean(errors))"),
            must_fail=["test_gradient_check_returns_max"]),
    mistake("gc_min", GC, gc_variant(reduce="min(errors)"),
            must_fail=["test_gradient_check_returns_max"]),
    mistake("gc_error_over_analytic", GC,
            gc_variant(error="abs(num - analytic_grad[ix]) / max(1e-8, abs(analytic_grad[ix]))"),
            must_fail=["test_gradient_check_returns_max", "test_gradient_check_wrong_gradient"]),
    mistake("gc_absolute_error", GC, gc_variant(error="abs(num - analytic_grad[ix])"),
            must_fail=["test_gradient_check_returns_max"]),
    mistake("gc_does_not_restore_x", GC, gc_variant(evaluate=GC_EVAL.replace(
        "        x[ix] = old\n", "")), must_fail=["test_gradient_check_restores_x"]),
    mistake("gc_restores_by_adding_h", GC, gc_variant(evaluate="""x[ix] += h
        fp = f(x)
        x[ix] -= 2 * h
        fm = f(x)
        x[ix] += h
        num = (fp - fm) / (2 * h)"""), must_fail=["test_gradient_check_restores_x"]),
    *ZERO_GRADIENT_MISTAKES,
    mistake("gc_wrong_coordinate_of_analytic", GC,
            gc_variant(error="abs(num - analytic_grad.flat[ix[0]]) / "
                             "max(1e-8, abs(num) + abs(analytic_grad.flat[ix[0]]))"),
            must_fail=["test_gradient_check_correct_gradient"]),
    # --- the steps and the defaults of the signatures (docs/contract.md, section 2)
    *[Variant("gradcheck", name, replace=[(f"def {signature}:", f"def {changed}:")], must_fail=[test])
      for name, signature, changed, test in [
          ("ng_default_h_1e-4", "numerical_gradient(f, x, h=1e-5)", "numerical_gradient(f, x, h=1e-4)",
           "test_numerical_gradient_default_h"),
          ("ng_default_h_1e-6", "numerical_gradient(f, x, h=1e-5)", "numerical_gradient(f, x, h=1e-6)",
           "test_numerical_gradient_default_h"),
          ("nga_default_h_1e-4", "numerical_gradient_array(f, x, dout, h=1e-5)",
           "numerical_gradient_array(f, x, dout, h=1e-4)", "test_numerical_gradient_array_uses_h"),
          ("gc_default_h_1e-6", "gradient_check(f, x, analytic_grad, num_checks=10, h=1e-5, seed=0)",
           "gradient_check(f, x, analytic_grad, num_checks=10, h=1e-6, seed=0)",
           "test_gradient_check_uses_h"),
          ("gc_default_num_checks_5", "gradient_check(f, x, analytic_grad, num_checks=10, h=1e-5, seed=0)",
           "gradient_check(f, x, analytic_grad, num_checks=5, h=1e-5, seed=0)",
           "test_gradient_check_defaults"),
          ("gc_default_seed_none", "gradient_check(f, x, analytic_grad, num_checks=10, h=1e-5, seed=0)",
           "gradient_check(f, x, analytic_grad, num_checks=10, h=1e-5, seed=None)",
           "test_gradient_check_defaults"),
          ("gc_default_seed_1", "gradient_check(f, x, analytic_grad, num_checks=10, h=1e-5, seed=0)",
           "gradient_check(f, x, analytic_grad, num_checks=10, h=1e-5, seed=1)",
           "test_gradient_check_defaults"),
      ]],
    mistake("nga_ignores_h", NGA, """
        grad = np.zeros(x.shape)
        for i in np.ndindex(x.shape):
            old = x[i]
            x[i] = old + 1e-5
            pos = np.array(f(x))
            x[i] = old - 1e-5
            neg = np.array(f(x))
            x[i] = old
            grad[i] = np.sum((pos - neg) * dout) / 2e-5
        return grad
    """, must_fail=["test_numerical_gradient_array_uses_h"]),
    mistake("gc_ignores_h", GC, gc_variant(evaluate=GC_EVAL.replace("h", "1e-5")),
            must_fail=["test_gradient_check_uses_h"]),
]

CORRECT = [
    correct("ng_perturbed_copies", NG, """
        grad = np.zeros(x.shape)
        for i in np.ndindex(x.shape):
            plus, minus = x.copy(), x.copy()
            plus[i] += h
            minus[i] -= h
            grad[i] = (f(plus) - f(minus)) / (2 * h)
        return grad
    """),
    correct("ng_nditer_cs231n", NG, """
        grad = np.zeros_like(x)
        it = np.nditer(x, flags=["multi_index"], op_flags=[["readwrite"]])
        while not it.finished:
            ix = it.multi_index
            oldval = x[ix]
            x[ix] = oldval + h
            fxph = f(x)
            x[ix] = oldval - h
            fxmh = f(x)
            x[ix] = oldval
            grad[ix] = (fxph - fxmh) / (2 * h)
            it.iternext()
        return grad
    """),
    correct("ng_flat_loop_over_a_copy", NG, """
        work = x.copy()
        flat = work.reshape(-1)
        grad = np.zeros(flat.size)
        for k in range(flat.size):
            old = flat[k]
            flat[k] = old + h
            fp = f(work)
            flat[k] = old - h
            fm = f(work)
            flat[k] = old
            grad[k] = (fp - fm) / (2 * h)
        return grad.reshape(x.shape)
    """),
    correct("ng_x_flat_in_place", NG, """
        grad = np.empty(x.size)
        for k in range(x.size):
            old = x.flat[k]
            x.flat[k] = old + h
            fp = float(f(x))
            x.flat[k] = old - h
            fm = float(f(x))
            x.flat[k] = old
            grad[k] = 0.5 * (fp - fm) / h
        return grad.reshape(x.shape)
    """),
    correct("ng_unravel_index", NG, """
        grad = np.zeros(x.shape)
        for k in range(x.size):
            i = np.unravel_index(k, x.shape)
            e = np.zeros(x.shape)
            e[i] = h
            grad[i] = (f(x + e) - f(x - e)) / (2 * h)
        return grad
    """),
    correct("nga_via_numerical_gradient", NGA, """
        return numerical_gradient(lambda z: np.sum(f(z) * dout), x, h)
    """),
    correct("nga_perturbed_copies", NGA, """
        grad = np.zeros(x.shape)
        for i in np.ndindex(x.shape):
            plus, minus = x.copy(), x.copy()
            plus[i] += h
            minus[i] -= h
            grad[i] = np.sum((f(plus) - f(minus)) * dout) / (2 * h)
        return grad
    """),
    correct("nga_cs231n_copy", NGA, """
        grad = np.zeros_like(x)
        it = np.nditer(x, flags=["multi_index"], op_flags=[["readwrite"]])
        while not it.finished:
            ix = it.multi_index
            oldval = x[ix]
            x[ix] = oldval + h
            pos = f(x).copy()
            x[ix] = oldval - h
            neg = f(x).copy()
            x[ix] = oldval
            grad[ix] = np.sum((pos - neg) * dout) / (2 * h)
            it.iternext()
        return grad
    """),
    correct("re_numpy_scalar", RE, """
        return np.max(np.abs(a - b) / np.maximum(eps, np.abs(a) + np.abs(b)))
    """),
    correct("re_zero_d_array_where_floor", RE, """
        den = np.abs(a) + np.abs(b)
        den = np.where(den > eps, den, eps)
        return np.asarray((np.abs(a - b) / den).max())
    """),
    correct("re_loop", RE, """
        worst = 0.0
        for ai, bi in zip(np.ravel(a), np.ravel(b)):
            worst = max(worst, abs(ai - bi) / max(eps, abs(ai) + abs(bi)))
        return worst
    """),
    correct("gc_choice_over_flat_indices", GC, """
        rng = np.random.default_rng(seed)
        flat = rng.choice(x.size, size=num_checks, replace=False)
        worst = 0.0
        for k in flat:
            ix = np.unravel_index(k, x.shape)
            plus, minus = x.copy(), x.copy()
            plus[ix] += h
            minus[ix] -= h
            num = (f(plus) - f(minus)) / (2 * h)
            worst = max(worst, relative_error(num, analytic_grad[ix]))
        return worst
    """),
    correct("gc_initial_evaluation_and_numpy_float", GC, """
        fx = f(x)  # e.g. printed by a verbose checker
        rng = np.random.default_rng(seed)
        errors = np.zeros(num_checks)
        for k in range(num_checks):
            ix = tuple(rng.integers(0, x.shape))
            old = x[ix]
            x[ix] = old + h
            fp = f(x)
            x[ix] = old - h
            fm = f(x)
            x[ix] = old
            num = (fp - fm) / (2 * h)
            errors[k] = abs(num - analytic_grad[ix]) / max(1e-8, abs(num) + abs(analytic_grad[ix]))
        return errors.max()
    """),
    correct("gc_own_error_np_maximum_vectorized", GC, """
        rng = np.random.default_rng(seed)
        nums, anas = np.empty(num_checks), np.empty(num_checks)
        for k in range(num_checks):
            ix = tuple(int(rng.integers(n)) for n in x.shape)
            plus, minus = x.copy(), x.copy()
            plus[ix] += h
            minus[ix] -= h
            nums[k] = (f(plus) - f(minus)) / (2 * h)
            anas[k] = analytic_grad[ix]
        eps = 1e-8
        return float(np.max(np.abs(nums - anas) / np.maximum(eps, np.abs(nums) + np.abs(anas))))
    """),
    correct("gc_own_error_where_floor_python_floats", GC, """
        rng = np.random.default_rng(seed)
        worst = 0.0
        for _ in range(num_checks):
            ix = tuple(int(rng.integers(n)) for n in x.shape)
            old = x[ix]
            x[ix] = old + h
            fp = float(f(x))
            x[ix] = old - h
            fm = float(f(x))
            x[ix] = old
            num, ana = (fp - fm) / (2 * h), float(analytic_grad[ix])
            den = abs(num) + abs(ana)
            worst = max(worst, abs(num - ana) / (den if den > 1e-8 else 1e-8))
        return worst
    """),
    correct("gc_relative_error_on_arrays", GC, """
        rng = np.random.default_rng(seed)
        coords = [tuple(int(rng.integers(n)) for n in x.shape) for _ in range(num_checks)]
        nums = []
        for ix in coords:
            e = np.zeros(x.shape)
            e[ix] = h
            nums.append((f(x + e) - f(x - e)) / (2 * h))
        return relative_error(np.array(nums), np.array([analytic_grad[ix] for ix in coords]))
    """),
]


def _ids(variants):
    return [variant.name for variant in variants]


@pytest.fixture(scope="module")
def runs(request, tmp_path_factory):
    """Every selected variant graded once, in a few processes (see harness.grade_variants)."""
    return grade_variants(selected_variants(request, MISTAKES + CORRECT),
                          tmp_path_factory.mktemp("variants"))


@pytest.mark.parametrize("variant", MISTAKES, ids=_ids(MISTAKES))
def test_mistake_loses_points(variant, runs):
    assert_mistake_caught(variant, runs[variant.name])


@pytest.mark.parametrize("variant", CORRECT, ids=_ids(CORRECT))
def test_correct_alternative_gets_full_marks(variant, runs):
    run = runs[variant.name]
    assert_full_marks(variant, run)
    assert "warning" not in run.output.lower(), f"{variant.name} printed a warning:\n{run.output}"


@pytest.mark.parametrize("variant", ZERO_GRADIENT_MISTAKES, ids=_ids(ZERO_GRADIENT_MISTAKES))
def test_zero_gradient_mistake_loses_only_that_point(variant, runs):
    """No floor in gradient_check's error loses exactly the zero-gradient test, which names
    the floor."""
    run = runs[variant.name]
    assert {base_name(name) for name in run.failed()} == set(ZERO), run.output
    message = run.messages()["test_gradient_check_zero_gradient"]
    assert "max(eps, |a| + |b|)" in message or "max(1e-8, |num| + |ana|)" in message, message


def test_reference_full_marks_without_warnings(tmp_path):
    run = Variant("gradcheck", "reference").grade(tmp_path)
    assert run.earned == run.available > 0, run.output
    assert "warning" not in run.output.lower(), run.output


def test_stub_scores_zero_with_not_implemented_messages(tmp_path):
    (tmp_path / "gradcheck.py").write_text(make_stub(SOLUTION, "gradcheck.py"), encoding="utf-8")
    run = run_graders(tmp_path, GRADER)
    assert run.earned == 0 and run.available > 0, run.output
    assert run.returncode == 1 and "ERROR" not in run.output, run.output  # no collection errors
    for name, message in run.messages().items():
        assert message.startswith("not implemented yet"), f"{name}: {message!r}"
        assert "\n" not in message.strip(), f"{name}: {message!r}"
