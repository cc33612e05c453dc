#!/usr/bin/env bash
# Creates .venv (if missing) and installs the kit with its pinned set-up.
# Sourced by scripts/demo.sh and scripts/test.sh; safe to run again.
# $PYTHON chooses the interpreter of the venv (default: python3 on the PATH).
# As root on Debian/Ubuntu it also installs bubblewrap, the sandbox of the graders
# (autograder.sandbox.confine); a normal user asks an administrator for it (README).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
if ! command -v bwrap >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap) \
        >/dev/null 2>&1 || echo "setup: could not install bubblewrap; the graders fall back to Landlock" >&2
fi
if [ ! -x .venv/bin/python ]; then
    "${PYTHON:-python3}" -m venv .venv
fi
stamp=.venv/.installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ constraints.txt -nt "$stamp" ]; then
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet -c constraints.txt -e ".[dev]"
    touch "$stamp"
fi
