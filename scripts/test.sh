#!/usr/bin/env bash
# Install povsim into .venv (first time only takes a while) and run the test suite.
# Extra arguments go to pytest (e.g. `-m slow` for the slow tests, `-k dibao`).
source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"
# The report's and the explorer's browser tests drive the system's Chromium (Debian packages
# chromium and chromium-driver). Install them where we can (as root, with apt-get); elsewhere the
# tests skip and say why, except under CI (CI=true), where a missing browser fails them.
if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing chromium and chromium-driver for the browser test"
        if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
                chromium chromium-driver >/dev/null; }; then
            echo "warning: could not install chromium (the browser test will say so)" >&2
        fi
    elif [ "${CI:-}" = "true" ]; then
        echo "warning: CI=true but not root: cannot install chromium" >&2
    fi
fi
set +e
# The tests run in parallel on every core (pytest-xdist); POVSIM_TEST_WORKERS=0 runs them in
# this process (e.g. to use a debugger), and a later `-n N` among the arguments wins.
.venv/bin/python -m pytest -q -n "${POVSIM_TEST_WORKERS:-auto}" "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
    echo "pytest collected no tests"
    exit 0
fi
exit "$rc"
