"""nanoGPT's CPU command and a training command of ours, side by side on this machine, in one run.

    python tools/vs_nanogpt.py --nanogpt=DIR [--text=FILE] [--runs=3] [--iters=2000] [-- ARGS ...]

DIR is a checkout of nanoGPT (github.com/karpathy/nanoGPT), used as it is: a copy of it prepares tiny
Shakespeare with its own `prepare.py`, trains with its own `train.py`, and scores with its own `model.py`.
FILE is tiny Shakespeare (default: DIR/data/shakespeare_char/input.txt). nanoGPT runs the CPU command of
its README, `--iters` steps long (its README's 2,000 by default); ours runs `python -m nanogpt.train ARGS`
(default: the same command through config/train_shakespeare_char.yml), run i with --seed=1337+i. The two
alternate, nanoGPT first, so that a slow spell of the machine falls on both.

Reported for each run: the wall time of the whole training command (start to exit, what a user waits
for) and the loss of the checkpoint it leaves (nanoGPT's preset writes one at each evaluation, every 250
steps, that lowers its val loss; ours, the last) on the whole validation split (the last 10% of the text, every
character predicted once, in consecutive chunks of the model's context). Loss estimates printed during
training average a few random batches and wander by a few hundredths; these do not. Then the medians,
and the ratio of nanoGPT's median time to ours. It measures and prints; it asserts nothing.
"""
import json, shutil, statistics, subprocess, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README_FLAGS = ('--device=cpu --compile=False --eval_iters=20 --log_interval=1 --block_size=64 --batch_size=12 '
                '--n_layer=4 --n_head=4 --n_embd=128 --max_iters={n} --lr_decay_iters={n} --dropout=0.0')   # nanoGPT's README

def timed(cmd: list, cwd: Path, log: Path) -> float:
    "Run `cmd` in `cwd`, its output to `log`; the wall time in seconds (exit with the log's end if it fails)."
    t0 = time.perf_counter()
    with open(log, 'w') as f: rc = subprocess.call([str(c) for c in cmd], cwd=cwd, stdout=f, stderr=subprocess.STDOUT)
    if rc: sys.exit(f'failed (exit status {rc}): {" ".join(map(str, cmd))}\n{log.read_text()[-2000:]}')
    return time.perf_counter() - t0

SCORE_NANOGPT = '''
import sys, numpy as np, torch
checkout, ckpt, val = sys.argv[1:]
sys.path.insert(0, checkout)
from model import GPT, GPTConfig                      # nanoGPT's own model code
ck = torch.load(ckpt, map_location='cpu', weights_only=False)
model = GPT(GPTConfig(**ck['model_args']))
model.load_state_dict({k.removeprefix('_orig_mod.'): v for k, v in ck['model'].items()}); model.eval()
ids = torch.from_numpy(np.fromfile(val, dtype=np.uint16).astype(np.int64))
T, total = model.config.block_size, 0.0
with torch.no_grad():
    for s in range(0, len(ids) - 1, T):
        y = ids[s + 1:s + T + 1]; x = ids[s:s + len(y)]
        logits, _ = model(x[None], y[None])
        total += torch.nn.functional.cross_entropy(logits[0], y, reduction='sum').item()
print(total / (len(ids) - 1))
'''

def score_nanogpt(checkout: Path, out: Path) -> float:
    "nanoGPT's checkpoint on its whole val.bin, computed by nanoGPT's model.py."
    val = checkout/'data'/'shakespeare_char'/'val.bin'
    printed = subprocess.check_output([sys.executable, '-c', SCORE_NANOGPT, str(checkout), str(out/'ckpt.pt'), str(val)], text=True)
    return float(printed.split()[-1])   # after what nanoGPT's model prints when built

def score_ours(out: Path, val_text: Path) -> float:
    "Our checkpoint on the validation text, by `python -m nanogpt.predict`, in chunks of the model's context."
    import torch
    block = torch.load(out/'ckpt.pt', map_location='cpu', weights_only=False)['model_args']['block_size']
    r = subprocess.run([sys.executable, '-m', 'nanogpt.predict', f'--out_dir={out}', '--task=score', '--device=cpu',
                        '--whole_file=True', f'--stride={block}', f'--input={val_text}'], capture_output=True, text=True)
    if r.returncode: sys.exit('scoring our checkpoint failed:\n' + r.stderr[-2000:])
    return float(json.loads(r.stdout.strip().splitlines()[-1])['loss'])

def parse(argv: list) -> dict:
    "The options before `--`, and our training arguments after it."
    opts = {'runs': '3', 'iters': '2000', 'nanogpt': '', 'text': '', 'ours': []}
    if '--' in argv: i = argv.index('--'); opts['ours'], argv = argv[i + 1:], argv[:i]
    for a in argv:
        k, _, v = a.removeprefix('--').partition('=')
        if k not in opts or k == 'ours' or not v: sys.exit(__doc__)
        opts[k] = v
    if not opts['nanogpt']: sys.exit(__doc__)
    return opts

def main(argv: list):
    o = parse(argv)
    checkout, runs = Path(o['nanogpt']).resolve(), int(o['runs'])
    text = Path(o['text'] or checkout/'data'/'shakespeare_char'/'input.txt').resolve()
    if not (checkout/'train.py').is_file(): sys.exit(f'{checkout} is not a checkout of nanoGPT (no train.py): pass --nanogpt=DIR')
    if not text.is_file(): sys.exit(f'no tiny Shakespeare at {text}: pass --text=FILE')
    flags = README_FLAGS.format(n=o['iters']).split()
    ours = [str(Path(a).resolve()) if Path(a).is_file() else a for a in o['ours']]   # files named from here: found from anywhere
    ours = ours or [str(ROOT/'config'/'train_shakespeare_char.yml'), *flags]
    tmp = Path(tempfile.mkdtemp(prefix='vs_nanogpt.'))
    theirs, mine = tmp/'nanoGPT', tmp/'nanogpt'
    shutil.copytree(checkout, theirs, ignore=shutil.ignore_patterns('.git', 'out*')); mine.mkdir()
    shutil.copy(text, theirs/'data'/'shakespeare_char'/'input.txt')
    timed([sys.executable, 'data/shakespeare_char/prepare.py'], theirs, tmp/'prepare_nanoGPT.log')
    timed([sys.executable, '-m', 'nanogpt.prepare', 'shakespeare_char', f'--input={text}'], mine, tmp/'prepare_nanogpt.log')
    whole = text.read_text(encoding='utf-8'); val_text = tmp/'val.txt'
    val_text.write_text(whole[int(len(whole) * 0.9):], encoding='utf-8')   # both split the text at 90%
    rows = {'nanoGPT': [], 'nanogpt': []}
    for i in range(runs):
        out = theirs/f'out{i}'
        t = timed([sys.executable, 'train.py', 'config/train_shakespeare_char.py', *flags, f'--out_dir={out}'], theirs, tmp/f'nanoGPT{i}.log')
        rows['nanoGPT'].append((t, score_nanogpt(theirs, out)))
        out = mine/f'out{i}'
        t = timed([sys.executable, '-m', 'nanogpt.train', *ours, f'--seed={1337 + i}', f'--out_dir={out}'], mine, tmp/f'nanogpt{i}.log')
        rows['nanogpt'].append((t, score_ours(out, val_text)))
        print(f'run {i}: ' + ' | '.join(f'{k} {r[-1][0]:.1f} s, val {r[-1][1]:.4f}' for k, r in rows.items()), flush=True)
    med = {k: [statistics.median(x) for x in zip(*r)] for k, r in rows.items()}
    mean_ours = statistics.mean(v for _, v in rows['nanogpt'])
    print(f'ours: python -m nanogpt.train {" ".join(ours)}')
    print(f'nanoGPT: median wall {med["nanoGPT"][0]:.1f} s, whole-val loss {med["nanoGPT"][1]:.4f}')
    print(f'nanogpt: median wall {med["nanogpt"][0]:.1f} s, whole-val loss median {med["nanogpt"][1]:.4f}, mean {mean_ours:.4f} over {runs} seed(s)')
    print(f'time ratio nanoGPT/ours {med["nanoGPT"][0] / med["nanogpt"][0]:.2f}x; '
          f'loss {"as low or lower" if mean_ours <= med["nanoGPT"][1] else "HIGHER"} (mean {mean_ours:.4f} against {med["nanoGPT"][1]:.4f}); logs in {tmp}')

if __name__ == '__main__':
    main(sys.argv[1:])
