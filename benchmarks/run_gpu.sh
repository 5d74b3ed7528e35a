#!/usr/bin/env bash
# The GPU figures in one command (one H100/H200, ~8 minutes of device time):
#   benchmarks/run_gpu.sh [OUT_DIR]        (default: $OUT if set, else benchmarks/results)
# BUDGET=seconds caps the run (default 480); cases that no longer fit are skipped, and the
# JSON/markdown are rewritten after every case, so a cut-off run still reports what it did.
set -euo pipefail
cd "$(dirname "$0")/.."
out_dir="${1:-${OUT:-benchmarks/results}}"
mkdir -p "$out_dir"
# torch.compile's caches: a second run on the same machine skips most of the autotuning.
export TORCHINDUCTOR_CACHE_DIR="${TORCHINDUCTOR_CACHE_DIR:-$HOME/.cache/lossviz/inductor}"
mkdir -p "$TORCHINDUCTOR_CACHE_DIR"
echo "inductor cache: $TORCHINDUCTOR_CACHE_DIR ($(find "$TORCHINDUCTOR_CACHE_DIR" -type f | wc -l) files)"
# On a machine without the editable install, run from the source tree.
PY=${PYTHON:-python3}
"$PY" -c "import lossviz_core" 2>/dev/null || export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || true
"$PY" -c "import numpy, torchvision, PIL, sklearn, h5py, safetensors" || { echo "run_gpu.sh: missing packages: pip install numpy torchvision pillow scikit-learn h5py safetensors" >&2; exit 2; }
"$PY" -m benchmarks --suite gpu --budget "${BUDGET:-480}" \
    --out "$out_dir/$(date -u +%Y-%m-%d)-gpu.json" 2>&1 | tee "$out_dir/gpu-log.txt"
