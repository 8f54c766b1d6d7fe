#!/usr/bin/env bash
# Every GPU check in one go, under 8 minutes by construction: each step has its own
# timeout and the timeouts add up to 450 s (plus a few seconds between steps).
#
#   bash benchmarks/gpu.sh                 # on a CUDA machine, from the repository root
#   GPU_SH_DEVICE=cpu bash benchmarks/gpu.sh --quick   # the same steps on a CPU, small
#
# Steps (timeout): 1. the device (30 s); 2. the CUDA tests, pytest -m gpu (100 s);
# 3. benchmarks/train.py --device cuda: samples/s, FLOP/s and the share of the GPU's peak
# (90 s); 4. a Table 1 + bands grid at paper scale, several runs sharing the GPU, and the
# whole paper grid projected (230 s). A step that times out is reported and the next runs.
# Output: each step's log under $GPU_SH_OUT (default: ./gpu-sh-out), and a summary.
set -u
PY=${PYTHON:-python}
DEVICE=${GPU_SH_DEVICE:-cuda}
OUT=${GPU_SH_OUT:-gpu-sh-out}
QUICK=""
[ "${1:-}" = "--quick" ] && QUICK="--quick"
mkdir -p "$OUT"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONWARNINGS=ignore
START=$(date +%s)
SUMMARY="$OUT/summary.txt"
: >"$SUMMARY"

step() {  # step NAME TIMEOUT_S COMMAND...
  local name=$1 limit=$2
  shift 2
  local t0 rc
  t0=$(date +%s)
  echo "== $name (timeout ${limit} s): $*" | tee -a "$SUMMARY"
  timeout --kill-after=5 "$limit" "$@" >"$OUT/$name.log" 2>&1
  rc=$?
  tail -n 25 "$OUT/$name.log"
  if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
    echo "   $name: TIMED OUT after ${limit} s" | tee -a "$SUMMARY"
  else
    echo "   $name: exit $rc in $(($(date +%s) - t0)) s" | tee -a "$SUMMARY"
  fi
  grep -h "^RESULT\|of peak\|projection" "$OUT/$name.log" >>"$SUMMARY" || true
}

step device 30 "$PY" -c "import torch; print(torch.__version__, torch.version.cuda, \
torch.cuda.is_available() and torch.cuda.get_device_name(0))"
if [ "$DEVICE" = "cuda" ]; then
  step cuda-tests 100 "$PY" -m pytest -q -x -n 0 -m gpu tests
else
  step cuda-tests 100 "$PY" -m pytest -q -x -n 0 -m gpu tests --co  # collected, not run
fi
if [ -n "$QUICK" ]; then
  step train 90 "$PY" benchmarks/train.py --device "$DEVICE" --no-cube --steps 1
else
  step train 90 "$PY" benchmarks/train.py --device "$DEVICE" --no-cube --steps 50
fi
step grid 230 "$PY" benchmarks/gpu_grid.py --device "$DEVICE" $QUICK

echo "== all steps in $(($(date +%s) - START)) s (budget 480 s); summary in $SUMMARY"
cat "$SUMMARY"
