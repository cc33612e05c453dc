#!/usr/bin/env bash
# The security tests as an ordinary user, the way most instructors grade: a dedicated
# user, a copy of this checkout it can read (the checkout itself may sit in a folder other
# users cannot traverse), the kit set up by scripts/setup.sh with Debian's python3.
# Run as root (it creates the user); .ci/run calls it. Extra arguments go to pytest.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
user="${DLKIT_TEST_USER:-dlkit-ci}"
python="${DLKIT_TEST_PYTHON:-/usr/bin/python3}"
if [ "$(id -u)" != 0 ]; then
    echo "unprivileged.sh: run as root (it creates the user $user)" >&2
    exit 2
fi
id -u "$user" >/dev/null 2>&1 || useradd --create-home --shell /bin/bash "$user"
home="$(getent passwd "$user" | cut -d: -f6)"
copy="$home/kit"
mkdir -p "$copy"
# The checkout's files (tracked and new, not ignored), over the copy: the user's venv stays.
git -C "$here" ls-files -z -co --exclude-standard \
    | tar -C "$here" --null -T - -cf - | tar -C "$copy" -xf -
chown -R "$user:" "$copy"
as_user() { runuser -u "$user" -- env -i HOME="$home" PATH=/usr/local/bin:/usr/bin:/bin \
    LANG=C.UTF-8 CI="${CI:-}" "$@"; }
as_user env PYTHON="$python" bash "$copy/scripts/setup.sh"
cd "$copy"
as_user .venv/bin/python -m pytest -p no:cacheprovider -q \
    tests/test_sandbox_selfrestrict.py tests/test_sandbox_hostile.py tests/test_sandbox_attacks.py \
    tests/test_sandbox_confine.py "$@"
