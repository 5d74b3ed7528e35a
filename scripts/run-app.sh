#!/usr/bin/env bash
# Set up, then start the LossViz window on the bundled demo.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec "${PYTHON:-python3}" -m lossviz "$@"
