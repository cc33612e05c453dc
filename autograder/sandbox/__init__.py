"""Run a student's code in a separate, limited worker process (``pytest graders --isolate``).

The graders, their assertions and the score stay in the trusted pytest process; the
student's file is loaded and run only in an untrusted worker, one per exercise of the
submission. The ``impl`` fixture then hands the graders a :class:`RemoteImplementation`,
whose exercise proxies look like :class:`autograder.grading.loader.ExerciseModule`:
attributes are the student module's, calls run in the worker, and what comes back is
data (JSON plus ``.npy`` blobs, never pickle) or an opaque handle.

Modules:

- :mod:`autograder.sandbox.protocol`: frames on dedicated pipes, the value encoding,
  mirrored arrays and dicts, strict decoding;
- :mod:`autograder.sandbox.confine`: the confinement layer (bubblewrap, else Landlock +
  seccomp, else none and a refusal to grade other people's code), probed once, and
  bubblewrap's argument list;
- :mod:`autograder.sandbox.selfrestrict`: the Landlock + seccomp layer, applied by the
  worker to itself;
- :mod:`autograder.sandbox.worker`: the worker process (unprivileged uid as root, resource
  limits, import guards) and its request loop;
- :mod:`autograder.sandbox.client`: the grading side: spawning, time limits, replacing a
  dead worker, re-raising the student's exceptions;
- :mod:`autograder.sandbox.limits`: the limits and their defaults;
- :mod:`autograder.sandbox.lenet_helpers`: trusted torch helpers (spy models, loaders)
  that run next to the student's LeNet code, in the worker or in-process.

This package's ``__init__`` stays light on purpose: the worker's launcher imports it
before it forks, and must not load numpy or torch there.
"""

from __future__ import annotations

__all__ = ["RemoteImplementation", "SandboxError", "SandboxLimits", "StudentError"]


def __getattr__(name: str):
    if name in ("SandboxError", "StudentError"):
        from autograder.sandbox import client

        return getattr(client, name)
    if name == "RemoteImplementation":
        from autograder.sandbox.remote import RemoteImplementation

        return RemoteImplementation
    if name == "SandboxLimits":
        from autograder.sandbox.limits import SandboxLimits

        return SandboxLimits
    raise AttributeError(name)
