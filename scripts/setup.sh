#!/usr/bin/env bash
# Set up LossViz in a virtual environment inside the checkout (.venv), never in the
# system's site-packages (a stock Debian/Ubuntu Python is externally managed, PEP 668).
#   bash scripts/setup.sh app    the window and the command line
#   bash scripts/setup.sh test   the same, plus the test tools and optional extras (Ray, timm, transformers)
# Safe to run again: it installs only what is missing and reuses .venv.
# Prints nothing on stdout but progress; the venv's python is .venv/bin/python.
set -euo pipefail
cd "$(dirname "$0")/.."

what=${1:-app}
case "$what" in app|test) ;; *) echo "setup: unknown target '$what' (app or test)" >&2; exit 2 ;; esac

PY=${PYTHON:-python3}
VENV=${LOSSVIZ_VENV:-.venv}

# System libraries the Qt/OpenGL window needs (and, for tests, Xvfb and the renderers that
# read exported SVG/PDF back). Installed only as root; otherwise one line says what to install.
APP_PACKAGES=(libgl1-mesa-dri libegl1 libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4
  libxcb-keysyms1 libxcb-shape0 libxcb-xinerama0 libxcb-randr0 libxcb-render-util0
  libxcb-image0 libfontconfig1 libdbus-1-3)
TEST_PACKAGES=(xvfb xauth desktop-file-utils librsvg2-bin poppler-utils)

is_root() { [ "$(id -u)" = 0 ]; }
have_deb() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "ok installed"; }
apt_install() {  # apt_install PKG...: install the Debian packages, or say how
  if is_root; then
    echo "setup: installing system packages: $*"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  else
    echo "setup: missing system packages; install them with: sudo apt-get install $*" >&2
  fi
}

if command -v apt-get >/dev/null 2>&1 && command -v dpkg-query >/dev/null 2>&1; then
  wanted=("${APP_PACKAGES[@]}")
  [ "$what" = test ] && wanted+=("${TEST_PACKAGES[@]}")
  missing=()
  for p in "${wanted[@]}"; do have_deb "$p" || missing+=("$p"); done
  [ ${#missing[@]} -gt 0 ] && apt_install "${missing[@]}"
fi

if ! command -v "$PY" >/dev/null 2>&1; then
  echo "setup: no '$PY' found: install Python 3.10 or newer (sudo apt-get install python3 python3-venv)" >&2
  exit 1
fi
"$PY" - <<'PYEOF' || { echo "setup: LossViz needs Python 3.10 or newer; '$PY' is older" >&2; exit 1; }
import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)
PYEOF

# The virtual environment: made once, reused. Debian splits venv/ensurepip into python3-venv.
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import sys" >/dev/null 2>&1; then
  rm -rf "$VENV"
  if ! "$PY" -m venv "$VENV" >/dev/null 2>&1; then
    rm -rf "$VENV"
    pyver=$("$PY" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
    if command -v apt-get >/dev/null 2>&1 && is_root; then
      apt_install "python${pyver}-venv"
      "$PY" -m venv "$VENV" >/dev/null || { echo "setup: could not make a virtual environment with $PY" >&2; exit 1; }
    else
      echo "setup: '$PY -m venv' is not available: install it (sudo apt-get install python${pyver}-venv) and run this again" >&2
      exit 1
    fi
  fi
  echo "setup: made a virtual environment in $VENV"
fi
VPY="$VENV/bin/python"

# (Re)install when anything is missing or the installed LossViz is another checkout's.
here=$(pwd -P)
check_app='import os, lossviz, lossviz_core, lossviz_resources, pyqtgraph, OpenGL, h5py, sklearn, torch, torchvision
import PySide6
assert not PySide6.__version__.startswith("6.12."), "PySide6 6.12 aborts Python 3.11"
print(os.path.dirname(os.path.dirname(os.path.realpath(lossviz.__file__))))'
check_test="$check_app
import pytest, pytestqt, timm, ray, pypdf, trimesh, importlinter, transformers, tokenizers, datasets, imageio, imageio_ffmpeg"
if [ "$what" = test ]; then check=$check_test; extras="[test]"; else check=$check_app; extras=""; fi
installed=$("$VPY" -c "$check" 2>/dev/null || true)
if [ "$installed" != "$here" ]; then
  echo "setup: installing lossviz${extras} (editable) into $VENV"
  "$VPY" -m pip install -q --disable-pip-version-check -e ".${extras}"
fi
