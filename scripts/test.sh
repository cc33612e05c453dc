#!/usr/bin/env bash
# The whole test suite, from a fresh machine: set-up (scripts/setup.sh) then pytest.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -k stubs`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
exec .venv/bin/python -m pytest tests "$@"
