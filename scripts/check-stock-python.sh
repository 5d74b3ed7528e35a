#!/usr/bin/env bash
# The README's first command on a stock system Python (Debian 12 / Ubuntu 24.04: python3 is
# externally managed, PEP 668), in a fresh clone of this checkout: it must make .venv there,
# leave the system's site-packages as they were, and start (`--version`). Skipped, with a
# line saying so, where the system Python is not externally managed.
set -euo pipefail
cd "$(dirname "$0")/.."
SYS=${STOCK_PYTHON:-/usr/bin/python3}
marker=$("$SYS" -c 'import sysconfig, os; p = os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED"); print(p if os.path.exists(p) else "")' 2>/dev/null || true)
if [ -z "$marker" ]; then
  echo "check-stock-python: $SYS is not an externally managed Python; nothing to check here"
  exit 0
fi
site=$("$SYS" -c 'import site; print(" ".join(site.getsitepackages()))')
before=$( (ls -1 $site 2>/dev/null || true) | sort | md5sum)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
git clone -q "$(pwd)" "$tmp/lossviz"
out=$(cd "$tmp/lossviz" && PYTHON="$SYS" bash scripts/run-app.sh --version 2>&1) || {
  echo "check-stock-python: the app command failed with $SYS:" >&2; echo "$out" >&2; exit 1; }
echo "$out" | tail -3
[ -x "$tmp/lossviz/.venv/bin/python" ] || { echo "check-stock-python: no .venv was made" >&2; exit 1; }
echo "$out" | grep -q "^LossViz " || { echo "check-stock-python: --version printed no version" >&2; exit 1; }
after=$( (ls -1 $site 2>/dev/null || true) | sort | md5sum)
[ "$before" = "$after" ] || { echo "check-stock-python: the system's site-packages changed" >&2; exit 1; }
echo "check-stock-python: OK ($SYS, externally managed: $marker)"
