"""The xor grader against mistaken and correct variants of the reference solution.

Each MISTAKE must lose points (on the tests its ``must_fail`` names); each CORRECT
alternative must get full marks. Mistakes that cannot affect the slow bar test leave it
out of the run (``keyword``) to keep this file fast.
"""

from __future__ import annotations

import pytest
from harness import (
    Variant,
    assert_full_marks,
    assert_mistake_caught,
    grade_variants,
    selected_variants,
)

FAST = "not solves_xor"  # every test but the bar (~4 s)

INIT_W1 = '"W1": rng.standard_normal((2, n_hidden)),'
INIT_W2 = '"W2": rng.standard_normal((n_hidden, 1)),'
INIT_RNG = "rng = np.random.default_rng(seed)"
HIDDEN = 'h = np.tanh(X @ params["W1"] + params["b1"])  # (N, H)'
OUTPUT = "probs = 0.5 * (1.0 + np.tanh(0.5 * z))  # sigmoid, without overflow"
CLIP = "p = np.clip(probs, eps, 1.0 - eps)"
MEAN = "return float(-np.mean(Y * np.log(p) + (1.0 - Y) * np.log(1.0 - p)))"
DZ = "dz = (probs - Y) / N  # (N, 1): sigmoid + BCE together"
DW2 = "dW2 = h.T @ dz  # (H, 1)"
DB2 = "db2 = dz.sum(axis=0)  # (1,)"
DA = "da = dh * (1.0 - h ** 2)  # tanh'(a) = 1 - tanh(a)^2"
DB1 = "db1 = da.sum(axis=0)  # (H,)"
TRAIN_SIG = "def train(X, Y, n_hidden=4, lr=1.0, epochs=5000, seed=0):"
TRAIN_INIT = "params = init_params(n_hidden, seed)\n    losses = []"
RECORD = "losses.append(bce_loss(probs, Y))  # the loss just before this epoch's update"
UPDATE = "params = {key: params[key] - lr * grads[key] for key in params}"
RETURN_TRAIN = "return params, losses"
PREDICT = "return (probs > 0.5).astype(int)"

# A sigmoid hidden layer (the student's choice in the spec), with its own defaults.
SIGMOID_HIDDEN = [
    (HIDDEN, 'h = 0.5 * (1.0 + np.tanh(0.5 * (X @ params["W1"] + params["b1"])))'),
    (DA, "da = dh * h * (1.0 - h)"),
]

MISTAKES = [
    Variant("xor", "zero_init", [(INIT_W1, '"W1": np.zeros((2, n_hidden)),'),
                                 (INIT_W2, '"W2": np.zeros((n_hidden, 1)),')],
            must_fail=["test_init_params_breaks_symmetry", "test_init_params_seeded",
                       "test_train_solves_xor"]),
    Variant("xor", "constant_init", [(INIT_W1, '"W1": np.full((2, n_hidden), 0.5),'),
                                     (INIT_W2, '"W2": np.full((n_hidden, 1), 0.5),')],
            must_fail=["test_init_params_breaks_symmetry", "test_train_solves_xor"]),
    Variant("xor", "seed_ignored", [(INIT_RNG, "rng = np.random.default_rng(0)")],
            must_fail=["test_init_params_seeded"], keyword=FAST),
    Variant("xor", "global_unseeded_rng", [(INIT_RNG, "rng = np.random")],
            must_fail=["test_init_params_seeded"], keyword=FAST),
    Variant("xor", "init_W1_transposed", [(INIT_W1, '"W1": rng.standard_normal((n_hidden, 2)),')],
            must_fail=["test_init_params_shapes"], keyword=FAST),
    Variant("xor", "init_b1_2d", [('"b1": np.zeros(n_hidden),', '"b1": np.zeros((1, n_hidden)),')],
            must_fail=["test_init_params_shapes"], keyword=FAST),
    Variant("xor", "forward_no_output_sigmoid", [(OUTPUT, "probs = z")],
            must_fail=["test_forward_values", "test_forward_probs_in_unit_interval"], keyword=FAST),
    Variant("xor", "forward_unstable_sigmoid", [(OUTPUT, "probs = np.exp(z) / (1.0 + np.exp(z))")],
            must_fail=["test_forward_probs_in_unit_interval"], keyword=FAST),
    Variant("xor", "forward_no_hidden_activation",
            [(HIDDEN, 'h = X @ params["W1"] + params["b1"]'), (DA, "da = dh")],
            must_fail=["test_forward_values", "test_train_solves_xor"]),
    Variant("xor", "forward_relu_hidden",
            [(HIDDEN, 'h = np.maximum(0.0, X @ params["W1"] + params["b1"])'), (DA, "da = dh * (h > 0)")],
            must_fail=["test_forward_values"], keyword=FAST),
    Variant("xor", "bce_no_clipping", [(CLIP, "p = probs")],
            must_fail=["test_bce_loss_finite_at_zero_and_one"], keyword=FAST),
    Variant("xor", "bce_clips_in_place", [(CLIP, "p = np.clip(probs, eps, 1.0 - eps, out=probs)")],
            must_fail=["test_bce_loss_finite_at_zero_and_one"], keyword=FAST),
    Variant("xor", "bce_sum", [(MEAN, MEAN.replace("np.mean", "np.sum"))],
            must_fail=["test_bce_loss_value", "test_train_losses_are_real"], keyword=FAST),
    Variant("xor", "bce_wrong_sign", [(MEAN, MEAN.replace("-np.mean", "np.mean"))],
            must_fail=["test_bce_loss_value", "test_bce_loss_finite_at_zero_and_one"], keyword=FAST),
    Variant("xor", "bce_missing_negative_class",
            [(MEAN, "return float(-np.mean(Y * np.log(p)))")],
            must_fail=["test_bce_loss_value"], keyword=FAST),
    Variant("xor", "tanh_derivative_of_preactivation", [(DA, "da = dh * (1.0 - np.arctanh(h) ** 2)")],
            must_fail=["test_backward_xor", "test_backward_random_batches"], keyword=FAST),
    Variant("xor", "sigmoid_derivative_of_preactivation",
            [SIGMOID_HIDDEN[0], (DA, "a = np.log(h / (1.0 - h))\n    da = dh * a * (1.0 - a)")],
            must_fail=["test_backward_xor", "test_backward_random_batches"], keyword=FAST),
    Variant("xor", "gradient_missing_1_over_N", [(DZ, "dz = probs - Y")],
            must_fail=["test_backward_xor", "test_backward_random_batches"], keyword=FAST),
    Variant("xor", "gradient_wrong_sign", [(DZ, "dz = (Y - probs) / N")],
            must_fail=["test_backward_xor", "test_backward_random_batches", "test_train_solves_xor"]),
    Variant("xor", "dW2_transposed", [(DW2, "dW2 = dz.T @ h")],
            must_fail=["test_backward_xor", "test_backward_random_batches"], keyword=FAST),
    Variant("xor", "db2_not_summed", [(DB2, "db2 = dz")],
            must_fail=["test_backward_xor", "test_backward_random_batches"], keyword=FAST),
    Variant("xor", "db1_not_summed", [(DB1, "db1 = da")],
            must_fail=["test_backward_xor", "test_backward_random_batches"], keyword=FAST),
    Variant("xor", "dW1_missing_hidden_derivative", [(DA, "da = dh")],
            must_fail=["test_backward_xor", "test_backward_random_batches"], keyword=FAST),
    Variant("xor", "predict_floats", [(PREDICT, "return (probs > 0.5).astype(float)")],
            must_fail=["test_predict"], keyword=FAST),
    Variant("xor", "predict_bools", [(PREDICT, "return probs > 0.5")],
            must_fail=["test_predict"], keyword=FAST),
    Variant("xor", "predict_rounded_floats", [(PREDICT, "return np.round(probs)")],
            must_fail=["test_predict"], keyword=FAST),
    Variant("xor", "predict_inverted", [(PREDICT, "return (probs < 0.5).astype(int)")],
            must_fail=["test_predict"], keyword=FAST),
    Variant("xor", "predict_flat", [(PREDICT, "return (probs > 0.5).astype(int).ravel()")],
            must_fail=["test_predict"], keyword=FAST),
    # 1 at a probability of exactly 0.5: the contract says 1 only where prob > 0.5.
    Variant("xor", "predict_ge", [(PREDICT, "return (probs >= 0.5).astype(int)")],
            must_fail=["test_predict_at_exactly_half"], keyword=FAST),
    Variant("xor", "predict_round_half_up", [(PREDICT, "return (probs + 0.5).astype(int)")],
            must_fail=["test_predict_at_exactly_half"], keyword=FAST),
    Variant("xor", "predict_heaviside_1_at_half",
            [(PREDICT, "return np.heaviside(probs - 0.5, 1).astype(int)")],
            must_fail=["test_predict_at_exactly_half"], keyword=FAST),
    Variant("xor", "learning_rate_too_small", [(TRAIN_SIG, TRAIN_SIG.replace("lr=1.0", "lr=0.01"))],
            must_fail=["test_train_solves_xor"]),
    Variant("xor", "too_few_epochs", [(TRAIN_SIG, TRAIN_SIG.replace("epochs=5000", "epochs=30"))],
            must_fail=["test_train_solves_xor"]),
    Variant("xor", "too_few_hidden_units", [(TRAIN_SIG, TRAIN_SIG.replace("n_hidden=4", "n_hidden=2"))],
            must_fail=["test_train_solves_xor"]),
    Variant("xor", "losses_one_too_many",
            [(RETURN_TRAIN, "losses.append(bce_loss(forward(params, X)[0], Y))\n    return params, losses")],
            must_fail=["test_train_one_loss_per_epoch", "test_train_losses_are_real"], keyword=FAST),
    Variant("xor", "losses_one_too_few", [(RETURN_TRAIN, "return params, losses[1:]")],
            must_fail=["test_train_one_loss_per_epoch", "test_train_losses_are_real"], keyword=FAST),
    Variant("xor", "losses_of_initial_params",
            [(RECORD, "losses.append(bce_loss(probs, Y) if not losses else losses[0])")],
            must_fail=["test_train_losses_are_real"], keyword=FAST),
    Variant("xor", "train_not_updating", [(UPDATE, "new = {key: params[key] - lr * grads[key] for key in params}")],
            must_fail=["test_train_is_gradient_descent", "test_train_losses_are_real",
                       "test_train_solves_xor"]),
    Variant("xor", "train_gradient_ascent", [(UPDATE, UPDATE.replace("- lr", "+ lr"))],
            must_fail=["test_train_is_gradient_descent", "test_train_losses_are_real",
                       "test_train_solves_xor"]),
    Variant("xor", "train_ignores_seed", [(TRAIN_INIT, TRAIN_INIT.replace("(n_hidden, seed)", "(n_hidden, 0)"))],
            must_fail=["test_train_is_gradient_descent"], keyword=FAST),
    Variant("xor", "train_ignores_n_hidden", [(TRAIN_INIT, TRAIN_INIT.replace("(n_hidden, seed)", "(4, seed)"))],
            must_fail=["test_train_is_gradient_descent"], keyword=FAST),
    Variant("xor", "train_uses_global_xor_data",
            [("probs, cache = forward(params, X)\n        losses", "probs, cache = forward(params, XOR_X)\n        losses"),
             ("grads = backward(params, cache, Y)\n        params", "grads = backward(params, cache, XOR_Y)\n        params")],
            must_fail=["test_train_is_gradient_descent", "test_train_losses_are_real"], keyword=FAST),
]

# Loops instead of matrix products in backward.
LOOP_BACKWARD = """X, h, probs = cache
    N, H = h.shape
    dW1, db1 = np.zeros((2, H)), np.zeros(H)
    dW2, db2 = np.zeros((H, 1)), np.zeros(1)
    for i in range(N):
        dz = (probs[i, 0] - Y[i, 0]) / N
        db2[0] += dz
        for j in range(H):
            dW2[j, 0] += h[i, j] * dz
            da = dz * params["W2"][j, 0] * (1.0 - h[i, j] ** 2)
            db1[j] += da
            for d in range(2):
                dW1[d, j] += X[i, d] * da
    return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}"""
REFERENCE_BACKWARD_START = "X, h, probs = cache\n    N = X.shape[0]"
REFERENCE_BACKWARD_END = 'return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}'

CORRECT = [
    Variant("xor", "reference"),
    Variant("xor", "sigmoid_hidden_lr2", SIGMOID_HIDDEN + [(TRAIN_SIG, TRAIN_SIG.replace("lr=1.0", "lr=2.0"))]),
    Variant("xor", "sigmoid_hidden_8_units_lr4",
            SIGMOID_HIDDEN + [(TRAIN_SIG, "def train(X, Y, n_hidden=8, lr=4.0, epochs=5000, seed=0):")]),
    Variant("xor", "n_hidden_8_default", [(TRAIN_SIG, TRAIN_SIG.replace("n_hidden=4", "n_hidden=8")),
                                          ("def init_params(n_hidden=4,", "def init_params(n_hidden=8,")]),
    Variant("xor", "slower_lr_more_epochs",
            [(TRAIN_SIG, "def train(X, Y, n_hidden=4, lr=0.5, epochs=10000, seed=0):")]),
    Variant("xor", "losses_after_update",
            [(RECORD, "pass"), (UPDATE, UPDATE + "\n        losses.append(bce_loss(forward(params, X)[0], Y))")]),
    # float32 inside forward and backward, float64 out: the gradient check differentiates the
    # graders' own float64 forward, so the float32 rounding of the student's is not amplified.
    Variant("xor", "float32_inside",
            [('    h = np.tanh(X @ params["W1"] + params["b1"])  # (N, H)\n'
              '    z = h @ params["W2"] + params["b2"]  # (N, 1)',
              '    f32 = {k: v.astype(np.float32) for k, v in params.items()}\n'
              '    h = np.tanh(X.astype(np.float32) @ f32["W1"] + f32["b1"])\n'
              '    z = (h @ f32["W2"] + f32["b2"]).astype(np.float64)'),
             ('    dW1 = X.T @ da  # (2, H)', '    dW1 = (X.astype(np.float32).T @ da.astype(np.float32)).astype(np.float64)')],
            keyword=FAST),
    Variant("xor", "loss_numpy_scalar", [(MEAN, MEAN.replace("float(", "np.float64("))], keyword=FAST),
    Variant("xor", "loss_0d_array", [(MEAN, MEAN.replace("float(", "np.asarray("))], keyword=FAST),
    Variant("xor", "losses_numpy_array", [(RETURN_TRAIN, "return params, np.array(losses)")], keyword=FAST),
    Variant("xor", "xavier_init", [(INIT_W1, '"W1": rng.standard_normal((2, n_hidden)) * np.sqrt(1.0 / 2),'),
                                   (INIT_W2, '"W2": rng.standard_normal((n_hidden, 1)) * np.sqrt(1.0 / n_hidden),')]),
    Variant("xor", "uniform_init_random_biases",
            [(INIT_W1, '"W1": rng.uniform(-1.0, 1.0, (2, n_hidden)),'),
             ('"b1": np.zeros(n_hidden),', '"b1": rng.uniform(-1.0, 1.0, n_hidden),'),
             (INIT_W2, '"W2": rng.uniform(-1.0, 1.0, (n_hidden, 1)),')]),
    Variant("xor", "loops_in_backward", [(REFERENCE_BACKWARD_START, LOOP_BACKWARD + "\n    N = X.shape[0]")]),
    Variant("xor", "einsum_backward", [(DW2, 'dW2 = np.einsum("nh,no->ho", h, dz)'),
                                       ("dW1 = X.T @ da  # (2, H)", 'dW1 = np.einsum("nd,nh->dh", X, da)')]),
    Variant("xor", "dict_cache",
            [("return probs, (X, h, probs)", 'return probs, {"X": X, "h": h, "probs": probs}'),
             (REFERENCE_BACKWARD_START, 'X, h, probs = cache["X"], cache["h"], cache["probs"]\n    N = X.shape[0]')]),
    Variant("xor", "cache_only_X_recompute",
            [("return probs, (X, h, probs)", "return probs, X"),
             (REFERENCE_BACKWARD_START, 'X = cache\n    h = np.tanh(X @ params["W1"] + params["b1"])\n'
                                        "    probs = forward(params, X)[0]\n    N = X.shape[0]")]),
    Variant("xor", "naive_sigmoid_output", [(OUTPUT, "probs = 1.0 / (1.0 + np.exp(-z))")]),
    Variant("xor", "bce_log_plus_eps",
            [(CLIP, "p = probs"), (MEAN, "return float(-np.mean(Y * np.log(p + 1e-9) + (1.0 - Y) * np.log(1.0 - p + 1e-9)))")], keyword=FAST),
    Variant("xor", "bce_clip_1e-7", [("eps = 1e-12", "eps = 1e-7")], keyword=FAST),
    Variant("xor", "bce_where_form",
            [(MEAN, "return float(-np.mean(np.where(Y == 1, np.log(p), np.log(1.0 - p))))")], keyword=FAST),
    Variant("xor", "in_place_updates", [(UPDATE, "params = {key: value.copy() for key, value in params.items()}\n"
                                                 "        for key in params:\n"
                                                 "            params[key] -= lr * grads[key]")]),
    Variant("xor", "predict_int64", [(PREDICT, "return (probs > 0.5).astype(np.int64)")], keyword=FAST),
    Variant("xor", "predict_where", [(PREDICT, "return np.where(probs > 0.5, 1, 0)")], keyword=FAST),
    # np.round and np.rint round half to even: 0.5 -> 0, as the contract asks.
    Variant("xor", "predict_round", [(PREDICT, "return np.round(probs).astype(int)")], keyword=FAST),
    Variant("xor", "predict_rint", [(PREDICT, "return np.rint(probs).astype(int)")], keyword=FAST),
    Variant("xor", "predict_heaviside_0_at_half",
            [(PREDICT, "return np.heaviside(probs - 0.5, 0).astype(int)")], keyword=FAST),
    Variant("xor", "predict_uint8", [(PREDICT, "return (probs > 0.5).astype(np.uint8)")], keyword=FAST),
    Variant("xor", "predict_where_int32", [(PREDICT, "return np.where(probs > 0.5, 1, 0).astype(np.int32)")], keyword=FAST),
]


@pytest.fixture(scope="module")
def runs(request, tmp_path_factory):
    """Every selected variant graded once, in a few processes (see harness.grade_variants)."""
    return grade_variants(selected_variants(request, MISTAKES + CORRECT),
                          tmp_path_factory.mktemp("variants"))


@pytest.mark.parametrize("variant", MISTAKES, ids=lambda v: v.name)
def test_mistake_loses_points(variant, runs):
    assert_mistake_caught(variant, runs[variant.name])


@pytest.mark.parametrize("variant", CORRECT, ids=lambda v: v.name)
def test_correct_alternative_gets_full_marks(variant, runs):
    assert_full_marks(variant, runs[variant.name])
