#!/usr/bin/env bash
# Set up (a .venv in the checkout, with the test tools), then run the whole LossViz test
# suite (engine + GUI). Starts Xvfb when there is no display, since the GUI tests open real
# OpenGL windows. Extra arguments go to pytest (e.g. -m fast for the quick engine subset).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
VENV=${LOSSVIZ_VENV:-.venv}
PY=$VENV/bin/python
export QT_API=pyside6
export PATH="$(cd "$VENV" && pwd)/bin:$PATH"
if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
  exec xvfb-run -a -s "-screen 0 1920x1080x24 +extension GLX" "$PY" -m pytest -q "$@"
fi
exec "$PY" -m pytest -q "$@"
