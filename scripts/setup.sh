#!/usr/bin/env bash
# Set up LossViz on this machine: system libraries for Qt/OpenGL (when root), then the
# Python package and its test tools. Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
SYSTEM_PACKAGES=(xvfb xauth libgl1-mesa-dri libegl1 libxkbcommon-x11-0 libxcb-cursor0
  libxcb-icccm4 libxcb-keysyms1 libxcb-shape0 libxcb-xinerama0 libxcb-randr0
  libxcb-render-util0 libxcb-image0 libfontconfig1 libdbus-1-3 desktop-file-utils
  librsvg2-bin poppler-utils)  # rsvg-convert, pdftoppm: tests render exported SVG/PDF

if command -v apt-get >/dev/null 2>&1 && command -v dpkg-query >/dev/null 2>&1; then
  missing=()
  for p in "${SYSTEM_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
      echo "setup: installing system packages: ${missing[*]}"
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    else
      echo "setup: missing system packages (install them with sudo apt-get install): ${missing[*]}" >&2
    fi
  fi
fi

# (Re)install when anything is missing or the installed LossViz is another checkout's.
here=$(pwd -P)
installed=$("$PY" - <<'PYEOF' 2>/dev/null || true
import os, lossviz, lossviz_core, lossviz_resources, pytest, pytestqt, pyqtgraph, OpenGL, h5py, sklearn, timm, ray, pypdf, trimesh
import PySide6
assert not PySide6.__version__.startswith("6.12."), "PySide6 6.12 aborts Python 3.11"
print(os.path.dirname(os.path.dirname(os.path.realpath(lossviz.__file__))))
PYEOF
)
if [ "$installed" != "$here" ]; then
  echo "setup: installing lossviz (editable) with its test tools"
  "$PY" -m pip install -q --disable-pip-version-check --root-user-action=ignore -e ".[test]"
fi
