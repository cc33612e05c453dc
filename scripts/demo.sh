#!/usr/bin/env bash
# The main job, from a fresh machine: set-up, then grade the reference solutions
# (full marks) and the untouched student stubs (zero, one message per test),
# printing both score tables.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
.venv/bin/autograder stubs --check
echo; echo "=== Grading the reference solutions: python -m pytest graders --impl solutions ==="
.venv/bin/python -m pytest graders --impl solutions -q -p no:cacheprovider
echo; echo "=== Grading the student stubs in exercises/: python -m pytest graders ==="
status=0
.venv/bin/python -m pytest graders -q -p no:cacheprovider || status=$?
if [ "$status" -ne 1 ]; then  # 1 = tests failed, as they must on untouched stubs
    echo "unexpected exit status $status grading the stubs" >&2
    exit 1
fi
echo; echo "Demo finished: the reference gets full marks, the stubs get zero."
