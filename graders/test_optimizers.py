"""Grader of exercise 3, ``optimizers``: SGD (momentum, Nesterov, weight decay), RMSprop,
Adam and AdamW, step by step against ``torch.optim``.

Contract: docs/contract.md, section 3 (its clauses and the tests that check them).

What is graded (33 points, of which 6 in hidden tests that are not described here and are
left out of the student release):

    SGD: plain 1, momentum 2, Nesterov 2, weight decay 3 x 1 (plain, momentum, Nesterov),
         nesterov without momentum raises ValueError 1
    RMSprop 2, RMSprop with weight decay 1
    Adam 3, Adam with (L2) weight decay 1
    AdamW (decoupled weight decay) 3
    per class: the step contract 1 (params updated in place, self.params is the given
         dict, step returns None), gradients left unchanged 2 x 0.5 (with and without
         weight decay)

Each run feeds the student's optimizer and torch's (float64) the same parameters (a (3, 4)
matrix, a (4,) vector, a (1,) array) and the same gradients, fresh at every one of STEPS
steps, and compares all parameters after every step. Gradients vary per step and per
coordinate over several orders of magnitude, and the hyper-parameters (eps 1e-2, betas
(0.8, 0.888), lr 0.1, ...) make every known mistake visible at the first steps. When a run
diverges, the grader replays the known mistakes in numpy (``replay``) and names the one
that gives the student's numbers.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from autograder.grading.checks import check_shape, fail, relative_error, to_array
from autograder.grading.loader import NotImplementedYet
from autograder.grading.messages import tr

# Time limit of each test (unless it says otherwise): the reference's steps take ~0.02 s
# per test; the first test also imports torch for the grader's own reference trajectory
# (1.4 s here, several seconds on a loaded machine); an endless loop costs 30 s once
pytestmark = pytest.mark.time_limit(30)

# --- tolerances and settings ----------------------------------------------------------
# The contract: N steps match torch's float64 trajectory to a relative 1e-9. Correct
# float64 code in any formulation agrees with torch to ~1e-12 relative after 25 steps.
# float32 arithmetic in the update is off by ~1e-7 of the update (0.01 - 0.1 here), which
# shows on the parameters near 0; the other mistakes of tests/test_variants_optimizers.py
# are off by 1e-4 or (much) more in the tests aimed at them.
RTOL = 1e-9
ATOL = 1e-12  # for coordinates near 0; far below the float32 rounding of an update
MISTAKE_RTOL = 1e-7  # looser match when recognising a known mistake's trajectory
FLOAT32_HINT = 1e-5  # a relative error below this (yet above RTOL) looks like float32 rounding
STEPS = 25  # enough for state (velocity, moments, step count) to matter
CONTRACT_STEPS = 3
SHAPES = {"W": (3, 4), "b": (4,), "scale": (1,)}
TWIN_SHAPES = {"W1": (2, 3), "W2": (2, 3)}  # same shape, different gradients: no shared state
GRAD_LOG10 = (-4.0, 0.0)  # per-coordinate gradient scales, log-uniform: eps 1e-2 matters for some
DEFAULT_GRAD_LOG10 = (-9.0, 0.0)  # down to 1e-9, so that the default eps (1e-8) matters too

# The spec's defaults (equal to torch's); torch is always given them explicitly.
SPEC_DEFAULTS = {
    "SGD": {"lr": 1e-3, "momentum": 0.0, "weight_decay": 0.0, "nesterov": False},
    "RMSprop": {"lr": 1e-2, "alpha": 0.99, "eps": 1e-8, "weight_decay": 0.0},
    "Adam": {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0},
    "AdamW": {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 1e-2},
}
ADAM_HP = {"lr": 0.1, "betas": (0.8, 0.888), "eps": 1e-2}  # eps and bias corrections weigh percents
RMSPROP_HP = {"lr": 0.01, "alpha": 0.9, "eps": 1e-2}  # alpha far from 0.5: a swap is visible
WD = 0.1
# Settings with weight decay and state, for the contract and per-parameter tests.
FULL_HP = {
    "SGD": {"lr": 0.05, "momentum": 0.9, "weight_decay": WD, "nesterov": True},
    "RMSprop": dict(**RMSPROP_HP, weight_decay=WD),
    "Adam": dict(**ADAM_HP, weight_decay=WD),
    "AdamW": dict(**ADAM_HP, weight_decay=WD),
}
KINDS = list(SPEC_DEFAULTS)


@pytest.fixture
def opt(impl):
    return impl.exercise("optimizers")


# --- inputs and the truth -------------------------------------------------------------

def make_problem(rng, shapes=SHAPES, log10=GRAD_LOG10, steps=STEPS):
    """Initial params and a sequence of gradient dicts (one per step), all float64."""
    params0 = {k: rng.normal(size=s) for k, s in shapes.items()}
    scales = {k: 10.0 ** rng.uniform(*log10, size=s) for k, s in shapes.items()}
    grads = [{k: rng.uniform(0.3, 3.0) * scales[k] * rng.normal(size=s) for k, s in shapes.items()}
             for _ in range(steps)]
    return params0, grads


def torch_trajectory(kind, hp, params0, grads_seq):
    """torch.optim.<kind>'s params after each step: a list of {name: array}."""
    tensors = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True)
               for k, v in params0.items()}
    optimizer = getattr(torch.optim, kind)(list(tensors.values()), **{**SPEC_DEFAULTS[kind], **hp})
    out = []
    for grads in grads_seq:
        for k, t in tensors.items():
            t.grad = torch.tensor(grads[k], dtype=torch.float64)
        optimizer.step()
        out.append({k: t.detach().numpy().copy() for k, t in tensors.items()})
    return out


def replay(kind, hp, params0, grads_seq, bug=None):
    """The trajectory of ``kind`` in numpy with the known mistake ``bug`` (None: torch's rule;
    tests/test_variants_optimizers.py checks that it matches torch)."""
    hp = {**SPEC_DEFAULTS[kind], **hp}
    lr, eps = hp["lr"], hp.get("eps")
    wd = 0.0 if bug == "no_wd" else hp["weight_decay"]
    decoupled = (kind == "AdamW") != (bug in ("decoupled_wd", "l2_wd"))
    p = {k: np.array(v, dtype=float) for k, v in params0.items()}
    state, out, count = {}, [], 0
    for step, grads in enumerate(grads_seq, start=1):
        for name, x in p.items():
            g = grads[name] if decoupled else grads[name] + wd * x
            shared = bug in ("shared_state", "shared_state_t")
            st = state.setdefault(x.shape if shared else name, {})
            first = not st
            if kind == "SGD":
                mu, u = hp["momentum"], g
                if mu and bug != "no_momentum":
                    old = st.get("v", 0.0 * g)
                    st["v"] = v = mu * old + ((1 - mu) * g if bug == "ema_momentum" else g)
                    if hp["nesterov"] and bug != "nesterov_as_plain":
                        u = g + mu * (old if bug == "nesterov_old_buf" else v)
                    else:
                        u = old if bug == "stale_buffer" else v
            elif kind == "RMSprop":
                a = 1 - hp["alpha"] if bug == "alpha_swapped" else hp["alpha"]
                s = a * st.get("s", 0.0) + (1 - a) * g * g
                if first and bug == "v_init_g2":
                    s = g * g
                st["s"], st["t"] = s, st.get("t", 0) + 1
                if bug == "rms_bias_correction":
                    s = s / (1 - a ** st["t"])
                u = g / (np.sqrt(s + eps) if bug == "eps_inside" else np.sqrt(s) + eps)
            else:  # Adam, AdamW
                b1, b2 = hp["betas"][::-1] if bug == "betas_swapped" else hp["betas"]
                count += 1
                st["t"] = st.get("t", 0) + 1  # a count kept in the (shared) state
                t = {"t_per_param": count, "t_late": step + 1,
                     "shared_state_t": st["t"]}.get(bug, step)
                m, v = (g, g * g) if first and bug == "moments_init_g" else (
                    b1 * st.get("m", 0.0) + (1 - b1) * g, b2 * st.get("v", 0.0) + (1 - b2) * g * g)
                bc1 = 1.0 if bug in ("no_bias_correction", "no_bc1") else 1 - b1 ** t
                bc2 = 1.0 if bug in ("no_bias_correction", "no_bc2") else 1 - b2 ** t
                st["m"], st["v"] = (m / bc1, v / bc2) if bug == "store_hat" else (m, v)
                denom = {"eps_inside": np.sqrt(v / bc2 + eps),
                         "eps_before_bc": (np.sqrt(v) + eps) / np.sqrt(bc2),
                         }.get(bug, np.sqrt(v / bc2) + eps)
                u = m / bc1 / denom
            sign = -1.0 if bug == "ascent" else 1.0
            shrink = (1 - (wd if bug == "wd_no_lr" else lr * wd)) if decoupled else 1.0
            if bug == "decay_after":
                x[...] = (x - sign * lr * u) * shrink
            else:
                x[...] = x * shrink - sign * lr * u
        out.append({k: v.copy() for k, v in p.items()})
    return out


# The known mistakes replayed for each optimizer, in the order they are tried.
BUGS = {
    "SGD": ["no_momentum", "ema_momentum", "stale_buffer", "nesterov_as_plain",
            "nesterov_old_buf", "no_wd", "decoupled_wd", "shared_state", "ascent"],
    "RMSprop": ["eps_inside", "alpha_swapped", "v_init_g2", "rms_bias_correction", "no_wd",
                "decoupled_wd", "shared_state", "ascent"],
    "Adam": ["no_bias_correction", "no_bc1", "no_bc2", "eps_inside", "eps_before_bc",
             "t_per_param", "t_late", "store_hat", "betas_swapped", "moments_init_g", "no_wd",
             "decoupled_wd", "shared_state", "shared_state_t", "ascent"],
}
BUGS["AdamW"] = [b for b in BUGS["Adam"] if b != "decoupled_wd"] + [
    "l2_wd", "wd_no_lr", "decay_after"]


def explain(bug, kind):
    """What to tell a student whose numbers are those of ``bug``."""
    avg = "s" if kind == "RMSprop" else "v_hat"
    l2_where = {"SGD": "before the velocity update", "RMSprop": "before the running average",
                "Adam": "before the moment updates"}.get(kind, "")
    l2_where_vi = {"SGD": "trước khi cập nhật vận tốc",
                   "RMSprop": "trước khi cập nhật trung bình trượt",
                   "Adam": "trước khi cập nhật các mô-men"}.get(kind, "")
    if kind == "AdamW":
        no_wd = tr("start each step with p *= 1 - lr * weight_decay",
                   "mỗi bước hãy bắt đầu bằng p *= 1 - lr * weight_decay")
    else:
        no_wd = tr("add weight_decay * p to the gradient first",
                   "hãy cộng weight_decay * p vào gradient trước")
    texts = {
        "no_update": tr(
            "your params did not change: step must update the arrays of self.params in place "
            "(p -= ... or p[...] = ...), not rebind a local name or build a new dict",
            "tham số không thay đổi: step phải cập nhật tại chỗ các mảng của self.params "
            "(p -= ... hoặc p[...] = ...), không gán lại một biến cục bộ hay tạo dict mới"),
        "ascent": tr(
            "the parameters moved along the gradient: a descent step subtracts (p -= lr * ...)",
            "tham số đi theo chiều gradient: bước giảm phải trừ đi (p -= lr * ...)"),
        "no_momentum": tr(
            "momentum is ignored: keep a velocity per parameter, v = momentum * v + g, and "
            "step p -= lr * v",
            "động lượng bị bỏ qua: hãy giữ một vận tốc cho mỗi tham số, v = momentum * v + g, "
            "và cập nhật p -= lr * v"),
        "ema_momentum": tr(
            "your velocity is an average, v = mu * v + (1 - mu) * g; torch's SGD adds the whole "
            "gradient, v = mu * v + g (no dampening)",
            "vận tốc của bạn là một trung bình, v = mu * v + (1 - mu) * g; SGD của torch cộng "
            "nguyên gradient, v = mu * v + g (không có dampening)"),
        "stale_buffer": tr(
            "the step uses the velocity of the previous step: update v = mu * v + g first, "
            "then p -= lr * v",
            "bước cập nhật dùng vận tốc của bước trước: hãy cập nhật v = mu * v + g trước, "
            "rồi mới p -= lr * v"),
        "nesterov_as_plain": tr(
            "nesterov=True gives plain momentum: the Nesterov step is p -= lr * (g + mu * v), "
            "with v already updated",
            "nesterov=True lại cho kết quả của động lượng thường: bước Nesterov là "
            "p -= lr * (g + mu * v), với v đã được cập nhật"),
        "nesterov_old_buf": tr(
            "the Nesterov step uses the old velocity: update v = mu * v + g first, then "
            "p -= lr * (g + mu * v)",
            "bước Nesterov dùng vận tốc cũ: hãy cập nhật v = mu * v + g trước, rồi "
            "p -= lr * (g + mu * v)"),
        "no_wd": tr("weight_decay is ignored: ", "weight_decay bị bỏ qua: ") + no_wd,
        "decoupled_wd": tr(
            f"weight decay is applied to the parameters directly (decoupled, as in AdamW); "
            f"{kind} uses L2: add weight_decay * p to the gradient, {l2_where}",
            f"suy giảm trọng số đang được áp trực tiếp lên tham số (tách rời, như AdamW); "
            f"{kind} dùng L2: cộng weight_decay * p vào gradient, {l2_where_vi}"),
        "shared_state": tr(
            "parameters with the same shape share one state buffer: keep the state per "
            "parameter name (e.g. self.state[name]), never per shape or in one variable",
            "các tham số cùng kích thước đang dùng chung một bộ đệm trạng thái: hãy lưu trạng "
            "thái theo tên tham số (vd. self.state[name]), đừng theo kích thước hay trong một "
            "biến chung"),
        "eps_inside": tr(
            f"eps is inside the square root: divide by sqrt({avg}) + eps, not sqrt({avg} + eps)",
            f"eps nằm trong căn bậc hai: hãy chia cho sqrt({avg}) + eps, không phải "
            f"sqrt({avg} + eps)"),
        "alpha_swapped": tr(
            "alpha and 1 - alpha are swapped: the running average is "
            "s = alpha * s + (1 - alpha) * g**2",
            "alpha và 1 - alpha bị đổi chỗ: trung bình trượt là "
            "s = alpha * s + (1 - alpha) * g**2"),
        "v_init_g2": tr(
            "the running average starts at g**2; it starts at zero, so the first step gives "
            "s = (1 - alpha) * g**2",
            "trung bình trượt bắt đầu từ g**2; nó phải bắt đầu từ 0, nên bước đầu cho "
            "s = (1 - alpha) * g**2"),
        "rms_bias_correction": tr(
            "torch's RMSprop has no bias correction: divide by sqrt(s) + eps with s itself",
            "RMSprop của torch không hiệu chỉnh độ lệch: hãy chia cho sqrt(s) + eps với chính s"),
        "no_bias_correction": tr(
            "no bias correction: use m_hat = m / (1 - beta1**t) and v_hat = v / (1 - beta2**t), "
            "with t = 1 at the first step",
            "thiếu hiệu chỉnh độ lệch: hãy dùng m_hat = m / (1 - beta1**t) và "
            "v_hat = v / (1 - beta2**t), với t = 1 ở bước đầu tiên"),
        "no_bc1": tr("m is not bias-corrected: use m_hat = m / (1 - beta1**t)",
                     "m chưa được hiệu chỉnh độ lệch: hãy dùng m_hat = m / (1 - beta1**t)"),
        "no_bc2": tr("v is not bias-corrected: use v_hat = v / (1 - beta2**t)",
                     "v chưa được hiệu chỉnh độ lệch: hãy dùng v_hat = v / (1 - beta2**t)"),
        "eps_before_bc": tr(
            "eps is added before the bias correction: the denominator is sqrt(v_hat) + eps = "
            "sqrt(v) / sqrt(1 - beta2**t) + eps, not (sqrt(v) + eps) / sqrt(1 - beta2**t) "
            "(the paper's 'efficient' form is torch's rule only with "
            "eps_hat = eps * sqrt(1 - beta2**t))",
            "eps được cộng trước khi hiệu chỉnh độ lệch: mẫu số là sqrt(v_hat) + eps = "
            "sqrt(v) / sqrt(1 - beta2**t) + eps, không phải (sqrt(v) + eps) / sqrt(1 - beta2**t) "
            "(dạng 'hiệu quả' trong bài báo chỉ trùng với torch khi "
            "eps_hat = eps * sqrt(1 - beta2**t))"),
        "t_per_param": tr(
            "the step count t grows once per parameter instead of once per step: at the k-th "
            "call of step every parameter uses t = k; increment t once per step, or keep one "
            "count per parameter",
            "số bước t tăng một lần cho mỗi tham số thay vì một lần cho mỗi bước: ở lần gọi "
            "step thứ k, mọi tham số đều dùng t = k; hãy tăng t một lần mỗi bước, hoặc giữ một "
            "bộ đếm riêng cho mỗi tham số"),
        "t_late": tr(
            "the bias correction uses t = 2 at the first step: t must be 1 at the first step",
            "hiệu chỉnh độ lệch dùng t = 2 ở bước đầu tiên: t phải bằng 1 ở bước đầu tiên"),
        "store_hat": tr(
            "the bias-corrected m_hat, v_hat were stored back into the state: keep the raw "
            "averages m, v in the state and compute m_hat, v_hat afresh at each step",
            "m_hat, v_hat đã hiệu chỉnh bị ghi đè vào trạng thái: hãy lưu các trung bình gốc "
            "m, v và tính lại m_hat, v_hat ở mỗi bước"),
        "betas_swapped": tr(
            "beta1 and beta2 are swapped: m uses beta1 = betas[0], v uses beta2 = betas[1]",
            "beta1 và beta2 bị đổi chỗ: m dùng beta1 = betas[0], v dùng beta2 = betas[1]"),
        "moments_init_g": tr(
            "the moments start at the first gradient (m = g, v = g**2); they start at zero, so "
            "the first step gives m = (1 - beta1) * g and v = (1 - beta2) * g**2",
            "các mô-men bắt đầu từ gradient đầu tiên (m = g, v = g**2); chúng phải bắt đầu từ 0, "
            "nên bước đầu cho m = (1 - beta1) * g và v = (1 - beta2) * g**2"),
        "l2_wd": tr(
            "AdamW's weight decay is added to the gradient (that is Adam's L2 rule); AdamW "
            "decouples it: p *= 1 - lr * weight_decay, then an Adam step with the raw gradient",
            "suy giảm trọng số của AdamW đang được cộng vào gradient (đó là quy tắc L2 của "
            "Adam); AdamW tách rời nó: p *= 1 - lr * weight_decay, rồi một bước Adam với "
            "gradient gốc"),
        "wd_no_lr": tr("the decoupled decay lacks the learning rate: p *= 1 - lr * weight_decay",
                       "phần suy giảm tách rời thiếu tốc độ học: p *= 1 - lr * weight_decay"),
        "decay_after": tr(
            "the weight decay is applied after the Adam step; torch shrinks p first "
            "(p *= 1 - lr * weight_decay), then takes the Adam step",
            "suy giảm trọng số được áp sau bước Adam; torch thu nhỏ p trước "
            "(p *= 1 - lr * weight_decay), rồi mới đi bước Adam"),
    }
    texts["shared_state_t"] = texts["shared_state"]
    return texts[bug]


# --- running the student's optimizer ---------------------------------------------------
# The optimizer lives next to the student's code; the probes of autograder.probes.optimizers_probes
# build it, take one step per call and report what each step did, as data.

@pytest.fixture
def th(impl):
    return impl.probes("optimizers")


def build(th, opt, kind, params, hp):
    """A run of the student's ``kind`` on copies of ``params`` (a Ref for ``th.take_step``)."""
    cls = getattr(opt, kind)
    try:
        return th.start(cls, params, hp)
    except NotImplementedYet:
        raise
    except NotImplementedError:
        raise NotImplementedYet(f"{kind}.__init__") from None


def do_step(th, run, kind, grads):
    """One step with (a copy of) ``grads``: the observations of ``th.take_step``."""
    try:
        return th.take_step(run, grads)
    except NotImplementedYet:
        raise
    except NotImplementedError:
        raise NotImplementedYet(f"{kind}.step") from None


def label(kind, hp):
    return f"{kind}({', '.join(['params'] + [f'{k}={v!r}' for k, v in hp.items()])})"


def check_trajectory(opt, th, kind, hp, params0, grads_seq, defaults=False):
    """Run the student's ``kind`` next to torch's; fail at the first step that differs.

    After a difference the student's run goes on (until it ends or raises), so that the
    whole trajectory can be compared with those of the known mistakes."""
    run = build(th, opt, kind, params0, {} if defaults else hp)
    expected = torch_trajectory(kind, hp, params0, grads_seq)
    trajectory = []  # the student's params after each step
    first = None  # (step, name) of the first difference
    for step, grads in enumerate(grads_seq, start=1):
        try:
            seen = do_step(th, run, kind, grads)
        except Exception:  # reported as it is, unless a difference came first
            if first is None:
                raise
            break
        got = {}
        for k, start in params0.items():
            got[k] = to_array(seen["params"][k], f"params['{k}']")
            check_shape(got[k], start.shape, f"params['{k}']", f"params['{k}'] before the step")
        trajectory.append(got)
        if first is None:
            first = next(((step, k) for k in params0 if not np.allclose(
                got[k], expected[step - 1][k], rtol=RTOL, atol=ATOL)), None)
    if first is not None:
        name = label(kind, hp) if not defaults else label(kind, {}) + tr(
            f" with its default hyper-parameters (the spec's: {label(kind, hp)})",
            f" với các siêu tham số mặc định (theo đặc tả: {label(kind, hp)})")
        fail(divergence(kind, hp, name, params0, grads_seq, trajectory, expected, *first))


def same_run(trajectory, reference):
    """Whether a student's trajectory is (the beginning of) ``reference``, loosely."""
    return all(np.allclose(got[k], ref[k], rtol=MISTAKE_RTOL, atol=ATOL)
               for got, ref in zip(trajectory, reference) for k in got)


def divergence(kind, hp, name, params0, grads_seq, trajectory, expected, step, key):
    """The message for the first difference: where, by how much, and the likely cause."""
    a, e = trajectory[step - 1][key], expected[step - 1][key]
    before = (trajectory[step - 2] if step > 1 else params0)[key]
    head = tr(f"{name}: after step {step} of {STEPS}, params['{key}'] differs from "
              f"torch.optim.{kind}'s.",
              f"{name}: sau bước {step}/{STEPS}, params['{key}'] khác với torch.optim.{kind}.")
    if step > 1:
        head += tr(f" Steps 1 to {step - 1} matched.", f" Các bước 1 đến {step - 1} đều khớp.")
    if not np.all(np.isfinite(a)):
        hint = {"Adam": tr(
            " The bias corrections 1 - beta**t are 0 when t = 0: t must be 1 at the first step "
            "(increment it before using it); eps goes in the denominator, sqrt(v_hat) + eps.",
            " Hệ số hiệu chỉnh 1 - beta**t bằng 0 khi t = 0: t phải bằng 1 ở bước đầu tiên "
            "(tăng t trước khi dùng); eps nằm ở mẫu số, sqrt(v_hat) + eps."),
            "RMSprop": tr(" Divide by sqrt(s) + eps.", " Hãy chia cho sqrt(s) + eps.")}
        return head + tr(" It contains nan or inf: a division by zero?",
                         " Nó chứa nan hoặc inf: có phép chia cho 0?") + \
            hint.get(kind.replace("AdamW", "Adam"), "")
    where = np.unravel_index(int(np.argmax(np.abs(a - e))), a.shape)
    at = tuple(int(i) for i in where)
    du, de = a[where] - before[where], e[where] - before[where]
    error = relative_error(a, e)
    digits = 6 if error > 1e-4 else 12  # enough to see a small difference
    detail = tr(
        f" At index {at}: expected {e[where]:.12g}, got {a[where]:.12g} (relative error "
        f"{error:.2g}, tolerance {RTOL:g}); the update there was expected "
        f"{de:.{digits}g}, got {du:.{digits}g}.",
        f" Tại chỉ số {at}: cần {e[where]:.12g}, nhận được {a[where]:.12g} (sai số tương đối "
        f"{error:.2g}, dung sai {RTOL:g}); bước cập nhật tại đó cần "
        f"{de:.{digits}g}, nhận được {du:.{digits}g}.")
    cause = ""
    if same_run(trajectory, [params0] * len(trajectory)):
        cause = explain("no_update", kind)
    for bug in BUGS[kind]:
        if cause:
            break
        wrong = replay(kind, hp, params0, grads_seq, bug)
        # a mistake that changes nothing here (e.g. ignoring a zero weight decay) is no cause
        if same_run(trajectory, wrong) and not same_run(expected[:len(trajectory)], wrong):
            cause = explain(bug, kind)
    if cause:
        return head + detail + tr(" Likely cause: ", " Nguyên nhân có thể: ") + cause + "."
    if error < FLOAT32_HINT:
        return head + detail + tr(
            " The difference is small but far above float64 rounding: is something computed in "
            "float32? The update must match torch's float64 result to a relative 1e-9.",
            " Sai lệch nhỏ nhưng lớn hơn nhiều so với sai số làm tròn float64: có phần nào tính "
            "bằng float32 không? Bước cập nhật phải khớp kết quả float64 của torch tới sai số "
            "tương đối 1e-9.")
    du, de = a - before, e - before
    ratio = float(np.sum(du * de) / np.sum(de * de)) if np.any(de) else 0.0
    if ratio and np.allclose(du, ratio * de, rtol=1e-6, atol=ATOL):
        return head + detail + tr(
            f" Your update of params['{key}'] is {ratio:.4g} times torch's in every coordinate: "
            "a missing or extra factor (learning rate, bias correction)?",
            f" Bước cập nhật params['{key}'] của bạn bằng {ratio:.4g} lần của torch ở mọi toạ "
            "độ: thiếu hoặc thừa một hệ số (tốc độ học, hiệu chỉnh độ lệch)?")
    return head + detail + tr(
        " No known mistake gives these numbers: compare your step with the update rule in the "
        "notebook, line by line (state initialisation, order of the updates, where eps goes).",
        " Không lỗi quen thuộc nào cho ra các số này: hãy so từng dòng của step với quy tắc "
        "cập nhật trong notebook (khởi tạo trạng thái, thứ tự cập nhật, vị trí của eps).")


# --- SGD ----------------------------------------------------------------------------

@pytest.mark.points(1)
def test_sgd_plain(opt, th, rng):
    check_trajectory(opt, th, "SGD", {"lr": 0.1}, *make_problem(rng))


@pytest.mark.points(2)
def test_sgd_momentum(opt, th, rng):
    check_trajectory(opt, th, "SGD", {"lr": 0.05, "momentum": 0.9}, *make_problem(rng))


@pytest.mark.points(2)
def test_sgd_nesterov(opt, th, rng):
    hp = {"lr": 0.05, "momentum": 0.8, "nesterov": True}
    check_trajectory(opt, th, "SGD", hp, *make_problem(rng))


@pytest.mark.points(1)
@pytest.mark.parametrize("hp", [
    {"lr": 0.1, "weight_decay": WD},
    {"lr": 0.05, "momentum": 0.9, "weight_decay": WD},
    {"lr": 0.05, "momentum": 0.8, "weight_decay": WD, "nesterov": True},
], ids=["plain", "momentum", "nesterov"])
def test_sgd_weight_decay(opt, th, rng, hp):
    check_trajectory(opt, th, "SGD", hp, *make_problem(rng))


@pytest.mark.points(1)
def test_sgd_nesterov_requires_momentum(opt, th, rng):
    params0, grads_seq = make_problem(rng, steps=1)
    call = "SGD(params, lr=0.1, nesterov=True)"
    try:
        run = build(th, opt, "SGD", params0, {"lr": 0.1, "nesterov": True})
        do_step(th, run, "SGD", grads_seq[0])
    except ValueError:
        return
    except NotImplementedError:
        raise
    except Exception as exc:  # noqa: BLE001 - any other exception is the student's to fix
        fail(tr(f"{call} raised {type(exc).__name__}: {exc}; it should raise ValueError, as "
                "torch.optim.SGD does (Nesterov needs momentum > 0)",
                f"{call} báo lỗi {type(exc).__name__}: {exc}; nó phải báo ValueError như "
                "torch.optim.SGD (Nesterov cần momentum > 0)"))
    fail(tr(f"{call} should raise ValueError, as torch.optim.SGD does: Nesterov momentum needs "
            "momentum > 0 (the default momentum is 0)",
            f"{call} phải báo ValueError như torch.optim.SGD: động lượng Nesterov cần "
            "momentum > 0 (momentum mặc định bằng 0)"))


# --- RMSprop, Adam, AdamW ---------------------------------------------------------------

@pytest.mark.points(2)
def test_rmsprop(opt, th, rng):
    check_trajectory(opt, th, "RMSprop", RMSPROP_HP, *make_problem(rng))


@pytest.mark.points(1)
def test_rmsprop_weight_decay(opt, th, rng):
    check_trajectory(opt, th, "RMSprop", FULL_HP["RMSprop"], *make_problem(rng))


@pytest.mark.points(3)
def test_adam(opt, th, rng):
    check_trajectory(opt, th, "Adam", ADAM_HP, *make_problem(rng))


@pytest.mark.points(1)
def test_adam_weight_decay(opt, th, rng):
    check_trajectory(opt, th, "Adam", FULL_HP["Adam"], *make_problem(rng))


@pytest.mark.points(3)
def test_adamw(opt, th, rng):
    check_trajectory(opt, th, "AdamW", FULL_HP["AdamW"], *make_problem(rng))


# --- what every optimizer must do -------------------------------------------------------

@pytest.mark.points(1)
@pytest.mark.parametrize("kind", KINDS)
def test_step_contract(opt, th, rng, kind):
    params0, grads_seq = make_problem(rng, steps=CONTRACT_STEPS)
    run = build(th, opt, kind, params0, FULL_HP[kind])
    before = params0  # the params' values before the step
    for step, grads in enumerate(grads_seq, start=1):
        seen = do_step(th, run, kind, grads)
        if not th.holds_given_dict(run):
            fail(tr(f"{kind}: self.params should be the very dict given to the constructor (not "
                    "a copy or a new dict), and stay so after step",
                    f"{kind}: self.params phải chính là dict được truyền vào hàm khởi tạo (không "
                    "phải bản sao hay dict mới), và giữ nguyên như vậy sau step"))
        result = seen["returned"]  # the type name of what step returned, None for None
        if result is not None:
            fail(tr(f"{kind}.step should return None (it updates the params in place), got a "
                    f"{result}",
                    f"{kind}.step phải trả về None (nó cập nhật tham số tại chỗ), nhưng trả về "
                    f"{result}"))
        if not seen["same_keys"]:
            fail(tr(f"{kind}.step changed the keys of the params dict",
                    f"{kind}.step đã đổi các khoá của dict params"))
        for k in params0:
            if not seen["same_arrays"][k]:
                fail(tr(f"{kind}: after step {step}, params['{k}'] is a new array: step must "
                        "update the arrays in place (p -= lr * ..., or p[...] = new_value), "
                        "because the caller keeps references to them; "
                        "self.params[name] = p - lr * ... replaces the array instead",
                        f"{kind}: sau bước {step}, params['{k}'] là một mảng mới: step phải cập "
                        "nhật các mảng tại chỗ (p -= lr * ... hoặc p[...] = giá_trị_mới), vì nơi "
                        "gọi vẫn giữ tham chiếu tới chúng; self.params[name] = p - lr * ... lại "
                        "thay mảng bằng mảng khác"))
            if np.array_equal(seen["params"][k], before[k]):
                fail(tr(f"{kind}: step {step} left params['{k}'] unchanged: step must write the "
                        "new values into the arrays of self.params (p -= ... or p[...] = ...); "
                        "p = p - ... only rebinds a local name",
                        f"{kind}: bước {step} không làm thay đổi params['{k}']: step phải ghi giá "
                        "trị mới vào chính các mảng của self.params (p -= ... hoặc p[...] = ...); "
                        "p = p - ... chỉ gán lại một biến cục bộ"))
        before = seen["params"]


@pytest.mark.points(0.5)
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("weight_decay", [WD, 0.0], ids=["decay", "no_decay"])
def test_grads_unchanged(opt, th, rng, kind, weight_decay):
    # With weight decay, g += weight_decay * p would modify the caller's array; without,
    # a state buffer aliasing the gradient (v = g at the first step) would.
    params0, grads_seq = make_problem(rng, steps=CONTRACT_STEPS)
    hp = {**FULL_HP[kind], "weight_decay": weight_decay}
    run = build(th, opt, kind, params0, hp)
    for step, grads in enumerate(grads_seq, start=1):
        seen = do_step(th, run, kind, grads)  # the probe keeps every gradient dict handed over
        for when, states in enumerate(seen["grads"], start=1):
            for k, state in states.items():
                if state == "replaced":
                    fail(tr(f"{kind}.step replaced grads['{k}'] (grads[name] = ...): leave the "
                            "caller's grads dict as it was and keep your own gradient in a "
                            "local variable",
                            f"{kind}.step đã thay grads['{k}'] (grads[name] = ...): hãy để nguyên "
                            "dict grads của nơi gọi và giữ gradient của bạn trong một biến cục "
                            "bộ"))
                if state == "modified":
                    fail(tr(f"{kind}.step modified grads['{k}'] of step {when} in place (after "
                            f"step {step}), e.g. g += weight_decay * p, or a state buffer that is "
                            "the gradient array itself: compute new arrays "
                            "(g = g + weight_decay * p) and initialise state with zeros or a copy",
                            f"{kind}.step đã sửa tại chỗ grads['{k}'] của bước {when} (sau bước "
                            f"{step}), vd. g += weight_decay * p, hoặc một bộ đệm trạng thái chính "
                            "là mảng gradient: hãy tạo mảng mới (g = g + weight_decay * p) và khởi "
                            "tạo trạng thái bằng 0 hoặc một bản sao"))


@pytest.mark.hidden
@pytest.mark.points(1)
@pytest.mark.parametrize("kind", KINDS)
def test_state_per_parameter(opt, th, rng, kind):
    check_trajectory(opt, th, kind, FULL_HP[kind], *make_problem(rng, shapes=TWIN_SHAPES))


@pytest.mark.hidden
@pytest.mark.points(0.5)
@pytest.mark.parametrize("kind", KINDS)
def test_defaults(opt, th, rng, kind):
    problem = make_problem(rng, log10=DEFAULT_GRAD_LOG10)
    check_trajectory(opt, th, kind, SPEC_DEFAULTS[kind], *problem, defaults=True)
