#!/usr/bin/env bash
# Check a built LossViz bundle (takes a minute or two; not part of CI).
#
#   bash packaging/check_bundle.sh [BUNDLE_DIR]     # default: /tmp/lossviz-build/dist/LossViz
#
# 1. `LossViz --version` prints "LossViz <version of this checkout>" and exits 0;
# 2. `LossViz models` (the command line inside the bundle) lists the model zoo;
# 3. `LossViz --install-desktop-entry --prefix TMP` writes a launcher that passes
#    desktop-file-validate (when installed) and whose Exec is the bundle's executable, plus
#    the icons; --uninstall-desktop-entry removes them again;
# 4. under a fresh Xvfb (no window manager), packaging/check_bundle.py starts the bundle with
#    an empty HOME and checks that the main window appears with the app icon, that the demo
#    surface is drawn within 180 s, and that closing the window (WM_DELETE_WINDOW) ends the
#    app with exit code 0 and no traceback. Screenshot: $LOSSVIZ_CHECK_SHOT
#    (default /tmp/lossviz-bundle-check.png).
# Needs: xvfb-run (or a $DISPLAY), python3 with numpy (the build environment has it).
set -euo pipefail
cd "$(dirname "$0")/.."

BUNDLE=${1:-${LOSSVIZ_BUILD_DIR:-/tmp/lossviz-build}/dist/LossViz}
EXE="$BUNDLE/LossViz"
PY=${PYTHON:-python3}
SHOT=${LOSSVIZ_CHECK_SHOT:-/tmp/lossviz-bundle-check.png}
fail() { echo "check: FAIL: $*"; exit 1; }

[ -x "$EXE" ] || fail "no bundle at $EXE; build it with: bash packaging/build.sh"
# The bundle must carry this checkout's version (read from the source, not an installed copy).
version=$("$PY" -c "import re,sys; print(re.search(r'__version__ = \"(.+?)\"', open('lossviz_core/__init__.py').read()).group(1))")

got=$(cd /tmp && timeout 120 "$EXE" --version) || fail "LossViz --version exited with code $?"
[ "$got" = "LossViz $version" ] || fail "LossViz --version printed '$got', expected 'LossViz $version'"
echo "check: --version prints '$got'"

models=$(cd /tmp && timeout 300 "$EXE" models 2>&1) || fail "LossViz models failed: $models"
echo "check: the bundled command line lists $(printf '%s\n' "$models" | grep -c .) model zoo lines"

prefix=$(mktemp -d /tmp/lossviz-check-prefix.XXXXXX)
trap 'rm -rf "$prefix"' EXIT
(cd /tmp && timeout 120 "$EXE" --install-desktop-entry --prefix "$prefix" >/dev/null) \
  || fail "--install-desktop-entry failed"
desktop="$prefix/applications/lossviz.desktop"
[ -f "$desktop" ] || fail "no $desktop written"
if command -v desktop-file-validate >/dev/null 2>&1; then
  out=$(desktop-file-validate "$desktop" 2>&1) || fail "desktop-file-validate: $out"
  ! grep -qi "error" <<<"$out" || fail "desktop-file-validate: $out"
fi
exec_line=$(grep '^Exec=' "$desktop")
exe_abs=$(cd "$BUNDLE" && pwd -P)/LossViz
[ "$exec_line" = "Exec=$exe_abs" ] || [ "$exec_line" = "Exec=\"$exe_abs\"" ] \
  || fail "the launcher runs '$exec_line', not the bundle $exe_abs"
for size in 16 32 48 64 128 256 512; do
  [ -s "$prefix/icons/hicolor/${size}x${size}/apps/lossviz.png" ] || fail "no ${size}px icon installed"
done
[ -s "$prefix/icons/hicolor/scalable/apps/lossviz.svg" ] || fail "no scalable icon installed"
(cd /tmp && "$EXE" --uninstall-desktop-entry --prefix "$prefix" >/dev/null) || fail "--uninstall failed"
[ ! -e "$desktop" ] || fail "--uninstall-desktop-entry left $desktop"
echo "check: desktop entry installs (Exec=$exe_abs), validates and uninstalls"

if command -v xvfb-run >/dev/null 2>&1; then
  xvfb-run -a -s "-screen 0 1600x1000x24 +extension GLX" \
    "$PY" packaging/check_bundle.py --exe "$EXE" --timeout 180 --shot "$SHOT"
elif [ -n "${DISPLAY:-}" ]; then
  "$PY" packaging/check_bundle.py --exe "$EXE" --timeout 180 --shot "$SHOT"
else
  fail "neither xvfb-run nor a \$DISPLAY to start the window on"
fi
echo "check: PASS ($BUNDLE)"
