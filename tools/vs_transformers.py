"""Our generation engine and transformers' `generate`, side by side on the same weights, in one process.

    python tools/vs_transformers.py [--n_layer=12 --n_head=12 --n_embd=768] [--batch=1,8] [--prompt=16,512]
                                    [--new=128] [--dtype=float32,bfloat16] [--reps=3]

Both models hold the same weights: a GPT-2 of the given shape (GPT-2 small, 124M, by default) with
random weights, seed 0, copied into transformers' `GPT2LMHeadModel` by `nanogpt.export.to_hf`. For each
dtype, both are cast to it (weights and all, as `python -m nanogpt.sample --dtype=bfloat16` and
transformers' `torch_dtype` do), and ours on the CPU gets the kernels that `python -m nanogpt.sample`
gives it (`nanogpt.speedups`: `use_cpu_kernels`, and `use_packed_weights` for bfloat16 weights). For each batch size and prompt length, the same random prompts go to
`nanogpt.sample.generate_batch` and to `GPT2LMHeadModel.generate`, greedy (temperature 0, do_sample=False),
exactly `--new` tokens each. The two alternate, `--reps` times each, ours first; the best time of each
counts (the run least disturbed by the rest of the machine). Printed per case: tokens per second of
each (new tokens only, the prompt's processing included in the time), the ratio ours/theirs, and how
many of the rows came out token for token the same. Random weights give nearly equal logits, so in
bfloat16 two correct implementations that round in a different order may pick a different token at
some step; the first step where a row differs is printed then. At batch 1, also the rate at which ours
reads its weights (a token reads each once), next to the rate at which this machine reads memory at
all (printed first). It measures and prints; it asserts nothing.
"""
import copy, sys, time
import torch

from nanogpt.export import to_hf
from nanogpt.model import GPT, GPTConfig
from nanogpt.sample import generate_batch
from nanogpt.speedups import use_cpu_kernels, use_packed_weights

def options(argv: list[str]) -> dict:
    "The `--key=value` options, over the defaults."
    opts = dict(n_layer='12', n_head='12', n_embd='768', batch='1,8', prompt='16,512', new='128', dtype='float32,bfloat16', reps='3')
    for a in argv:
        key, _, value = a.removeprefix('--').partition('=')
        if key not in opts or not value: sys.exit(f'unknown or empty option {a!r}; known: {", ".join(opts)}')
        opts[key] = value
    return opts

def timed(fn, into: list) -> float:
    "Seconds one call of `fn` takes; its result goes to `into`."
    t0 = time.perf_counter(); into.append(fn())
    return time.perf_counter() - t0

def read_bandwidth(gib: int = 1) -> float:
    "Bytes per second this machine reads from memory: the best of three sums of a `gib` GiB float32 tensor."
    x = torch.ones(gib * 2**28)
    return gib * 2**30 / min(timed(x.sum, []) for _ in range(3))

def weight_bytes(model: GPT) -> int:
    "Bytes of the weights a decoding step reads: every parameter once (the tied head is the token table)."
    return sum(p.numel() * p.element_size() for p in model.parameters())

def compare(ours: GPT, theirs, B: int, P: int, new: int, reps: int) -> str:
    "One case: the same prompts through both, alternating; a line with both speeds, the ratio and agreement."
    prompts = torch.randint(0, ours.config.vocab_size, (B, P), generator=torch.Generator().manual_seed(B * 1000 + P))
    def run_ours(): return [c.tokens for c in generate_batch(ours, prompts.tolist(), new, temperature=0)]
    @torch.no_grad()
    def run_theirs():
        out = theirs.generate(prompts, attention_mask=torch.ones_like(prompts), max_new_tokens=new, min_new_tokens=new,
                              do_sample=False, pad_token_id=0)
        return out[:, P:].tolist()
    a, b, outs_a, outs_b = [], [], [], []
    for _ in range(reps):   # alternate: a slow spell of the machine falls on both
        a.append(timed(run_ours, outs_a)); b.append(timed(run_theirs, outs_b))
    rows_a, rows_b = outs_a[-1], outs_b[-1]
    same = sum(x == y for x, y in zip(rows_a, rows_b))
    first = [next(i for i, (s, t) in enumerate(zip(x, y)) if s != t) for x, y in zip(rows_a, rows_b) if x != y]
    differ = f'; rows that differ first do at steps {first}' if first else ''
    if B == 1: differ += f'; ours reads its weights at {weight_bytes(ours) * new / min(a) / 1e9:.1f} GB/s'
    return (f'batch {B}, prompt {P}: ours {B * new / min(a):,.1f} tokens/s, transformers {B * new / min(b):,.1f} tokens/s, '
            f'ours/transformers {min(b) / min(a):.2f}x; same tokens in {same} of {B} rows{differ}')

def main(argv: list[str]):
    o = options(argv)
    import transformers; transformers.logging.set_verbosity_error()
    torch.manual_seed(0)
    base = GPT(GPTConfig(n_layer=int(o['n_layer']), n_head=int(o['n_head']), n_embd=int(o['n_embd']), vocab_size=50257, dropout=0.0))
    hf = to_hf(base)
    print(f'GPT-2 shape {o["n_layer"]}x{o["n_embd"]} ({base.get_num_params() / 1e6:.1f}M parameters), {o["new"]} new tokens, '
          f'greedy; torch {torch.__version__}, transformers {transformers.__version__}, {torch.get_num_threads()} threads', flush=True)
    print(f'memory read bandwidth (summing 1 GiB): {read_bandwidth() / 1e9:.1f} GB/s', flush=True)
    for name in o['dtype'].split(','):
        dtype = getattr(torch, name)
        ours, theirs = copy.deepcopy(base).eval().to(dtype), copy.deepcopy(hf).eval().to(dtype)
        use_packed_weights(use_cpu_kernels(ours))   # what `setup` does for `sample` and `chat` on a CPU
        for B in map(int, o['batch'].split(',')):
            for P in map(int, o['prompt'].split(',')):
                print(f'{name}: {compare(ours, theirs, B, P, int(o["new"]), int(o["reps"]))}', flush=True)

if __name__ == '__main__': main(sys.argv[1:])
