#!/usr/bin/env bash
# Install povsim into .venv and run the baseline scenario end to end: prints the target table
# and writes results/baseline.nc. Extra arguments go to `povsim run` (e.g. `--scale 1`).
source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"
mkdir -p results
exec .venv/bin/povsim run scenarios/baseline.yaml --output results/baseline.nc \
    --figure results/baseline.png "$@"
