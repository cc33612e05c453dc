"""Run a student's code in a separate, confined worker process (``pytest graders --isolate``).

The graders, their assertions and the score stay in the trusted pytest process; the
student's file is loaded and run only in an untrusted worker, one per exercise of the
submission. The ``impl`` fixture then hands the graders a
:class:`~autograder.sandbox.remote.RemoteImplementation`, whose exercises follow the same
rules as in-process (:mod:`autograder.grading.values`): data in, data out, opaque refs for
the rest, trusted probes (:mod:`autograder.probes`) next to the student's code.

Modules:

- :mod:`autograder.sandbox.confine`: the confinement layer (bubblewrap, else Landlock +
  seccomp, else none and a refusal to grade other people's code), probed once, and
  bubblewrap's argument list;
- :mod:`autograder.sandbox.selfrestrict`: the Landlock + seccomp layer, applied by the
  worker to itself;
- :mod:`autograder.sandbox.worker`: the worker process's set-up (unprivileged uid as root,
  resource limits, import guards, capped output);
- :mod:`autograder.sandbox.runtime`: the worker's request loop (calls, probes, refs,
  exceptions and warnings as data);
- :mod:`autograder.sandbox.protocol`: messages over ``multiprocessing.connection``, the
  value encoding, per-call in-place changes, strict decoding;
- :mod:`autograder.sandbox.client`: one worker seen from the grading side (start, watchdog,
  requests);
- :mod:`autograder.sandbox.errors`: the sandbox's errors for the student, and the student's
  exceptions and warnings rebuilt from data;
- :mod:`autograder.sandbox.npy`: strict ``.npy`` encoding and decoding;
- :mod:`autograder.sandbox.remote`: the implementation and exercise proxies, staging;
- :mod:`autograder.sandbox.limits`: the limits and their defaults.

This package's ``__init__`` stays light on purpose: the worker's launcher imports it
before it forks, and must not load numpy or torch there.
"""

from __future__ import annotations

__all__ = ["RemoteImplementation", "SandboxError", "SandboxLimits", "StudentError"]


def __getattr__(name: str):
    if name in ("SandboxError", "StudentError"):
        from autograder.sandbox import errors

        return getattr(errors, name)
    if name == "RemoteImplementation":
        from autograder.sandbox.remote import RemoteImplementation

        return RemoteImplementation
    if name == "SandboxLimits":
        from autograder.sandbox.limits import SandboxLimits

        return SandboxLimits
    raise AttributeError(name)
