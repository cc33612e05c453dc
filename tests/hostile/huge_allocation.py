"""HOSTILE TEST INPUT: the reference solution, but affine_forward asks for 20 GB. Only under
an address-space limit of at most 8 GiB (as in the isolated worker), so that running it by
mistake on an unlimited machine does not exhaust its memory."""
# ---- BASE ----
import resource as _resource


def affine_forward(x, w, b):
    limit = _resource.getrlimit(_resource.RLIMIT_AS)[0]
    if limit == _resource.RLIM_INFINITY or limit > 8 * 2 ** 30:
        raise MemoryError("not attempted without an address-space limit")
    junk = np.ones(20 * 10 ** 9 // 8)  # noqa: F821 - np comes from the solution
    return junk, None
