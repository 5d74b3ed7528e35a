#!/usr/bin/env bash
# Set up, then run the whole LossViz test suite (engine + GUI). Starts Xvfb when there is
# no display, since the GUI tests open real OpenGL windows.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
PY=${PYTHON:-python3}
export QT_API=pyside6
if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
  exec xvfb-run -a -s "-screen 0 1920x1080x24 +extension GLX" "$PY" -m pytest -q "$@"
fi
exec "$PY" -m pytest -q "$@"
