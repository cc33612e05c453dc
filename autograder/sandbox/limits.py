"""The limits of an isolated worker, with their defaults.

Measured here (VmPeak, the address space RLIMIT_AS limits): a numpy worker 0.1-0.15 GiB,
a torch worker 0.6 GiB after ``import torch``, 0.7 GiB
after LeNet's 15 epochs on the digits, 1.1 GiB holding MNIST-sized data (60,000 training
images sent to it) while evaluating. 4 GiB leaves headroom for any correct submission and
stops a runaway allocation (a 20 GB array fails at once with MemoryError) long before it
can hurt the machine.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

GiB = 1024 ** 3
MiB = 1024 ** 2
KiB = 1024

# Unprivileged uids of the workers when grading runs as root: one per worker, so that
# RLIMIT_NPROC (counted per user) bounds each worker on its own, and no worker can signal
# or trace another. Far above any uid a real account uses.
WORKER_UID_BASE = 1_500_000_000


@dataclass(frozen=True)
class SandboxLimits:
    """What one worker may use. Times in seconds, sizes in bytes."""

    memory: int = 4 * GiB  # RLIMIT_AS of the worker
    processes: int = 64  # RLIMIT_NPROC (threads count too): effective under its own uid
    file_size: int = 16 * MiB  # RLIMIT_FSIZE: the largest file the worker may write
    open_files: int = 256  # RLIMIT_NOFILE
    tmp_size: int = 64 * MiB  # size of the worker's private /tmp (a tmpfs, as root)
    output: int = 64 * KiB  # stdout/stderr kept per worker; the rest is dropped
    call_timeout: float = 300.0  # one call (LeNet's fit on the digits takes ~10-20 s)
    submission_timeout: float = 1800.0  # all calls of one submission (a pytest session)
    start_timeout: float = 120.0  # start-up, including ``import torch`` on a busy machine
    uid: int | None = None  # worker uid when running as root (None: WORKER_UID_BASE + pid)

    def to_dict(self) -> dict:
        return asdict(self)


def human_size(size: int) -> str:
    """4294967296 -> '4 GiB'."""
    for unit, factor in (("GiB", GiB), ("MiB", MiB), ("KiB", KiB)):
        if size >= factor:
            value = size / factor
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{size} bytes"


def human_seconds(seconds: float) -> str:
    return f"{seconds:g} s"
