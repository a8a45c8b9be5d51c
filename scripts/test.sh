#!/usr/bin/env bash
# Install povsim into .venv (first time only takes a while) and run the test suite.
# Extra arguments go to pytest (e.g. `-m slow` for the slow tests, `-k dibao`).
source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"
set +e
.venv/bin/python -m pytest -q "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
    echo "pytest collected no tests"
    exit 0
fi
exit "$rc"
