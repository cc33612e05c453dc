"""The optimizers grader against mistaken and correct variants of the reference solution.

Each MISTAKE must lose points, on (at least) the tests it names; each CORRECT
alternative must get full marks with nothing printed as a warning. Variants are text
substitutions on solutions/optimizers.py, mostly of one method's solution region
(``body``), so they keep applying while the rest of the solution changes.

The grader's numpy ``replay`` of torch's rules and of the known mistakes (used for its
"likely cause" messages) is checked here too, in process: the correct replay matches
torch.optim, and every replayed mistake really differs from it.

The variants are graded by harness.grade_variants: one full pytest session per variant,
in two processes that pay the torch start-up (about 6 s) once each.
"""

from __future__ import annotations

import importlib.util
import re
import textwrap

import numpy as np
import pytest
from harness import (
    GRADERS,
    SOLUTIONS,
    Variant,
    assert_full_marks,
    assert_mistake_caught,
    grade_variants,
    run_graders,
    selected_variants,
)

from autograder.stubs import make_stub

SOLUTION = (SOLUTIONS / "optimizers.py").read_text(encoding="utf-8")
GRADER = "graders/test_optimizers.py"


def region(cls: str, method: str) -> str:
    """The text of ``cls.method``'s solution region in the reference (markers excluded)."""
    pattern = rf"class {cls}\b.*?def {method}\(.*?### BEGIN SOLUTION\n(.*?)\n\s*### END SOLUTION"
    match = re.search(pattern, SOLUTION, re.DOTALL)
    assert match, f"no solution region in {cls}.{method}"
    return match.group(1)


def body(cls: str, method: str, code: str) -> tuple[str, str]:
    """A substitution replacing ``cls.method``'s solution region with ``code``."""
    return region(cls, method), textwrap.indent(textwrap.dedent(code).strip("\n"), " " * 8)


def mistake(name: str, *replace: tuple[str, str], must_fail: list[str]) -> Variant:
    return Variant("optimizers", name, replace=list(replace), must_fail=must_fail)


def correct(name: str, *replace: tuple[str, str], source: str | None = None) -> Variant:
    return Variant("optimizers", name, replace=list(replace), source=source)


SGD_MOMENTUM = ["test_sgd_momentum", "test_sgd_nesterov"]
SGD_UPDATE = "p -= self.lr * g\n"
SGD_L2 = "g = g + self.weight_decay * p  # a new array: grads stays untouched"
SGD_RAISE = 'raise ValueError("Nesterov momentum requires a momentum > 0")'
SGD_STATE = 'self.state = {name: {"velocity": np.zeros_like(p)} for name, p in params.items()}'
RMS_L2 = "g = g + self.weight_decay * p\n            s = self.state"
RMS_AVG = "s[...] = self.alpha * s + (1 - self.alpha) * g * g"
ADAM_L2 = "g = g + self.weight_decay * p\n            state = self.state[name]"
ADAM_T = 'state["t"] += 1\n            t = state["t"]\n'
ADAM_MOMENTS = ('state["m"] = beta1 * state["m"] + (1 - beta1) * g\n'
                '            state["v"] = beta2 * state["v"] + (1 - beta2) * g * g\n')
ADAM_UPDATE = "p -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)"
ADAMW_DECAY = "            p *= 1 - self.lr * self.weight_decay\n"
ADAMW_UPDATE = "p -= step_size * exp_avg / denom"
ADAMW_DENOM = "denom = np.sqrt(exp_avg_sq) / bias_correction2_sqrt + self.eps"

MISTAKES = [
    # --- SGD
    mistake("sgd_ascent", (SGD_UPDATE, "p += self.lr * g\n"),
            must_fail=["test_sgd_plain", *SGD_MOMENTUM]),
    mistake("sgd_lr_applied_twice", (SGD_UPDATE, "p -= self.lr * self.lr * g\n"),
            must_fail=["test_sgd_plain", "test_sgd_momentum", "test_defaults"]),
    mistake("sgd_momentum_ignored", ("if self.momentum != 0:", "if False:"),
            must_fail=SGD_MOMENTUM),
    mistake("sgd_momentum_as_ema", ("v += g\n", "v += (1 - self.momentum) * g\n"),
            must_fail=SGD_MOMENTUM),
    mistake("sgd_step_with_old_velocity",
            ("v *= self.momentum\n", "old = v.copy()\n                v *= self.momentum\n"),
            ("if self.nesterov else v\n", "if self.nesterov else old\n"),
            must_fail=["test_sgd_momentum"]),
    mistake("sgd_nesterov_as_plain_momentum",
            ("g = g + self.momentum * v if self.nesterov else v", "g = v"),
            must_fail=["test_sgd_nesterov"]),
    mistake("sgd_nesterov_with_old_velocity",
            ("v *= self.momentum\n", "old = v.copy()\n                v *= self.momentum\n"),
            ("g = g + self.momentum * v if", "g = g + self.momentum * old if"),
            must_fail=["test_sgd_nesterov"]),
    mistake("sgd_nesterov_without_momentum_accepted", (SGD_RAISE, "pass"),
            must_fail=["test_sgd_nesterov_requires_momentum"]),
    mistake("sgd_nesterov_wrong_exception",
            (SGD_RAISE, SGD_RAISE.replace("ValueError", "TypeError")),
            must_fail=["test_sgd_nesterov_requires_momentum"]),
    mistake("sgd_weight_decay_ignored", (SGD_L2, "pass"), must_fail=["test_sgd_weight_decay"]),
    mistake("sgd_weight_decay_decoupled",  # the same as L2 without momentum, not with it
            (SGD_L2, "p *= 1 - self.lr * self.weight_decay"), must_fail=["test_sgd_weight_decay"]),
    mistake("sgd_weight_decay_modifies_grads", (SGD_L2, "g += self.weight_decay * p"),
            must_fail=["test_grads_unchanged"]),
    mistake("sgd_velocity_aliases_gradient", body("SGD", "step", """
            for name, p in self.params.items():
                g = grads[name]
                if self.weight_decay != 0:
                    g = g + self.weight_decay * p
                if self.momentum != 0:
                    state = self.state[name]
                    if "started" not in state:
                        state["started"] = True
                        state["velocity"] = g  # the gradient array itself, not a copy
                    else:
                        state["velocity"] *= self.momentum
                        state["velocity"] += g
                    v = state["velocity"]
                    g = g + self.momentum * v if self.nesterov else v
                p -= self.lr * g
            """), must_fail=["test_grads_unchanged"]),
    mistake("sgd_state_keyed_by_shape", (SGD_STATE, SGD_STATE.replace("{name: {", "{p.shape: {")),
            ('v = self.state[name]["velocity"]', 'v = self.state[p.shape]["velocity"]'),
            must_fail=["test_state_per_parameter"]),
    mistake("sgd_rebinds_dict_entries", (SGD_UPDATE, "self.params[name] = p - self.lr * g\n"),
            must_fail=["test_step_contract"]),
    mistake("sgd_new_params_dict",
            (SGD_UPDATE, "self.params = {**self.params, name: p - self.lr * g}\n"),
            must_fail=["test_step_contract", "test_sgd_plain", "test_sgd_momentum"]),
    mistake("sgd_local_rebind_no_update", (SGD_UPDATE, "p = p - self.lr * g\n"),
            must_fail=["test_step_contract", "test_sgd_plain", "test_sgd_momentum"]),
    mistake("sgd_returns_params",
            body("SGD", "step", textwrap.dedent(region("SGD", "step")) + "\nreturn self.params"),
            must_fail=["test_step_contract"]),
    mistake("sgd_default_lr_changed", ("lr=1e-3, momentum=0.0", "lr=1e-2, momentum=0.0"),
            must_fail=["test_defaults"]),
    # --- RMSprop
    mistake("rmsprop_eps_inside_sqrt", ("np.sqrt(s) + self.eps", "np.sqrt(s + self.eps)"),
            must_fail=["test_rmsprop", "test_rmsprop_weight_decay"]),
    mistake("rmsprop_alpha_swapped",
            (RMS_AVG, "s[...] = (1 - self.alpha) * s + self.alpha * g * g"),
            must_fail=["test_rmsprop"]),
    mistake("rmsprop_average_starts_at_g2", (RMS_AVG, RMS_AVG + " if s.any() else g * g"),
            must_fail=["test_rmsprop"]),
    mistake("rmsprop_bias_corrected", body("RMSprop", "step", """
            self.t = getattr(self, "t", 0) + 1
            for name, p in self.params.items():
                g = grads[name]
                if self.weight_decay != 0:
                    g = g + self.weight_decay * p
                s = self.state[name]["square_avg"]
                s[...] = self.alpha * s + (1 - self.alpha) * g * g
                p -= self.lr * g / (np.sqrt(s / (1 - self.alpha ** self.t)) + self.eps)
            """), must_fail=["test_rmsprop"]),
    mistake("rmsprop_divides_by_mean_square", ("np.sqrt(s) + self.eps", "s + self.eps"),
            must_fail=["test_rmsprop"]),
    mistake("rmsprop_weight_decay_ignored", (RMS_L2, RMS_L2.replace("g = g + self.weight_decay * p",
                                                                    "pass")),
            must_fail=["test_rmsprop_weight_decay"]),
    mistake("rmsprop_weight_decay_decoupled",
            (RMS_L2, RMS_L2.replace("g = g + self.weight_decay * p",
                                    "p *= 1 - self.lr * self.weight_decay")),
            must_fail=["test_rmsprop_weight_decay"]),
    mistake("rmsprop_float32_state", ('{"square_avg": np.zeros_like(p)}',
                                      '{"square_avg": np.zeros_like(p, dtype=np.float32)}'),
            must_fail=["test_rmsprop"]),
    mistake("rmsprop_one_shared_buffer", body("RMSprop", "step", """
            for name, p in self.params.items():
                g = grads[name]
                if self.weight_decay != 0:
                    g = g + self.weight_decay * p
                self.s = self.alpha * getattr(self, "s", 0.0) + (1 - self.alpha) * g * g
                p -= self.lr * g / (np.sqrt(self.s) + self.eps)
            """), must_fail=["test_state_per_parameter", "test_rmsprop"]),
    # --- Adam
    mistake("adam_no_bias_correction",
            ('m_hat = state["m"] / (1 - beta1 ** t)', 'm_hat = state["m"]'),
            ('v_hat = state["v"] / (1 - beta2 ** t)', 'v_hat = state["v"]'),
            must_fail=["test_adam"]),
    mistake("adam_no_second_moment_correction",
            ('v_hat = state["v"] / (1 - beta2 ** t)', 'v_hat = state["v"]'),
            must_fail=["test_adam"]),
    mistake("adam_eps_inside_sqrt", ("np.sqrt(v_hat) + self.eps", "np.sqrt(v_hat + self.eps)"),
            must_fail=["test_adam"]),
    mistake("adam_paper_efficient_form_same_eps",  # eps added before the bias correction
            (ADAM_UPDATE, (
                "alpha_t = self.lr * np.sqrt(1 - beta2 ** t) / (1 - beta1 ** t)\n"
                '            p -= alpha_t * state["m"] / (np.sqrt(state["v"]) + self.eps)')),
            must_fail=["test_adam"]),
    mistake("adam_t_counted_per_parameter",
            (ADAM_T, 'self.count = getattr(self, "count", 0) + 1\n            t = self.count\n'),
            must_fail=["test_adam"]),
    mistake("adam_t_starts_at_zero",  # nan at the first step
            (ADAM_T, 't = state["t"]\n            state["t"] += 1\n'), must_fail=["test_adam"]),
    mistake("adam_t_two_at_first_step", ('"t": 0, "m"', '"t": 1, "m"'), must_fail=["test_adam"]),
    mistake("adam_stores_corrected_moments",
            (ADAM_UPDATE, 'state["m"], state["v"] = m_hat, v_hat\n            ' + ADAM_UPDATE),
            must_fail=["test_adam"]),
    mistake("adam_betas_swapped",
            ("beta1, beta2 = self.betas\n        for name",
             "beta2, beta1 = self.betas\n        for name"),
            must_fail=["test_adam"]),
    mistake("adam_moments_start_at_gradient",
            ('"m": np.zeros_like(p), "v": np.zeros_like(p)}', '"m": None, "v": None}'),
            (ADAM_MOMENTS, 'if state["m"] is None:\n'
                           '                state["m"], state["v"] = g.copy(), g * g\n'
                           '            else:\n'
                           "                "
                           + ADAM_MOMENTS.replace("\n            ", "\n                ")),
            must_fail=["test_adam"]),
    mistake("adam_weight_decay_decoupled",
            (ADAM_L2, ADAM_L2.replace("g = g + self.weight_decay * p",
                                      "p *= 1 - self.lr * self.weight_decay")),
            must_fail=["test_adam_weight_decay"]),
    mistake("adam_weight_decay_ignored",
            (ADAM_L2, ADAM_L2.replace("g = g + self.weight_decay * p", "pass")),
            must_fail=["test_adam_weight_decay"]),
    mistake("adam_weight_decay_modifies_grads",
            (ADAM_L2, ADAM_L2.replace("g = g + self.weight_decay", "g += self.weight_decay")),
            must_fail=["test_grads_unchanged"]),
    mistake("adam_state_keyed_by_shape",
            ("state = self.state[name]\n",
             "state = self.state.setdefault(p.shape, self.state[name])\n"),
            must_fail=["test_state_per_parameter"]),
    mistake("adam_float32",
            (ADAM_UPDATE, ADAM_UPDATE.replace("m_hat /", "m_hat.astype(np.float32) /")),
            must_fail=["test_adam"]),
    mistake("adam_rebinds_dict_entries",
            (ADAM_UPDATE, ADAM_UPDATE.replace("p -= ", "self.params[name] = p - ")),
            must_fail=["test_step_contract"]),
    # --- AdamW
    mistake("adamw_decay_as_l2", (ADAMW_DECAY, "            g = g + self.weight_decay * p\n"),
            must_fail=["test_adamw"]),
    mistake("adamw_decay_without_lr", (ADAMW_DECAY, "            p *= 1 - self.weight_decay\n"),
            must_fail=["test_adamw"]),
    mistake("adamw_decay_after_step", (ADAMW_DECAY, ""),
            (ADAMW_UPDATE, ADAMW_UPDATE + "\n            p *= 1 - self.lr * self.weight_decay"),
            must_fail=["test_adamw"]),
    mistake("adamw_decay_ignored", (ADAMW_DECAY, ""), must_fail=["test_adamw", "test_defaults"]),
    mistake("adamw_default_weight_decay_zero",
            ("eps=1e-8, weight_decay=1e-2)", "eps=1e-8, weight_decay=0.0)"),
            must_fail=["test_defaults"]),
    mistake("adamw_t_incremented_per_parameter", body("AdamW", "step", """
            beta1, beta2 = self.betas
            for name, p in self.params.items():
                self.t += 1
                g = grads[name]
                p *= 1 - self.lr * self.weight_decay
                exp_avg, exp_avg_sq = self.exp_avg[name], self.exp_avg_sq[name]
                exp_avg *= beta1
                exp_avg += (1 - beta1) * g
                exp_avg_sq *= beta2
                exp_avg_sq += (1 - beta2) * g ** 2
                denom = np.sqrt(exp_avg_sq) / np.sqrt(1 - beta2 ** self.t) + self.eps
                p -= self.lr / (1 - beta1 ** self.t) * exp_avg / denom
            """), must_fail=["test_adamw"]),
    mistake("adamw_eps_inside_sqrt",
            (ADAMW_DENOM, "denom = np.sqrt(exp_avg_sq / bias_correction2_sqrt ** 2 + self.eps)"),
            must_fail=["test_adamw"]),
    mistake("adamw_rebinds_dict_entries",
            (ADAMW_UPDATE, "self.params[name] = p - step_size * exp_avg / denom"),
            must_fail=["test_step_contract"]),
]

BASE_CLASS_REWRITE = textwrap.dedent('''
    """Optimizers with a shared base class: per-parameter state in a defaultdict, float64."""
    from collections import defaultdict

    import numpy as np


    class _Optimizer:
        def __init__(self, params, **hyper):
            self.params = params
            self.__dict__.update(hyper)
            self.state = defaultdict(dict)

        def step(self, grads):
            for name, p in self.params.items():
                g = np.asarray(grads[name], dtype=np.float64)
                self._update(p, g, self.state[name])

        def _update(self, p, g, state):
            raise NotImplementedError


    class SGD(_Optimizer):
        def __init__(self, params, lr=1e-3, momentum=0.0, weight_decay=0.0, nesterov=False):
            if nesterov and momentum == 0:
                raise ValueError("nesterov needs momentum")
            super().__init__(params, lr=lr, momentum=momentum, weight_decay=weight_decay,
                             nesterov=nesterov)

        def _update(self, p, g, state):
            g = g + self.weight_decay * p
            if self.momentum:
                state["buf"] = self.momentum * state.get("buf", 0.0) + g
                g = g + self.momentum * state["buf"] if self.nesterov else state["buf"]
            p -= self.lr * g


    class RMSprop(_Optimizer):
        def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0):
            super().__init__(params, lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay)

        def _update(self, p, g, state):
            g = g + self.weight_decay * p
            state["sq"] = self.alpha * state.get("sq", 0.0) + (1 - self.alpha) * g ** 2
            p -= self.lr * g / (np.sqrt(state["sq"]) + self.eps)


    class Adam(_Optimizer):
        decoupled = False

        def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
            super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)

        def _update(self, p, g, state):
            if self.decoupled:
                p *= 1 - self.lr * self.weight_decay
            else:
                g = g + self.weight_decay * p
            b1, b2 = self.betas
            t = state["t"] = state.get("t", 0) + 1
            state["m"] = b1 * state.get("m", 0.0) + (1 - b1) * g
            state["v"] = b2 * state.get("v", 0.0) + (1 - b2) * g * g
            m_hat, v_hat = state["m"] / (1 - b1 ** t), state["v"] / (1 - b2 ** t)
            p -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)


    class AdamW(Adam):
        decoupled = True

        def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
            super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)
    ''')

ADAMW_SUBCLASS = SOLUTION.split("class AdamW:")[0] + textwrap.dedent('''
    class AdamW(Adam):
        """Adam with decoupled weight decay: shrink p, then a plain Adam step."""

        def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
            super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=0.0)
            self.decay = weight_decay

        def step(self, grads):
            for p in self.params.values():
                p *= 1 - self.lr * self.decay
            super().step(grads)
    ''')

CORRECT = [
    correct("sgd_cs231n_velocity_form", body("SGD", "step", """
            for name, p in self.params.items():
                g = grads[name] + self.weight_decay * p
                if self.momentum == 0:
                    p -= self.lr * g
                    continue
                v = self.state[name]["velocity"]  # here v = -lr * (torch's velocity)
                v_prev = v.copy()
                v[...] = self.momentum * v - self.lr * g
                if self.nesterov:
                    p += -self.momentum * v_prev + (1 + self.momentum) * v
                else:
                    p += v
            """)),
    correct("sgd_torch_style_lazy_buffer_and_out", body("SGD", "step", """
            for name in grads:
                p = self.params[name]
                d_p = grads[name].copy()
                if self.weight_decay:
                    d_p += self.weight_decay * p
                if self.momentum:
                    buf = self.state[name].get("buf")
                    if buf is None:
                        buf = self.state[name]["buf"] = d_p.copy()
                    else:
                        np.multiply(buf, self.momentum, out=buf)
                        np.add(buf, d_p, out=buf)
                    d_p = d_p + self.momentum * buf if self.nesterov else buf
                np.subtract(p, self.lr * d_p, out=p)
            """)),
    correct("rmsprop_element_loops", body("RMSprop", "step", """
            for name, p in self.params.items():
                s = self.state[name]["square_avg"]
                for i in np.ndindex(p.shape):
                    g = grads[name][i] + self.weight_decay * p[i]
                    s[i] = self.alpha * s[i] + (1 - self.alpha) * g ** 2
                    p[i] = p[i] - self.lr * g / (s[i] ** 0.5 + self.eps)
            """)),
    correct("rmsprop_lerp_form_lazy_state", body("RMSprop", "__init__", "self.state = {}"),
            body("RMSprop", "step", """
            for name, p in self.params.items():
                g = grads[name]
                if self.weight_decay:
                    g = g + self.weight_decay * p
                s = self.state.setdefault(name, np.zeros_like(p))
                s += (1 - self.alpha) * (g * g - s)
                p[...] = p - self.lr * g / (np.sqrt(s) + self.eps)
            """)),
    correct("adam_torch_denominator_form", (ADAM_UPDATE, (
        'denom = np.sqrt(state["v"]) / np.sqrt(1 - beta2 ** t) + self.eps\n'
        '            p -= self.lr / (1 - beta1 ** t) * state["m"] / denom'))),
    correct("adam_paper_efficient_form_exact_eps", (ADAM_UPDATE, (
        "alpha_t = self.lr * np.sqrt(1 - beta2 ** t) / (1 - beta1 ** t)\n"
        "            eps_hat = self.eps * np.sqrt(1 - beta2 ** t)\n"
        '            p -= alpha_t * state["m"] / (np.sqrt(state["v"]) + eps_hat)'))),
    correct("adam_global_t_separate_dicts_in_place_moments",
            body("Adam", "__init__", "self.t, self.m, self.v = 0, {}, {}"),
            body("Adam", "step", """
            self.t += 1
            b1, b2 = self.betas
            for name, g in grads.items():
                p = self.params[name]
                if self.weight_decay:
                    g = g + self.weight_decay * p
                m = self.m.setdefault(name, np.zeros_like(p))
                v = self.v.setdefault(name, np.zeros_like(p))
                m *= b1
                m += (1 - b1) * g
                v *= b2
                v += (1 - b2) * np.square(g)
                m_hat, v_hat = m / (1 - b1 ** self.t), v / (1 - b2 ** self.t)
                p[...] -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)
            """)),
    correct("adamw_paper_form_old_p", (ADAMW_DECAY, ""), (ADAMW_UPDATE, (
        "p[...] = p - self.lr * (exp_avg / (1 - beta1 ** self.t) / denom\n"
        "                                    + self.weight_decay * p)"))),
    correct("adamw_python_floats_and_einsum", body("AdamW", "step", """
            self.t += 1
            b1, b2 = (float(b) for b in self.betas)
            for name in self.params:
                p, g = self.params[name], grads[name]
                np.multiply(p, 1.0 - self.lr * self.weight_decay, out=p)
                g2 = np.einsum("...,...->...", g, g)
                self.exp_avg[name] = b1 * self.exp_avg[name] + (1.0 - b1) * g
                self.exp_avg_sq[name] = b2 * self.exp_avg_sq[name] + (1.0 - b2) * g2
                m_hat = self.exp_avg[name] / (1.0 - b1 ** self.t)
                v_hat = self.exp_avg_sq[name] / (1.0 - b2 ** self.t)
                p -= self.lr * m_hat / (v_hat ** 0.5 + self.eps)
            """)),
    correct("adamw_subclass_of_adam", source=ADAMW_SUBCLASS),
    correct("whole_file_base_class_rewrite", source=BASE_CLASS_REWRITE),
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


def test_variant_names_are_unique():
    names = _ids(MISTAKES + CORRECT)
    assert len(names) == len(set(names))


def test_reference_full_marks_without_warnings(tmp_path):
    run = Variant("optimizers", "reference").grade(tmp_path)
    assert run.earned == run.available > 0, run.output
    assert "warning" not in run.output.lower(), run.output


def test_stub_scores_zero_with_not_implemented_messages(tmp_path):
    (tmp_path / "optimizers.py").write_text(make_stub(SOLUTION, "optimizers.py"), encoding="utf-8")
    run = run_graders(tmp_path, GRADER)
    assert run.earned == 0 and run.available > 0, run.output
    assert run.returncode == 1 and "ERROR" not in run.output, run.output  # no collection errors
    for name, message in run.messages().items():
        assert message.startswith("not implemented yet"), f"{name}: {message!r}"
        assert "\n" not in message.strip(), f"{name}: {message!r}"


# --- the grader's numpy replay, in process ----------------------------------------------

@pytest.fixture(scope="module")
def grader():
    spec = importlib.util.spec_from_file_location("_optimizers_grader",
                                                  GRADERS / "test_optimizers.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _configs(g):
    """(kind, hp, shapes) settings of the grader's tests."""
    sgd = [{"lr": 0.1}, {"lr": 0.05, "momentum": 0.9},
           {"lr": 0.05, "momentum": 0.8, "nesterov": True}]
    return ([("SGD", hp, g.SHAPES) for hp in sgd]
            + [("RMSprop", g.RMSPROP_HP, g.SHAPES), ("Adam", g.ADAM_HP, g.SHAPES)]
            + [(kind, g.FULL_HP[kind], shapes) for kind in g.KINDS
               for shapes in (g.SHAPES, g.TWIN_SHAPES)]
            + [(kind, g.SPEC_DEFAULTS[kind], g.SHAPES) for kind in g.KINDS])


def test_replay_matches_torch(grader):
    rng = np.random.default_rng(0)
    for kind, hp, shapes in _configs(grader):
        params0, grads = grader.make_problem(rng, shapes=shapes, log10=grader.DEFAULT_GRAD_LOG10)
        truth = grader.torch_trajectory(kind, hp, params0, grads)
        mine = grader.replay(kind, hp, params0, grads)
        for step, (a, b) in enumerate(zip(mine, truth), start=1):
            for k, value in a.items():
                assert np.allclose(value, b[k], rtol=1e-11, atol=1e-14), (kind, hp, step, k)


def test_every_replayed_mistake_differs_from_torch(grader):
    """Each known mistake changes some test's numbers at its first steps by far more than
    RTOL (else its message could never be shown, or could be shown for correct code)."""
    rng = np.random.default_rng(1)
    problems = {id(shapes): grader.make_problem(rng, shapes=shapes, steps=3)
                for shapes in (grader.SHAPES, grader.TWIN_SHAPES)}
    for kind, bugs in grader.BUGS.items():
        for bug in bugs:
            worst = 0.0
            for ckind, hp, shapes in _configs(grader):
                if ckind != kind:
                    continue
                params0, grads = problems[id(shapes)]
                truth = grader.replay(kind, hp, params0, grads)
                wrong = grader.replay(kind, hp, params0, grads, bug)
                worst = max(worst, *(grader.relative_error(w[k], t[k])
                                     for w, t in zip(wrong, truth) for k in t))
            assert worst > 1e-4, (kind, bug, worst)
            assert grader.explain(bug, kind)
