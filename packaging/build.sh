#!/usr/bin/env bash
# Build the double-clickable one-folder LossViz application with PyInstaller.
#
#   bash packaging/build.sh [extra PyInstaller options, e.g. --clean]
#
# Output: $LOSSVIZ_BUILD_DIR/dist/LossViz/LossViz (default LOSSVIZ_BUILD_DIR=/tmp/lossviz-build,
# outside the repository); the work folder is $LOSSVIZ_BUILD_DIR/work.
# Needs the project's dependencies (bash scripts/setup.sh) and PyInstaller, which it installs
# when missing (the pyproject extra: pip install -e ".[package]").
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
OUT=${LOSSVIZ_BUILD_DIR:-/tmp/lossviz-build}

if ! "$PY" -c "import lossviz_core, torch, PySide6, pyqtgraph" >/dev/null 2>&1; then
  echo "build: LossViz's dependencies are missing; run: bash scripts/setup.sh" >&2
  exit 1
fi
if ! "$PY" -c "import PyInstaller" >/dev/null 2>&1; then
  echo "build: installing PyInstaller"
  "$PY" -m pip install -q --disable-pip-version-check "pyinstaller>=6.0"
fi

start=$(date +%s)
"$PY" -m PyInstaller --noconfirm --log-level "${PYI_LOG_LEVEL:-WARN}" \
  --distpath "$OUT/dist" --workpath "$OUT/work" "$@" packaging/lossviz.spec
seconds=$(( $(date +%s) - start ))

bundle="$OUT/dist/LossViz"
echo "build: $bundle built in $((seconds / 60)) min $((seconds % 60)) s," \
  "$(du -sh "$bundle" | cut -f1) on disk, $(find "$bundle" -type f | wc -l) files"
echo "build: check it with: bash packaging/check_bundle.sh $bundle"
