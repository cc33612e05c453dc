"""What isolation costs: per remote call, per worker start-up, per graded submission.

    .venv/bin/python benchmarks/isolation_cost.py [--repeat 3] [--calls 2000]
                                                  [--out benchmarks/results/isolation_cost.md]

- *Per call*: a student function called through the isolated worker
  (``autograder.sandbox``) against the same call in-process: ``affine_forward`` on small
  arrays (x (4, 5), w (5, 3), b (3,): arguments mirrored, a tuple of an array and a cache
  back), a call with no argument, and a callback round trip (the worker calling a grader's
  ``f`` back, as gradcheck does).
- *Start-up*: a new worker up to "ready" with its module loaded, for a numpy exercise and
  for LeNet (which imports torch).
- *Per submission*: ``python -m pytest graders/test_<ex>.py --impl solutions`` with and
  without ``--isolate`` (a fresh process each time, start-up included), per exercise.

The machine and its load are described in the results file.
"""

from __future__ import annotations

import argparse
import datetime
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

from autograder.grading.loader import Implementation  # noqa: E402
from autograder.sandbox.client import RemoteImplementation  # noqa: E402

STUDENT = textwrap.dedent("""
    import numpy as np

    def affine_forward(x, w, b):
        return x @ w + b, (x, w, b)

    def nothing():
        return None

    def call_back(f, x):
        return f(x)
""")


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import torch

    return (f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}, numpy {np.__version__}, torch {torch.__version__}; "
            f"grading as {'root' if os.geteuid() == 0 else 'an unprivileged user'}")


def per_call(module, calls: int) -> dict[str, float]:
    """Microseconds per call (median of 5 batches)."""
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((4, 5)), rng.standard_normal((5, 3)), rng.standard_normal(3)
    cases = {
        "affine_forward(x, w, b)": lambda: module.affine_forward(x, w, b),
        "nothing()": lambda: module.nothing(),
        "callback round trip": lambda: module.call_back(lambda z: float(z.sum()), x),
    }
    out = {}
    for label, fn in cases.items():
        fn()  # warm-up (worker start, module load)
        batches = []
        for _ in range(5):
            start = time.perf_counter()
            for _ in range(calls // 5):
                fn()
            batches.append((time.perf_counter() - start) / (calls // 5) * 1e6)
        out[label] = statistics.median(batches)
    return out


def start_up(exercise: str, folder: Path, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        impl = RemoteImplementation(folder)
        start = time.perf_counter()
        impl.exercise(exercise).worker()
        times.append(time.perf_counter() - start)
        impl.close()
    return statistics.median(times)


def grader_run(exercise: str, isolate: bool) -> float:
    command = [sys.executable, "-m", "pytest", f"graders/test_{exercise}.py", "--impl", "solutions",
               "-q", "-p", "no:cacheprovider"] + (["--isolate"] if isolate else [])
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stdout[-2000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "isolation_cost.md")
    args = parser.parse_args()

    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="isolation-cost-") as tmp:
        folder = Path(tmp)
        (folder / "backprop.py").write_text(STUDENT, encoding="utf-8")
        (folder / "lenet.py").write_text("import torch\n", encoding="utf-8")
        local = per_call(Implementation(folder).exercise("backprop"), args.calls)
        remote_impl = RemoteImplementation(folder)
        remote = per_call(remote_impl.exercise("backprop"), args.calls)
        isolation = remote_impl.isolation
        remote_impl.close()
        starts = {"numpy exercise (backprop)": start_up("backprop", folder, args.repeat),
                  "LeNet (imports torch)": start_up("lenet", folder, args.repeat)}
    for label in local:
        print(f"{label:<26} in-process {local[label]:8.1f} us   isolated {remote[label]:8.1f} us")
    for label, seconds in starts.items():
        print(f"start-up {label:<26} {seconds:.2f} s")

    rows = []
    for exercise in EXERCISES:
        plain = statistics.median(grader_run(exercise, False) for _ in range(args.repeat))
        isolated = statistics.median(grader_run(exercise, True) for _ in range(args.repeat))
        rows.append((exercise, plain, isolated))
        print(f"{exercise:<12} in-process {plain:6.1f} s   isolated {isolated:6.1f} s")
    load_after = os.getloadavg()[0]

    lines = [
        "# The cost of isolation (`pytest graders --isolate`)",
        "",
        f"Generated by `benchmarks/isolation_cost.py --repeat {args.repeat} --calls {args.calls}` "
        f"on {datetime.date.today().isoformat()}.",
        "",
        f"Machine: {machine()}. Load average (1 min) {load_before:.1f} before and "
        f"{load_after:.1f} after the run (the cores are shared with other work: timings are "
        "medians, and the isolated/in-process ratio matters more than the absolute numbers).",
        "",
        "Worker confinement on this machine: "
        + ", ".join(f"{key}: {value}" for key, value in isolation.items()
                    if key in ("filesystem", "network", "processes")) + ".",
        "",
        "## One call (microseconds, median)",
        "",
        "| call | in-process | isolated | overhead |",
        "|---|---|---|---|",
    ]
    for label in local:
        lines.append(f"| `{label}` | {local[label]:.1f} | {remote[label]:.1f} | "
                     f"+{remote[label] - local[label]:.0f} |")
    lines += ["", "## Worker start-up (seconds, median; up to \"ready\" with the module loaded)", "",
              "| worker | start-up |", "|---|---|"]
    lines += [f"| {label} | {seconds:.2f} |" for label, seconds in starts.items()]
    lines += ["", "## One graded submission (seconds, median; a fresh `python -m pytest` process "
              "on the reference solution, start-up included)", "",
              "| exercise | in-process | isolated | ratio |", "|---|---|---|---|"]
    for exercise, plain, isolated in rows:
        lines.append(f"| {exercise} | {plain:.1f} | {isolated:.1f} | {isolated / plain:.2f} |")
    total_plain, total_isolated = sum(r[1] for r in rows), sum(r[2] for r in rows)
    lines.append(f"| all five (sum) | {total_plain:.1f} | {total_isolated:.1f} | "
                 f"{total_isolated / total_plain:.2f} |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
