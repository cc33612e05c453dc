"""HOSTILE TEST INPUT: the reference solution, but every returned array is transposed or
flattened."""
# ---- BASE ----
import functools as _functools


def _reshape(value):
    if isinstance(value, np.ndarray) and value.ndim >= 2:  # noqa: F821
        return value.T
    if isinstance(value, np.ndarray) and value.ndim == 1:  # noqa: F821
        return value[:, None]
    if isinstance(value, tuple):
        return tuple(_reshape(v) for v in value)
    if isinstance(value, dict):
        return {k: _reshape(v) for k, v in value.items()}
    return value


for _name in ("affine_forward", "affine_backward", "relu_forward", "relu_backward",
              "sigmoid_forward", "sigmoid_backward", "tanh_forward", "tanh_backward",
              "softmax_cross_entropy", "mse_loss", "two_layer_net"):
    globals()[_name] = (lambda fn: _functools.wraps(fn)(lambda *a, **k: _reshape(fn(*a, **k))))(
        globals()[_name])
