"""The graders' own numerical gradients (centred differences).

Graders check a student's analytic gradients against these, never against the
student's own ``gradcheck`` exercise. Both functions work on float64 copies and
never modify ``x``.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

DEFAULT_H = 1e-6


def numerical_gradient(f: Callable[[np.ndarray], float], x: np.ndarray,
                       h: float = DEFAULT_H) -> np.ndarray:
    """Gradient of a scalar function by centred differences.

    f: maps an array shaped like x to a number; x: array of any shape.
    Returns: grad, float64 array of the shape of x.
    """
    x = np.array(x, dtype=np.float64, copy=True)
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        plus, minus = x.copy(), x.copy()
        plus[index] += h
        minus[index] -= h
        grad[index] = (float(f(plus)) - float(f(minus))) / (2 * h)
    return grad


def numerical_gradient_array(f: Callable[[np.ndarray], np.ndarray], x: np.ndarray,
                             dout: np.ndarray, h: float = DEFAULT_H) -> np.ndarray:
    """Gradient of sum(f(x) * dout) with respect to x, by centred differences.

    f: maps an array shaped like x to an array shaped like dout; x: any shape.
    Returns: grad, float64 array of the shape of x.
    """
    dout = np.asarray(dout, dtype=np.float64)
    return numerical_gradient(lambda z: np.sum(np.asarray(f(z), dtype=np.float64) * dout), x, h)
