#!/usr/bin/env bash
# Set up (a .venv in the checkout), then start the LossViz window on the bundled demo.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh app
exec "${LOSSVIZ_VENV:-.venv}/bin/python" -m lossviz "$@"
