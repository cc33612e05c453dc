"""The backprop grader against mistaken and correct variants of the reference solution.

Each MISTAKE must lose points, on (at least) the tests it names; each CORRECT
alternative must get full marks with nothing printed as a warning. Variants are text
substitutions on solutions/backprop.py, mostly of one function's solution region
(``body``), so they keep applying while the rest of the solution changes.
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
    grade_variants,
    run_graders,
    selected_variants,
)

from autograder.stubs import make_stub

SOLUTION = (SOLUTIONS / "backprop.py").read_text(encoding="utf-8")
GRADER = "graders/test_backprop.py"


def region(fn: str) -> str:
    """The text of ``fn``'s solution region in the reference (markers excluded)."""
    match = re.search(rf"def {fn}\(.*?### BEGIN SOLUTION\n(.*?)\n\s*### END SOLUTION", SOLUTION,
                      re.DOTALL)
    assert match, f"no solution region in {fn}"
    return match.group(1)


def body(fn: str, code: str) -> tuple[str, str]:
    """A substitution replacing ``fn``'s solution region with ``code`` (any indentation)."""
    return region(fn), textwrap.indent(textwrap.dedent(code).strip("\n"), "    ")


def mistake(name: str, *replace: tuple[str, str], must_fail: list[str]) -> Variant:
    return Variant("backprop", name, replace=list(replace), must_fail=must_fail)


def correct(name: str, *replace: tuple[str, str]) -> Variant:
    return Variant("backprop", name, replace=list(replace))


SOFTMAX_GRADS = ["test_softmax_cross_entropy_gradient", "test_softmax_cross_entropy_large_scores",
                 "test_softmax_cross_entropy_far_below_max", "test_two_layer_net_gradients"]
NET = ["test_two_layer_net_loss", "test_two_layer_net_gradients"]

MISTAKES = [
    # --- affine
    mistake("affine_no_bias", ("out = x @ w + b\n", "out = x @ w\n"),
            must_fail=["test_affine_forward"] + NET),
    mistake("affine_forward_modifies_x",
            ("out = x @ w + b\n", "x += 0.5\n    out = (x - 0.5) @ w + b\n"),
            must_fail=["test_affine_forward"]),
    mistake("affine_dw_transposed", ("dw = x.T @ dout", "dw = dout.T @ x"),
            must_fail=["test_affine_backward"]),
    mistake("affine_db_first_example", ("db = dout.sum(axis=0)", "db = dout[0]"),
            must_fail=["test_affine_backward", "test_two_layer_net_gradients"]),
    mistake("affine_db_mean", ("db = dout.sum(axis=0)", "db = dout.mean(axis=0)"),
            must_fail=["test_affine_backward", "test_two_layer_net_gradients"]),
    mistake("affine_dx_uses_x", ("dx = dout @ w.T", "dx = dout @ w.T * x"),
            must_fail=["test_affine_backward"]),
    # --- ReLU
    mistake("relu_mask_from_dout", ("dx = dout * (x > 0)", "dx = dout * (dout > 0)"),
            must_fail=["test_relu_backward", "test_two_layer_net_gradients"]),
    mistake("relu_mask_x_ge_0", ("dx = dout * (x > 0)", "dx = dout * (x >= 0)"),
            must_fail=["test_relu_backward_at_zero"]),
    mistake("relu_backward_forgets_dout", ("dx = dout * (x > 0)", "dx = (x > 0).astype(float)"),
            must_fail=["test_relu_backward"]),
    mistake("relu_forward_in_place", body("relu_forward", """
                x[x < 0] = 0
                out = x
                cache = x
            """), must_fail=["test_relu_forward"]),
    mistake("relu_backward_modifies_dout", body("relu_backward", """
                x = cache
                dout[x <= 0] = 0
                dx = dout
            """), must_fail=["test_relu_backward"]),
    # size-1 and empty axes (the contract: any shape)
    mistake("relu_forward_squeezes", ("out = np.maximum(x, 0.0)", "out = np.maximum(x, 0.0).squeeze()"),
            must_fail=["test_relu_any_shape"]),
    mistake("relu_forward_vectorize", ("out = np.maximum(x, 0.0)",
                                       "out = np.vectorize(lambda v: max(v, 0.0))(x)"),
            must_fail=["test_relu_any_shape"]),
    # --- sigmoid / tanh
    mistake("sigmoid_derivative_from_input", body("sigmoid_forward", """
                z = np.exp(-np.abs(x))
                out = np.where(x >= 0, 1.0 / (1.0 + z), z / (1.0 + z))
                cache = (x, out)
            """), body("sigmoid_backward", """
                x, out = cache
                dx = dout * out * (1.0 - x)
            """), must_fail=["test_sigmoid_backward", "test_sigmoid_extreme_inputs"]),
    mistake("sigmoid_derivative_of_x", body("sigmoid_forward", """
                z = np.exp(-np.abs(x))
                out = np.where(x >= 0, 1.0 / (1.0 + z), z / (1.0 + z))
                cache = x
            """), must_fail=["test_sigmoid_backward"]),
    mistake("sigmoid_overflows", body("sigmoid_forward", """
                out = 1.0 / (1.0 + np.exp(-x))
                cache = out
            """), must_fail=["test_sigmoid_extreme_inputs"]),
    mistake("sigmoid_where_both_branches_overflow", body("sigmoid_forward", """
                out = np.where(x >= 0, 1.0 / (1.0 + np.exp(-x)), np.exp(x) / (1.0 + np.exp(x)))
                cache = out
            """), must_fail=["test_sigmoid_extreme_inputs"]),
    mistake("sigmoid_of_abs_x",
            ("z / (1.0 + z))\n    cache = out", "1.0 / (1.0 + z))\n    cache = out"),
            must_fail=["test_sigmoid_forward"]),
    mistake("tanh_derivative_from_input", body("tanh_forward", """
                out = np.tanh(x)
                cache = x
            """), body("tanh_backward", "dx = dout * (1.0 - cache ** 2)"),
            must_fail=["test_tanh_backward"]),
    mistake("tanh_derivative_no_square",
            ("dx = dout * (1.0 - out * out)", "dx = dout * (1.0 - out)"),
            must_fail=["test_tanh_backward"]),
    # --- softmax cross-entropy
    mistake("softmax_forgets_1_over_N", ("    dscores /= n\n", ""), must_fail=SOFTMAX_GRADS),
    mistake("softmax_loss_is_sum",
            ("loss = -log_probs[rows, y].mean()", "loss = -log_probs[rows, y].sum()"),
            must_fail=["test_softmax_cross_entropy_loss", "test_two_layer_net_loss"]),
    mistake("softmax_no_one_hot_subtraction", ("    dscores[rows, y] -= 1.0\n", ""),
            must_fail=SOFTMAX_GRADS),
    mistake("softmax_wrong_axis", body("softmax_cross_entropy", """
                n = scores.shape[0]
                rows = np.arange(n)
                shifted = scores - scores.max(axis=0, keepdims=True)
                log_probs = shifted - np.log(np.exp(shifted).sum(axis=0, keepdims=True))
                loss = -log_probs[rows, y].mean()
                dscores = np.exp(log_probs)
                dscores[rows, y] -= 1.0
                dscores /= n
            """), must_fail=["test_softmax_cross_entropy_loss",
                             "test_softmax_cross_entropy_gradient"]),
    mistake("softmax_no_max_subtraction",
            ("shifted = scores - scores.max(axis=1, keepdims=True)", "shifted = scores"),
            must_fail=["test_softmax_cross_entropy_large_scores"]),
    mistake("softmax_log_of_probabilities", body("softmax_cross_entropy", """
                n = scores.shape[0]
                shifted = scores - scores.max(axis=1, keepdims=True)
                probs = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
                loss = -np.mean(np.log(probs[np.arange(n), y]))
                dscores = probs.copy()
                dscores[np.arange(n), y] -= 1
                dscores /= n
            """), must_fail=["test_softmax_cross_entropy_far_below_max"]),
    mistake("softmax_log_probabilities_plus_eps", body("softmax_cross_entropy", """
                n = scores.shape[0]
                shifted = scores - scores.max(axis=1, keepdims=True)
                probs = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
                loss = -np.mean(np.log(probs[np.arange(n), y] + 1e-12))
                dscores = probs.copy()
                dscores[np.arange(n), y] -= 1
                dscores /= n
            """), must_fail=["test_softmax_cross_entropy_far_below_max"]),
    mistake("softmax_modifies_scores",
            ("shifted = scores - scores.max(axis=1, keepdims=True)",
             "scores -= scores.max(axis=1, keepdims=True)\n    shifted = scores"),
            must_fail=["test_softmax_cross_entropy_loss", "test_softmax_cross_entropy_gradient"]),
    # --- MSE
    mistake("mse_missing_factor_2", ("dpred = 2.0 * diff / diff.size", "dpred = diff / diff.size"),
            must_fail=["test_mse_loss_gradient"]),
    mistake("mse_divided_by_rows",
            ("dpred = 2.0 * diff / diff.size", "dpred = 2.0 * diff / diff.shape[0]"),
            must_fail=["test_mse_loss_gradient"]),
    mistake("mse_not_divided", ("dpred = 2.0 * diff / diff.size", "dpred = 2.0 * diff"),
            must_fail=["test_mse_loss_gradient"]),
    mistake("mse_loss_is_sum", ("loss = np.mean(diff ** 2)", "loss = np.sum(diff ** 2)"),
            must_fail=["test_mse_loss_value"]),
    mistake("mse_modifies_pred", ("diff = pred - target", "diff = pred\n    diff -= target"),
            must_fail=["test_mse_loss_value", "test_mse_loss_gradient"]),
    # --- two-layer net
    mistake("net_reg_gradient_missing", ('"W1": dW1 + reg * W1', '"W1": dW1'),
            ('"W2": dW2 + reg * W2', '"W2": dW2'), must_fail=["test_two_layer_net_gradients"]),
    mistake("net_reg_instead_of_half_reg",
            ("loss += 0.5 * reg * (", "loss += reg * ("),
            ('"W1": dW1 + reg * W1', '"W1": dW1 + 2 * reg * W1'),
            ('"W2": dW2 + reg * W2', '"W2": dW2 + 2 * reg * W2'), must_fail=NET),
    mistake("net_reg_gradient_doubled", ('"W1": dW1 + reg * W1', '"W1": dW1 + 2 * reg * W1'),
            must_fail=["test_two_layer_net_gradients"]),
    mistake("net_reg_on_biases",
            ("np.sum(W2 * W2))", "np.sum(W2 * W2) + np.sum(b1 * b1) + np.sum(b2 * b2))"),
            ('"b1": db1', '"b1": db1 + reg * b1'), ('"b2": db2', '"b2": db2 + reg * b2'),
            must_fail=NET),
    mistake("net_no_relu_backward", ("dhidden = relu_backward(dact, cache_relu)", "dhidden = dact"),
            must_fail=["test_two_layer_net_gradients"]),
    mistake("net_missing_grad_key", ('"b1": db1, ', ""),
            must_fail=["test_two_layer_net_gradients"]),
    mistake("net_default_reg_not_0", ("def two_layer_net(params, X, y, reg=0.0):",
                                      "def two_layer_net(params, X, y, reg=0.1):"),
            must_fail=["test_two_layer_net_default_reg"]),
    mistake("net_reg_required", ("def two_layer_net(params, X, y, reg=0.0):",
                                 "def two_layer_net(params, X, y, reg):"),
            must_fail=["test_two_layer_net_default_reg"]),
]

ONE_LAYER_FLOAT32 = """
    x32, w32, b32 = (np.asarray(a, dtype=np.float32) for a in (x, w, b))
    out = (x32 @ w32 + b32).astype(np.float64)
    cache = (x32, w32)
"""

CORRECT = [
    correct("einsum_everywhere", body("affine_forward", """
                out = np.einsum("nd,dm->nm", x, w) + b
                cache = (x, w)
            """), body("affine_backward", """
                x, w = cache
                dx = np.einsum("nm,dm->nd", dout, w)
                dw = np.einsum("nd,nm->dm", x, dout)
                db = np.einsum("nm->m", dout)
            """)),
    correct("affine_python_loops", body("affine_forward", """
                N, D = x.shape
                M = w.shape[1]
                out = np.zeros((N, M))
                for n in range(N):
                    for m in range(M):
                        total = b[m]
                        for d in range(D):
                            total += x[n, d] * w[d, m]
                        out[n, m] = total
                cache = (x, w)
            """), body("affine_backward", """
                x, w = cache
                N, D = x.shape
                M = w.shape[1]
                dx, dw, db = np.zeros((N, D)), np.zeros((D, M)), np.zeros(M)
                for n in range(N):
                    for m in range(M):
                        db[m] += dout[n, m]
                        for d in range(D):
                            dx[n, d] += dout[n, m] * w[d, m]
                            dw[d, m] += x[n, d] * dout[n, m]
            """)),
    correct("float32_inside", body("affine_forward", ONE_LAYER_FLOAT32), body("affine_backward", """
                x32, w32 = cache
                d32 = dout.astype(np.float32)
                dx = (d32 @ w32.T).astype(np.float64)
                dw = (x32.T @ d32).astype(np.float64)
                db = d32.sum(axis=0).astype(np.float64)
            """), body("sigmoid_forward", """
                x32 = np.asarray(x, dtype=np.float32)
                z = np.exp(-np.abs(x32))
                out = np.where(x32 >= 0, 1 / (1 + z), z / (1 + z)).astype(np.float32)
                cache = out
            """), body("sigmoid_backward", "dx = dout.astype(np.float32) * cache * (1 - cache)"),
            body("tanh_forward", """
                out = np.tanh(x.astype(np.float32))
                cache = out
            """), body("tanh_backward", "dx = dout.astype(np.float32) * (1 - cache * cache)"),
            body("softmax_cross_entropy", """
                s = scores.astype(np.float32)
                n = s.shape[0]
                shifted = s - s.max(axis=1, keepdims=True)
                log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
                loss = np.float32(-log_probs[np.arange(n), y].mean())
                dscores = np.exp(log_probs)
                dscores[np.arange(n), y] -= 1
                dscores = dscores / np.float32(n)
            """), body("mse_loss", """
                diff = pred.astype(np.float32) - target.astype(np.float32)
                loss = np.mean(diff * diff)
                dpred = 2 * diff / np.float32(diff.size)
            """)),
    correct("sigmoid_tanh_identity", body("sigmoid_forward", """
                out = 0.5 * (1.0 + np.tanh(0.5 * x))
                cache = out
            """)),
    correct("sigmoid_boolean_masks", body("sigmoid_forward", """
                out = np.empty_like(x, dtype=float)
                pos = x >= 0
                out[pos] = 1.0 / (1.0 + np.exp(-x[pos]))
                ex = np.exp(x[~pos])
                out[~pos] = ex / (1.0 + ex)
                cache = out
            """)),
    correct("sigmoid_clipped", body("sigmoid_forward", """
                out = 1.0 / (1.0 + np.exp(-np.clip(x, -500, 500)))
                cache = out
            """)),
    correct("sigmoid_backward_recomputes_from_x", body("sigmoid_forward", """
                z = np.exp(-np.abs(x))
                out = np.where(x >= 0, 1.0 / (1.0 + z), z / (1.0 + z))
                cache = x
            """), body("sigmoid_backward", """
                z = np.exp(-np.abs(cache))
                s = np.where(cache >= 0, 1.0 / (1.0 + z), z / (1.0 + z))
                dx = dout * s * (1 - s)
            """)),
    correct("relu_mask_from_output", body("relu_forward", """
                out = x * (x > 0)
                cache = out
            """), body("relu_backward", "dx = np.where(cache > 0, dout, 0.0)")),
    correct("relu_copy_then_in_place", body("relu_forward", """
                out = x.copy()
                out[out < 0] = 0
                cache = x
            """), body("relu_backward", """
                dx = dout.copy()
                dx[cache <= 0] = 0
            """)),
    correct("tanh_cache_input",
            ("    out = np.tanh(x)\n    cache = out", "    out = np.tanh(x)\n    cache = x"),
            body("tanh_backward", "dx = dout * (1 - np.tanh(cache) ** 2)")),
    correct("softmax_logsumexp_one_hot", body("softmax_cross_entropy", """
                y = np.asarray(y, dtype=np.int64)
                N, C = scores.shape
                m = scores.max(axis=1)
                lse = m + np.log(np.sum(np.exp(scores - m[:, None]), axis=1))
                loss = np.mean(lse - scores[np.arange(N), y])
                one_hot = np.eye(C)[y]
                dscores = (np.exp(scores - lse[:, None]) - one_hot) / N
            """)),
    correct("loss_as_python_float",
            ("loss = -log_probs[rows, y].mean()", "loss = float(-log_probs[rows, y].mean())"),
            ("loss = np.mean(diff ** 2)", "loss = float(np.mean(diff ** 2))"),
            ("    return loss, grads", "    return float(loss), grads")),
    correct("loss_as_0d_array",
            ("loss = -log_probs[rows, y].mean()", "loss = np.asarray(-log_probs[rows, y].mean())"),
            ("loss = np.mean(diff ** 2)", "loss = np.array(np.mean(diff ** 2))"),
            ("    return loss, grads", "    return np.array(loss), grads")),
    correct("loss_as_size_1_array",
            ("loss = np.mean(diff ** 2)", "loss = np.mean(diff ** 2, keepdims=True)")),
    correct("mse_other_form", body("mse_loss", """
                diff = np.subtract(pred, target)
                loss = np.sum(np.square(diff)) / pred.size
                dpred = diff * (2.0 / np.prod(pred.shape))
            """)),
    correct("cache_as_dict", body("affine_forward", """
                out = x.dot(w) + b.reshape(1, -1)
                cache = {"x": x, "w": w, "b": b}
            """), body("affine_backward", """
                dx = dout.dot(cache["w"].T)
                dw = cache["x"].T.dot(dout)
                db = np.sum(dout, axis=0)
            """), body("relu_forward", """
                out = np.maximum(x, 0.0)
                cache = {"mask": x > 0}
            """), body("relu_backward", "dx = dout * cache['mask']")),
    correct("two_layer_net_inline", body("two_layer_net", """
                W1, b1, W2, b2 = params["W1"], params["b1"], params["W2"], params["b2"]
                N = X.shape[0]
                h = X.dot(W1) + b1
                a = np.maximum(0, h)
                s = a.dot(W2) + b2
                s = s - np.max(s, axis=1, keepdims=True)
                logp = s - np.log(np.sum(np.exp(s), axis=1, keepdims=True))
                loss = -np.sum(logp[np.arange(N), y]) / N
                loss += 0.5 * reg * (np.sum(W1 ** 2) + np.sum(W2 ** 2))
                ds = np.exp(logp)
                ds[np.arange(N), y] -= 1
                ds /= N
                grads = {}
                grads["W2"] = a.T.dot(ds) + reg * W2
                grads["b2"] = ds.sum(axis=0)
                da = ds.dot(W2.T)
                da[h <= 0] = 0
                grads["W1"] = X.T.dot(da) + reg * W1
                grads["b1"] = da.sum(axis=0)
            """)),
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


def test_reference_full_marks_without_warnings(tmp_path):
    run = Variant("backprop", "reference").grade(tmp_path)
    assert run.earned == run.available > 0, run.output
    assert "warning" not in run.output.lower(), run.output


def test_stub_scores_zero_with_not_implemented_messages(tmp_path):
    (tmp_path / "backprop.py").write_text(make_stub(SOLUTION, "backprop.py"), encoding="utf-8")
    run = run_graders(tmp_path, GRADER)
    assert run.earned == 0 and run.available > 0, run.output
    assert run.returncode == 1 and "ERROR" not in run.output, run.output  # no collection errors
    for name, message in run.messages().items():
        assert message.startswith("not implemented yet"), f"{name}: {message!r}"
        assert "\n" not in message.strip(), f"{name}: {message!r}"
