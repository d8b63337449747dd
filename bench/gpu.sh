#!/usr/bin/env bash
# The benchmarks on CUDA: snndsl's kernels against SpikingJelly 2.0.0's automatic
# CUDA/Triton kernels, same weights, one process per benchmark. Installs nothing; needs
# the project's environment (torch with CUDA, spikingjelly 2.0.0, snndsl installed or
# importable from the checkout). Finishes within 10 minutes on one GPU: every step has
# a time limit, and a step that fails or times out is reported and the rest still run.
#
#   bash bench/gpu.sh            # PYTHON=/path/to/python bash bench/gpu.sh
#   QUICK=1 bash bench/gpu.sh    # tiny sizes, a smoke test of the script itself
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python}"
EXTRA=()
if [[ "${QUICK:-0}" == "1" ]]; then EXTRA+=(--quick); fi
export PYTHONUNBUFFERED=1

"$PY" - <<'PYEOF'
import torch
assert torch.cuda.is_available(), "bench/gpu.sh needs a CUDA device"
print("# gpu:", torch.cuda.get_device_name(0), "torch", torch.__version__, "CUDA", torch.version.cuda)
try:
    import triton
    print("# triton", triton.__version__)
except ImportError:
    print("# triton missing: both libraries fall back to their non-Triton paths")
PYEOF

failed=()
step() {  # step SECONDS NAME COMMAND...: run with a time limit, keep going on failure
  local limit=$1 name=$2; shift 2
  echo "## $name (limit ${limit}s)"
  local rc=0
  timeout --kill-after=10 "$limit" "$@" || rc=$?
  if [[ $rc -ne 0 ]]; then
    echo "## $name FAILED (exit $rc; 124 or 137 means it ran out of time)"
    failed+=("$name")
  fi
}

# csnn last prints the opt-in torch.compile figures: compilation takes a minute or more
step 120 resnet "$PY" bench/resnet.py --device cuda --repeats 10 --warmup 3 ${EXTRA[@]+"${EXTRA[@]}"}
step 60  static "$PY" bench/static.py --device cuda --repeats 20 --warmup 5 ${EXTRA[@]+"${EXTRA[@]}"}
step 90  memory "$PY" bench/memory.py --device cuda ${EXTRA[@]+"${EXTRA[@]}"}
step 240 csnn   "$PY" bench/csnn.py   --device cuda --repeats 20 --warmup 5 --torch-compile ${EXTRA[@]+"${EXTRA[@]}"}

if [[ ${#failed[@]} -gt 0 ]]; then
  echo "## failed: ${failed[*]}"
  exit 1
fi
echo "## all GPU benchmarks ran"
