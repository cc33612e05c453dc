"""HOSTILE TEST INPUT: the reference solution, but every returned array is full of NaN."""
# ---- BASE ----
import functools as _functools


def _poison(value):
    if isinstance(value, np.ndarray) and value.dtype.kind == "f":  # noqa: F821
        return np.full_like(value, np.nan)  # noqa: F821
    if isinstance(value, tuple):
        return tuple(_poison(v) for v in value)
    if isinstance(value, dict):
        return {k: _poison(v) for k, v in value.items()}
    if isinstance(value, float):
        return float("nan")
    return value


for _name in ("affine_forward", "affine_backward", "relu_forward", "relu_backward",
              "sigmoid_forward", "sigmoid_backward", "tanh_forward", "tanh_backward",
              "softmax_cross_entropy", "mse_loss", "two_layer_net"):
    globals()[_name] = (lambda fn: _functools.wraps(fn)(lambda *a, **k: _poison(fn(*a, **k))))(
        globals()[_name])
