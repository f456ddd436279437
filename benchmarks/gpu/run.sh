#!/usr/bin/env bash
# mirjax on one GPU, in one prepared run: checks that JAX sees the GPU, runs the tests that matter
# there (numerics against the NumPy references, vmapped folds equal to each fold alone, resume
# after a kill), trains configs/quick.py on the real data (its AUC against the CPU reference in
# benchmarks/gpu/cpu_reference.json), runs the throughput benchmark (benchmarks/gpu/throughput.py),
# then the paper protocol end to end with whatever time is left, and writes gpu.json and gpu.md.
#
#   OUT=DIR MIRJAX_DATA_DIR=DATA benchmarks/gpu/run.sh           # on the GPU machine
#   OUT=DIR benchmarks/gpu/run.sh --smoke                        # on a CPU (CI): tiny sizes
#
# Environment: OUT (required), MIRJAX_DATA_DIR (the real data; without it quick.py is skipped),
# PYTHON (default python3), GPU_BUDGET_S (wall seconds for the whole script, default 420: the
# paper run gets what is left, and is recorded as stopped if it does not finish), GPU_STEPS (which
# steps, default "device tests quick throughput paper"; "whole" times configs/whole.py end to end with
# benchmarks.whole_table, its peak device memory included: run it as its own call, GPU_STEPS="device
# whole", since it takes minutes of host work besides the GPU's; WHOLE_WORKERS, default 8, splits
# evaluated at once there).
# On an H200 the steps before the paper took 409 s and the paper 191 s (benchmarks/results/gpu.md):
# more than one 10-minute device call, so run GPU_STEPS=paper as a second call.
# Every step runs even if an earlier one failed; the exit code is the first failure's.
set -uo pipefail
cd "$(dirname "$0")/../.."
smoke=0
[[ "${1:-}" == "--smoke" ]] && smoke=1
: "${OUT:?set OUT to the folder for the results}"
py=${PYTHON:-python3}
budget=${GPU_BUDGET_S:-420}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$OUT"
: > "$OUT/steps.tsv"
: > "$OUT/log.txt"
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
steps=" ${GPU_STEPS:-device tests quick throughput paper} "
status=0

want() { [[ "$steps" == *" $1 "* ]]; }

step() {  # step NAME COMMAND...: runs it, appends its output to log.txt, records exit code and time
  local name=$1 t=$SECONDS rc
  shift
  echo "=== $name: $*" | tee -a "$OUT/log.txt"
  "$@" 2>&1 | tee -a "$OUT/log.txt"
  rc=${PIPESTATUS[0]}
  printf '%s\t%s\t%s\n' "$name" "$rc" "$((SECONDS - t))" >> "$OUT/steps.tsv"
  [[ $rc -ne 0 && $status -eq 0 ]] && status=$rc
  return "$rc"
}

skip() {  # skip NAME WHY: a requested step that cannot run is a row of the report, not silence
  echo "=== $1: skipped ($2)" | tee -a "$OUT/log.txt"
  printf '%s\t%s\t%s\n' "$1" 125 0 >> "$OUT/steps.tsv"  # 125: report.py's SKIPPED
}

if [[ $smoke -eq 1 ]]; then
  want device && step device "$py" -c "import jax; print(jax.devices(), jax.devices()[0].device_kind)"
  tests="numpy_reference"
else
  command -v nvidia-smi > /dev/null && nvidia-smi > "$OUT/nvidia-smi.txt" 2>&1
  if want device && ! step device "$py" -c "import jax; d = jax.devices(); \
print(d, d[0].device_kind); assert d[0].platform == 'gpu', 'JAX does not see a GPU'"; then
    exit 1  # the other steps would run at full size on the CPU and spend the device call
  fi
  tests="numpy_reference or eval_mode_numerics or fused_backward or bfloat16_matmuls \
or each_vmapped_fold or resume_after_kill"
fi
if want tests; then
  step tests "$py" -m pytest -q -p no:cacheprovider tests/test_models.py tests/test_training.py \
    -k "$tests" || [[ $smoke -eq 1 ]] || \
    step tests_deterministic env XLA_FLAGS="--xla_gpu_deterministic_ops=true" "$py" -m pytest -q \
      -p no:cacheprovider tests/test_training.py -k "resume_after_kill"
fi

if want quick && [[ $smoke -eq 1 ]]; then
  step quick "$py" launch.py --config=configs/tiny.py --workdir="$work/quick"
elif want quick && [[ -n "${MIRJAX_DATA_DIR:-}" ]]; then
  step quick "$py" launch.py --config=configs/quick.py --workdir="$work/quick"
elif want quick; then
  skip quick "MIRJAX_DATA_DIR is not set"
fi

want throughput && step throughput "$py" -m benchmarks.gpu.throughput --out="$OUT" \
  $([[ $smoke -eq 1 ]] && echo --smoke)

paper=()
left=$((budget - SECONDS - 15))  # 15 s for the report
if want paper && [[ $smoke -eq 0 && ( -z "${MIRJAX_DATA_DIR:-}" || $left -le 60 ) ]]; then
  skip paper "$([[ -z "${MIRJAX_DATA_DIR:-}" ]] && echo "MIRJAX_DATA_DIR is not set" || \
    echo "${left} s left of GPU_BUDGET_S")"
elif want paper && [[ $smoke -eq 0 ]]; then
  paper=(--paper_workdir="$work/paper")
  before=$status
  step paper timeout "$left" "$py" launch.py --config=configs/paper.py --workdir="$work/paper"
  [[ $? -eq 124 ]] && status=$before  # out of time: the report extrapolates from its epochs
fi

if want whole && [[ $smoke -eq 1 || -z "${MIRJAX_DATA_DIR:-}" ]]; then
  skip whole "$([[ $smoke -eq 1 ]] && echo "needs the real data" || echo "MIRJAX_DATA_DIR is not set")"
elif want whole; then
  step whole "$py" -m benchmarks.whole_table --out="$OUT" --workdir="$work/whole" \
    --set=protocols.workers="${WHOLE_WORKERS:-8}"
fi

step report "$py" -m benchmarks.gpu.report --out="$OUT" --quick_workdir="$work/quick" \
  --smoke=$([[ $smoke -eq 1 ]] && echo true || echo false) ${paper[@]+"${paper[@]}"}
exit "$status"
