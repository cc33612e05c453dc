"""What isolation costs per confinement layer: per call, per worker start-up, per submission.

    .venv/bin/python benchmarks/isolation_cost.py [--repeat 3] [--calls 2000]
        [--exercises backprop,gradcheck,...] [--layers bwrap,landlock,none]
        [--out benchmarks/results/isolation_cost.md]

Every isolated figure is measured for each layer (bwrap, landlock, none) beside in-process,
in the same run and interleaved, so that a change of load on shared cores hits all alike:

- *Per call*: ``affine_forward`` on small arrays (x (4, 5), w (5, 3), b (3,) sent as data,
  a tuple of an array and a cache back, in-place changes checked), a call with no argument,
  and a call handing a test function ``f`` to the student's code (built in the worker from
  its formula, as gradcheck does). Every call is timed on its own: median and 99th
  percentile.
- *Start-up*: a new worker up to "ready" with its module loaded, for a numpy exercise and
  for LeNet (which imports torch); one discarded warm-up start per layer first.
- *Per submission*: ``python -m pytest graders/test_<ex>.py --impl solutions`` with
  ``--no-isolate`` and with ``--sandbox <layer>`` (a fresh process each time, start-up
  included); the layer recorded in ``--grade-json`` is checked to be the one asked for.

The machine and its load go into the results file (Markdown, and JSON beside it); its
hand-written tail ("## Notes", "## Before ...") is kept as it is. Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
EXERCISES = ("backprop", "gradcheck", "optimizers", "xor", "lenet")
ROUNDS = 5  # per-call measurements alternate between the modes in this many rounds
TARGET_START, TARGET_CALL = 0.3, 1000.0  # the target: seconds, microseconds (medians)
KEPT = ("## Notes", "## Before")  # hand-written sections of the results file, kept as they are

from autograder.grading.loader import Implementation
from autograder.grading.values import TestFunction
from autograder.sandbox import confine
from autograder.sandbox.remote import RemoteImplementation

STUDENT = textwrap.dedent("""
    import numpy as np

    def affine_forward(x, w, b):
        return x @ w + b, (x, w, b)

    def nothing():
        return None

    def call_back(f, x):
        return f(x)
""")
STARTS = {"backprop": "numpy exercise (backprop)", "lenet": "LeNet (imports torch)"}


def machine() -> dict:
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        lines = []
    cpu = next((ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("model name")),
               "unknown CPU")
    import torch

    return {"cpu": cpu, "cores": os.cpu_count(), "os": f"{platform.system()} {platform.release()}",
            "python": platform.python_version(), "numpy": np.__version__,
            "torch": torch.__version__, "root": os.geteuid() == 0}


def layers_wanted(names: list[str] | None) -> tuple[dict[str, confine.Layer], list[str]]:
    """The layers to measure (asked for, or all that work here), and why others are left out."""
    layers, missing = {}, []
    for name in names or confine.LAYERS:
        try:
            layers[name] = confine.select(name)
        except confine.LayerUnavailable as exc:
            if names:
                raise SystemExit(str(exc)) from None
            missing.append(f"{name}: {exc}")
    return layers, missing


def stats(samples: list[float]) -> dict:
    return {"median": statistics.median(samples), "p99": float(np.percentile(samples, 99)),
            "min": min(samples), "max": max(samples), "n": len(samples)}


def per_call(modules: dict[str, object], calls: int) -> dict[str, dict[str, dict]]:
    """{mode: {call: stats}} in microseconds, each call timed on its own."""
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((4, 5)), rng.standard_normal((5, 3)), rng.standard_normal(3)
    f = TestFunction("np.sum(z)")

    def cases(module):
        return {"affine_forward(x, w, b)": lambda: module.affine_forward(x, w, b),
                "nothing()": lambda: module.nothing(),
                "call with a test function f": lambda: module.call_back(f, x)}

    table = {mode: cases(module) for mode, module in modules.items()}
    samples = {mode: {label: [] for label in fns} for mode, fns in table.items()}
    for fns in table.values():
        for fn in fns.values():
            fn()  # warm-up (worker start, module load)
    clock = time.perf_counter_ns
    for _ in range(ROUNDS):
        for mode, fns in table.items():
            for label, fn in fns.items():
                out = samples[mode][label]
                for _ in range(max(1, calls // ROUNDS)):
                    start = clock()
                    fn()
                    out.append((clock() - start) / 1e3)
    return {mode: {label: stats(s) for label, s in per.items()} for mode, per in samples.items()}


def start_up(folder: Path, layers: dict[str, confine.Layer], repeat: int) -> tuple[dict, dict]:
    """({exercise: {layer: stats}} in seconds, {layer: the worker's isolation report})."""
    times = {ex: {name: [] for name in layers} for ex in STARTS}
    reports = {}
    for exercise in STARTS:
        for attempt in range(repeat + 1):  # attempt 0: warm-up, not counted
            for name, layer in layers.items():
                impl = RemoteImplementation(folder, layer=layer)
                start = time.perf_counter()
                impl.exercise(exercise).worker()
                elapsed = time.perf_counter() - start
                reports.setdefault(name, impl.isolation)
                impl.close()
                if attempt:
                    times[exercise][name].append(elapsed)
    return {ex: {name: stats(s) for name, s in per.items()} for ex, per in times.items()}, reports


def grader_run(exercise: str, mode: str) -> float:
    """Wall seconds of one graded submission."""
    with tempfile.TemporaryDirectory(prefix="isolation-cost-json-") as tmp:
        report = Path(tmp) / "grade.json"
        command = [sys.executable, "-m", "pytest", f"graders/test_{exercise}.py", "--impl",
                   "solutions", "-q", "-p", "no:cacheprovider", "--grade-json", str(report)]
        command += ["--no-isolate"] if mode == "in-process" else ["--sandbox", mode]
        start = time.perf_counter()
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
        elapsed = time.perf_counter() - start
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(command)} failed:\n{done.stdout[-2000:]}"
                             f"{done.stderr[-1000:]}")
        applied = json.loads(report.read_text(encoding="utf-8")).get("isolation", {}).get("layer")
    if applied != (None if mode == "in-process" else mode):
        raise SystemExit(f"{' '.join(command)} ran with layer {applied!r}, not {mode!r}")
    return elapsed


def submissions(exercises: list[str], modes: list[str], repeat: int) -> dict:
    """{exercise: {mode: {wall: stats}}}, the modes alternating run by run."""
    out = {}
    for exercise in exercises:
        walls = {mode: [] for mode in modes}
        for _ in range(repeat):
            for mode in modes:
                walls[mode].append(grader_run(exercise, mode))
        out[exercise] = {m: {"wall": stats(walls[m])} for m in modes}
        print(exercise, "  ".join(f"{m} {out[exercise][m]['wall']['median']:.1f} s" for m in modes),
              flush=True)
    return out


def section(title: str) -> list[str]:
    return ["", f"## {title}", ""]


def table(header: list[str], rows: list[list]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|---" * len(header) + "|",
            *("| " + " | ".join(str(cell) for cell in row) + " |" for row in rows)]


def report(args, info: dict, layers: list[str], calls: dict, starts: dict, subs: dict) -> list[str]:
    m, auto = info["machine"], info["auto"]
    skipped = f" (not used: {'; '.join(auto['not_used'])})" if auto["not_used"] else ""
    lines = [
        "# The cost of isolation, per confinement layer (`pytest graders --sandbox <layer>`)", "",
        f"Generated by `benchmarks/isolation_cost.py {' '.join(info['argv'])}` on {info['date']}.",
        "",
        (f"Machine: {m['cpu']}, {m['cores']} cores, {m['os']}, Python {m['python']}, "
         f"numpy {m['numpy']}, torch {m['torch']}; run as "
         f"{'root' if m['root'] else 'an unprivileged user'}. Load average (1 min) "
         f"{info['load_before']:.1f} before and {info['load_after']:.1f} after the run (the "
         "cores are shared with other work: figures are medians with their spread, the modes "
         "are measured interleaved, and ratios to in-process matter more than absolute numbers)."),
        "", f"`--sandbox auto` picks **{auto['layer']}** here{skipped}.", ""]
    if info["missing"]:
        lines += ["Not measured (unavailable here): " + "; ".join(info["missing"]) + ".", ""]
    iso = info["isolation"]
    keys = ("filesystem", "network", "processes", "uid")
    lines += table(["layer", *keys[:3], "worker uid"],
                   [[n, *(iso[n].get(k, "?") for k in keys)] for n in layers])

    lines += section(f"The target: a numpy worker up in <= {TARGET_START} s, a call <= "
                     f"{TARGET_CALL / 1000:g} ms (medians)")
    labels = list(calls["in-process"])

    def verdict(value: float, limit: float, digits: int) -> str:
        return f"{value:.{digits}f} {'yes' if value <= limit else '**no**'}"

    rows = [[n, verdict(starts["backprop"][n]["median"], TARGET_START, 3),
             *(verdict(calls[n][c]["median"], TARGET_CALL, 0) for c in labels)] for n in layers]
    lines += table(["layer", "numpy worker start-up (s)", *(f"`{c}` (us)" for c in labels)], rows)

    lines += section(f"One call (microseconds; {args.calls} calls per case and mode, each timed "
                     "on its own; overhead = minus in-process)")
    rows = []
    for label, base in calls["in-process"].items():
        for mode, per in calls.items():
            s = per[label]
            extra = (["–", "–"] if mode == "in-process" else
                     [f"+{s['median'] - base['median']:.0f}", f"+{s['p99'] - base['p99']:.0f}"])
            rows.append([f"`{label}`", mode, f"{s['median']:.1f}", f"{s['p99']:.1f}", *extra])
    lines += table(["call", "mode", "median", "p99", "overhead (median)", "overhead (p99)"], rows)

    lines += section(f"Worker start-up (seconds, {args.repeat} starts per layer after a "
                     "warm-up; up to \"ready\" with the module loaded)")
    lines += table(["worker", "layer", "median", "min", "max"],
                   [[STARTS[ex], n, *(f"{s[k]:.2f}" for k in ("median", "min", "max"))]
                    for ex, per in starts.items() for n, s in per.items()])
    if not subs:
        return lines
    modes = ["in-process", *layers]

    def cell(wall: dict, base: float) -> str:
        ratio = "" if wall["median"] == base else f" ×{wall['median'] / base:.2f}"
        return f"{wall['median']:.1f} [{wall['min']:.1f}–{wall['max']:.1f}]{ratio}"

    lines += section(f"One graded submission (wall seconds, median of {args.repeat} [min–max] "
                     "× ratio to in-process; a fresh `python -m pytest` process on the reference "
                     "solution, start-up included)")
    rows = [[ex, *(cell(per[m]["wall"], per["in-process"]["wall"]["median"]) for m in modes)]
            for ex, per in subs.items()]
    total = {m: sum(per[m]["wall"]["median"] for per in subs.values()) for m in modes}
    rows.append([f"sum of {len(subs)}", *(f"{total[m]:.1f}" + (
        "" if m == "in-process" else f" ×{total[m] / total['in-process']:.2f}") for m in modes)])
    return lines + table(["exercise", *modes], rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--calls", type=int, default=2000, help="calls per case and mode")
    parser.add_argument("--exercises", default=",".join(EXERCISES),
                        help="graded submissions to time (comma-separated; '' for none)")
    parser.add_argument("--layers", default=None,
                        help="layers to measure (comma-separated; default all available here)")
    parser.add_argument("--out", type=Path,
                        default=ROOT / "benchmarks" / "results" / "isolation_cost.md")
    args = parser.parse_args()
    exercises = [e for e in args.exercises.split(",") if e]
    if set(exercises) - set(EXERCISES):
        parser.error(f"unknown exercise(s): {', '.join(sorted(set(exercises) - set(EXERCISES)))}")
    asked = [n for n in args.layers.split(",") if n] if args.layers else None
    if set(asked or ()) - set(confine.LAYERS):
        parser.error(f"--layers: choose from {', '.join(confine.LAYERS)}")
    layers, missing = layers_wanted(asked)
    auto = confine.select("auto")

    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="isolation-cost-") as tmp:
        folder = Path(tmp)
        (folder / "backprop.py").write_text(STUDENT, encoding="utf-8")
        (folder / "lenet.py").write_text("import torch\n", encoding="utf-8")
        remotes = {n: RemoteImplementation(folder, layer=layer) for n, layer in layers.items()}
        modules = {"in-process": Implementation(folder).exercise("backprop"),
                   **{name: impl.exercise("backprop") for name, impl in remotes.items()}}
        calls = per_call(modules, args.calls)
        for impl in remotes.values():
            impl.close()
        for label in calls["in-process"]:
            print(f"{label:<24}", "  ".join(f"{m} {c[label]['median']:.1f}/{c[label]['p99']:.1f} us"
                                            for m, c in calls.items()), flush=True)
        starts, isolation = start_up(folder, layers, args.repeat)
    for exercise, per in starts.items():
        print(f"start-up {exercise:<9}",
              "  ".join(f"{n} {s['median']:.2f} s" for n, s in per.items()), flush=True)
    subs = submissions(exercises, ["in-process", *layers], args.repeat)
    info = {"argv": sys.argv[1:], "date": datetime.date.today().isoformat(), "machine": machine(),
            "load_before": load_before, "load_after": os.getloadavg()[0], "missing": missing,
            "auto": auto.describe(), "isolation": isolation}

    lines = report(args, info, list(layers), calls, starts, subs)
    old = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
    kept = [old.index(mark) for mark in KEPT if mark in old]
    if kept:  # notes, and the figures kept for comparison
        lines += ["", old[min(kept):].rstrip()]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    data = {**info, "per_call_us": calls, "start_up_s": starts, "submission": subs}
    args.out.with_suffix(".json").write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    print(f"written to {args.out} and {args.out.with_suffix('.json')}")


if __name__ == "__main__":
    main()
