"""Assertions whose failure messages are written for a student.

A failed check raises :class:`GradingFailure` (an ``AssertionError``) whose message
says what was expected, what came, how far off it is and, when it can tell, the likely
cause. Graders pass the tolerances explicitly: they are named constants beside each
test, never defaults buried here.

    check_close(dw, dw_expected, "dw", rtol=RTOL, atol=ATOL, mistakes=[
        Mistake(dw_expected * N, tr("dw is N times too large: did you average over the batch?",
                                    "dw lớn gấp N lần: bạn đã chia cho kích thước batch chưa?")),
    ])
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np

from autograder.grading.messages import tr
from autograder.grading.values import type_name


class GradingFailure(AssertionError):
    """A check failed; the message is meant for the student and shown as it is."""


class GraderTimeout(Exception):
    """The test ran longer than its time limit (an endless loop in the implementation?).

    ``limit`` (seconds) and ``test`` (its name) say which limit; :meth:`about` says it of the
    student's function that was running, for this test and (:func:`not_run_again`) later ones."""

    def __init__(self, message: str, limit: float = 0, test: str = ""):
        super().__init__(message)
        self.limit, self.test = limit, test

    def about(self, function: str) -> str:
        return tr(f"{function} did not finish within {self.limit:g} s in {self.test}: is there a "
                  "loop that never ends?",
                  f"{function} không kết thúc trong {self.limit:g} giây ở {self.test}: có vòng lặp "
                  "nào không bao giờ dừng không?")


def not_run_again(message: str) -> str:
    """A call that hung once fails at once in every later test, with this message."""
    return message + tr(" (not run again: it did not finish in an earlier test)",
                        " (không chạy lại: nó đã không kết thúc ở một bài kiểm tra trước)")


def fail(message: str) -> None:
    """Fail the current test with a student-facing message."""
    raise GradingFailure(message)


@dataclass
class Mistake:
    """The answer a known mistake would produce, and what to tell the student then.

    ``value`` must have the expected shape; when the student's answer matches it
    (within the same tolerances), ``message`` is added to the failure.
    """

    value: Any
    message: str


def to_array(value: Any, name: str) -> np.ndarray:
    """``value`` as a float64 array, or a failure saying it is not an array of numbers."""
    if value is None:
        fail(tr(f"{name} is None: did you forget a return statement?",
                f"{name} là None: bạn có quên câu lệnh return không?"))
    try:
        raw = np.asarray(value)
        if raw.dtype.kind == "O" and not all(isinstance(v, numbers.Real) for v in raw.flat):
            raise TypeError("not a number")
        if raw.dtype.kind not in "biufO":  # no strings, bytes, complex numbers, dates...
            raise TypeError("not a real number")
        array = raw.astype(np.float64)
    except (TypeError, ValueError, OverflowError, RuntimeError):
        fail(tr(f"{name} should be a numpy array of numbers, got {type_name(value)}",
                f"{name} phải là mảng numpy chứa số, nhưng nhận được {type_name(value)}"))
    return array


def to_float(value: Any, name: str) -> float:
    """A scalar (Python float, numpy scalar, 0-d or size-1 array) as a float."""
    array = to_array(value, name)
    if array.size != 1:
        fail(tr(f"{name} should be a single number, got an array of shape {array.shape}",
                f"{name} phải là một số, nhưng nhận được mảng kích thước {array.shape}"))
    return float(array.reshape(()))


def unpack(result: Any, names: tuple[str, ...], fn_name: str) -> tuple:
    """Check that ``fn_name`` returned a tuple of ``len(names)`` values and return it."""
    if not isinstance(result, (tuple, list)) or len(result) != len(names):
        got = f"a {type_name(result)}" if not isinstance(result, (tuple, list)) else \
            f"{len(result)} values"
        fail(tr(f"{fn_name} should return {len(names)} values ({', '.join(names)}), got {got}",
                f"{fn_name} phải trả về {len(names)} giá trị ({', '.join(names)}), "
                f"nhưng nhận được {got}"))
    return tuple(result)


def relative_error(actual: np.ndarray, expected: np.ndarray, floor: float = 1e-12) -> float:
    """max |a - e| / max(floor, |a| + |e|) over elements (0.0 for empty arrays)."""
    actual, expected = np.asarray(actual, float), np.asarray(expected, float)
    if actual.size == 0:
        return 0.0
    # halved, so that neither a - e nor |a| + |e| overflows for finite values near 1e308
    a, e = actual / 2, expected / 2
    return float(np.max(np.abs(a - e) / np.maximum(floor / 2, np.abs(a) + np.abs(e))))


def check_shape(actual: np.ndarray, shape: tuple[int, ...], name: str, what: str = "") -> None:
    """Fail unless ``actual.shape == shape``; ``what`` says where the shape comes from."""
    if actual.shape == tuple(shape):
        return
    hint = ""
    if len(shape) == 2 and actual.shape == tuple(shape)[::-1]:
        hint = tr(" It looks transposed.", " Có vẻ bị chuyển vị.")
    elif actual.size == int(np.prod(shape)):
        hint = tr(" Same number of elements: a reshape or missing/extra axis?",
                  " Cùng số phần tử: có thể thiếu/thừa một trục hoặc reshape sai?")
    source = tr(f" (the shape of {what})", f" (kích thước của {what})") if what else ""
    fail(tr(f"{name} has shape {actual.shape} but should have shape {tuple(shape)}{source}.{hint}",
            f"{name} có kích thước {actual.shape} nhưng phải là {tuple(shape)}{source}.{hint}"))


def _close(a: np.ndarray, e: np.ndarray, rtol: float, atol: float) -> bool:
    return a.shape == e.shape and bool(np.allclose(a, e, rtol=rtol, atol=atol))


def check_close(actual: Any, expected: Any, name: str, *, rtol: float, atol: float,
                mistakes: tuple[Mistake, ...] | list[Mistake] = (), what: str = "") -> None:
    """Fail unless ``|actual - expected| <= atol + rtol * |expected|`` element-wise.

    ``actual``: the student's value (array-like); ``expected``: the reference value of
    the same shape; ``what``: where the expected shape comes from (e.g. "w").
    """
    e = np.asarray(expected, dtype=np.float64)
    a = to_array(actual, name)
    check_shape(a, e.shape, name, what)
    if not np.all(np.isfinite(a)) and np.all(np.isfinite(e)):
        bad = np.argwhere(~np.isfinite(a))[0]
        fail(tr(f"{name} contains nan or inf (first at index {tuple(int(i) for i in bad)}); "
                "look for overflow in exp or a division by zero",
                f"{name} chứa nan hoặc inf (lần đầu ở chỉ số {tuple(int(i) for i in bad)}); "
                "hãy kiểm tra tràn số trong exp hoặc phép chia cho 0"))
    if _close(a, e, rtol, atol):
        return
    diff = np.abs(a - e)
    if e.size == 1:
        message = tr(
            f"{name} is wrong: expected {e.item():.6g} but got {a.item():.6g} (relative error "
            f"{relative_error(a, e):.3g}; tolerance rtol={rtol:g}, atol={atol:g}).",
            f"{name} sai: cần {e.item():.6g} nhưng nhận được {a.item():.6g} (sai số tương đối "
            f"{relative_error(a, e):.3g}; dung sai rtol={rtol:g}, atol={atol:g}).")
        fail(message + " " + diagnose(a, e, rtol, atol, name, mistakes))
    where = np.unravel_index(int(np.argmax(diff)), diff.shape) if diff.ndim else ()
    at = tuple(int(i) for i in where)
    message = tr(
        f"{name} is wrong: at index {at} expected {e[where]:.6g} but got {a[where]:.6g} "
        f"(max abs error {diff.max():.3g}, relative error {relative_error(a, e):.3g}; "
        f"tolerance rtol={rtol:g}, atol={atol:g}).",
        f"{name} sai: tại chỉ số {at} cần {e[where]:.6g} nhưng nhận được {a[where]:.6g} "
        f"(sai số tuyệt đối lớn nhất {diff.max():.3g}, sai số tương đối {relative_error(a, e):.3g}; "
        f"dung sai rtol={rtol:g}, atol={atol:g}).",
    )
    fail(message + " " + diagnose(a, e, rtol, atol, name, mistakes))


def diagnose(a: np.ndarray, e: np.ndarray, rtol: float, atol: float, name: str,
             mistakes: tuple[Mistake, ...] | list[Mistake] = ()) -> str:
    """The likely cause of ``a != e``: a matching known mistake first, then generic patterns."""
    for mistake in mistakes:
        if _close(a, np.asarray(mistake.value, dtype=np.float64), rtol, atol):
            return mistake.message
    if not np.any(np.abs(e) > atol):
        return ""
    if np.allclose(a, 0.0, atol=atol):
        return tr(f"{name} is all zeros.", f"{name} toàn số 0.")
    if _close(a, -e, rtol, atol):
        return tr(f"{name} has the wrong sign.", f"{name} bị ngược dấu.")
    scale = float(np.max(np.abs(e)))  # > atol here; scaled so that the sums neither overflow
    ratio = float(np.sum((a / scale) * (e / scale)) / np.sum((e / scale) ** 2))  # nor underflow
    # For a single number any wrong value is "a multiple" of the right one: no hint then.
    if e.size > 1 and abs(ratio) > 1e-12 and _close(a, ratio * e, 10 * rtol, 10 * atol):
        return tr(f"{name} is {ratio:.4g} times the expected value: a missing or extra factor?",
                  f"{name} bằng {ratio:.4g} lần giá trị đúng: thiếu hoặc thừa một hệ số?")
    return ""


class Inputs:
    """Copies of a function's inputs, to check afterwards that it did not modify them.

        inputs = Inputs(x=x, w=w)
        bp.affine_forward(x, w, b)
        inputs.check_unchanged("affine_forward")
    """

    def __init__(self, **arrays: np.ndarray):
        self.arrays = arrays
        self.copies = {key: np.array(value, copy=True) for key, value in arrays.items()}

    def check_unchanged(self, fn_name: str) -> None:
        for key, original in self.copies.items():
            now = np.asarray(self.arrays[key])
            if now.shape != original.shape or not np.array_equal(now, original, equal_nan=True):
                fail(tr(f"{fn_name} modified its input {key}: work on a copy or use operations "
                        "that return new arrays (e.g. y = x - m instead of x -= m, np.maximum "
                        "instead of x[x < 0] = 0)",
                        f"{fn_name} đã sửa đầu vào {key}: hãy làm việc trên bản sao hoặc dùng "
                        "phép toán trả về mảng mới (vd. y = x - m thay vì x -= m, np.maximum "
                        "thay vì x[x < 0] = 0)"))
