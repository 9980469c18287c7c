"""Run every command README.md shows, in order, in a fresh temporary folder: what the README says works, works.

    python tools/readme_commands.py           # run them (long jobs shortened); exit 1 if any fails or is not covered
    python tools/readme_commands.py --quick   # only the main job of those that succeed (what nbdev_test runs)
    python tools/readme_commands.py --list    # print each command and how it is checked; run nothing

The commands are the lines of README.md's bash code blocks (continued lines joined, comments dropped, `a && b`
split in two), its Python code blocks, and its terminal transcripts (a code block of `$ command` lines, each
followed by the output it must print). RULES says how each bash command is checked: the first pattern that
matches the whole command decides, and a command no pattern matches fails the check, so a command added to the
README needs a rule here. The ways:

- run:    as written; it must succeed.
- short:  as written, then overrides that only make the job smaller (fewer iterations, evaluation batches,
          samples, sequences per batch); it must succeed.
- refuse: it needs the network or OpenAI's weights: offline, it must fail at once, exit status 2 and one
          `error:` line, no traceback.
- skip:   not run here, for the printed reason (GPU machines; the installation and the test suite, which
          .ci/run runs on a fresh clone).

Commands run with the project's environment first on PATH (`python`, `torchrun`, `.venv/bin/...`), the
project's `config/` and `.venv` linked into the folder, small input files made beforehand (FIXTURES), one
thread each, and no network: Hugging Face offline and every URL pointing at a closed local port. A section of
the README can run in a folder of its own (FOLDERS): "Coming from nanoGPT" runs in a nanoGPT folder made by
nanoGPT's own code (found as chapter 15 finds it), or is skipped, saying so, where that code is absent.
"""
import json, os, re, resource, shutil, subprocess, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TRAIN_SHORT = '--max_iters=20 --lr_decay_iters=20 --eval_iters=2 --eval_interval=10 --log_interval=10 --sample_tokens=20'
BIG_SHORT = '--max_iters=2 --lr_decay_iters=2 --eval_iters=1 --eval_interval=2 --log_interval=1 --batch_size=2 --sample_tokens=20'
SAMPLE_SHORT = '--num_samples=1 --max_new_tokens=40'
NO_WEIGHTS = "OpenAI's GPT-2 weights, which need the network"
GPUS = 'needs a machine with 8 NVIDIA GPUs (tools/gpu_check.sh runs such a torchrun job there)'
PY = r'(?:\.venv/bin/)?python'   # the README says `python`, or `.venv/bin/python` in the quick start

# (pattern for the whole command, way, overrides to append or the reason); the first match decides
RULES = [
    (r'python3 -m venv \.venv', 'skip', 'makes the environment: .ci/run does it on a fresh clone'),
    (r'\.venv/bin/pip install .*', 'skip', 'installs the dependencies: .ci/run does it on a fresh clone'),
    (r'(?:OMP_NUM_THREADS=1 )?\.venv/bin/nbdev_test', 'skip', 'the test suite, which runs this check'),
    (PY + r' -m nanogpt\.prepare shakespeare_char(?: --input=input\.txt)?', 'run', ''),
    (PY + r' -m nanogpt\.prepare shakespeare_char --overwrite=true', 'run', ''),
    (PY + r' -m nanogpt\.prepare shakespeare', 'run', ''),
    (PY + r' -m nanogpt\.train config/(?:finetune_shakespeare|eval_gpt2\w*)\.yml', 'refuse', NO_WEIGHTS),
    (PY + r' -m nanogpt\.train config/train_shakespeare_char\.yml', 'short', BIG_SHORT),
    (PY + r' -m nanogpt\.train config/train_shakespeare_char\.yml --init_from=resume', 'short',   # nanoGPT's run stopped at 2
     BIG_SHORT.replace('max_iters=2 --lr_decay_iters=2', 'max_iters=4 --lr_decay_iters=4')),
    (PY + r' -m nanogpt\.train config/sft_chat_tasks\.yml', 'short', TRAIN_SHORT),   # finetunes the main job's out/
    (PY + r' -m nanogpt\.train --dataset=mychat --init_from=gpt2 .*', 'refuse', NO_WEIGHTS),
    (PY + r' -m nanogpt\.prepare mychat --input=conversations\.jsonl', 'run', ''),
    (PY + r' -m nanogpt\.chat --out_dir=out-chat-tasks', 'run', ''),   # stdin is empty: the chat ends at once, cleanly
    (PY + r' -m nanogpt\.prepare mybard --input=input\.txt --tokenizer=bpe --vocab_size=\d+', 'run', ''),
    (PY + r' -m nanogpt\.sample --out_dir=out-mybard', 'short', SAMPLE_SHORT),
    (PY + r' -m nanogpt\.train(?: config/(?:train_shakespeare_char\w*|speedrun_shakespeare_char)\.yml)?(?: --\w+=\S+)*',
     'short', TRAIN_SHORT),
    (r'torchrun --standalone --nproc_per_node=2 -m nanogpt\.train --device=cpu --backend=gloo(?: --\w+=\S+)*',
     'short', TRAIN_SHORT),
    (r'torchrun --standalone --nproc_per_node=8 -m nanogpt\.train config/\w+\.yml(?: --\w+=\S+)*', 'skip', GPUS),
    (r'torchrun --nnodes=2 .* -m nanogpt\.train config/\w+\.yml', 'skip', 'needs two machines with 8 NVIDIA GPUs each'),
    (PY + r' -m nanogpt\.(?:sample|export) --out_dir=out-shakespeare(?: --\w+=\S+)*', 'refuse',
     f'its checkpoint is finetuned from {NO_WEIGHTS}'),
    (PY + r' -m nanogpt\.sample --out_dir=out-shakespeare-char(?: --\w+=\S+)*', 'short', SAMPLE_SHORT),
]

# `--quick` (the test under nbdev_test) runs only these of the run and short commands, with every refusal,
# transcript and Python block: the main job, and the GPT-2-token dataset the refusals need
QUICK = [PY + r' -m nanogpt\.train', PY + r' -m nanogpt\.prepare shakespeare']

def fixtures() -> dict:
    "Files the README's commands read from the folder they run in: a text to prepare, a prompt, conversations."
    return {'input.txt': (ROOT/'nanogpt'/'assets'/'shakespeare_embedded.txt').read_text(encoding='utf-8'),
            'prompt.txt': 'ROMEO:\n',
            'conversations.jsonl': ''.join(json.dumps({'messages': [{'role': 'user', 'content': f'{verb} {w} {n} times.'},
                                                                    {'role': 'assistant', 'content': ' '.join([w] * n)}]}) + '\n'
                                           for verb in ('Say', 'Write', 'Repeat', 'Type')
                                           for w in ('yes', 'no', 'maybe', 'never', 'always', 'often', 'seldom', 'soon', 'now', 'then')
                                           for n in range(1, 7))}

def find_nanogpt_code() -> Path | None:
    "nanoGPT's own code (train.py, model.py, data/shakespeare_char/prepare.py), as chapter 15 finds it, or None."
    places = [Path(os.environ['NANOGPT_DIR'])] if os.environ.get('NANOGPT_DIR') else []
    places += [p for d in [ROOT, *ROOT.parents] for p in (d/'nanoGPT', d/'shared'/'nanoGPT')]
    return next((p for p in places if (p/'train.py').is_file() and (p/'data'/'shakespeare_char'/'prepare.py').is_file()), None)

def make_nanogpt_folder(work: Path, # the check's temporary folder
                        env: dict, # the environment commands run in
                       ) -> tuple[Path | None, str]:
    "A nanoGPT folder as a nanoGPT user has one: data/shakespeare_char/ and out-shakespeare-char/ made by nanoGPT's code."
    code = find_nanogpt_code()
    if code is None: return None, "nanoGPT's code was not found (a clone named nanoGPT beside this repository, or NANOGPT_DIR)"
    folder = work/'nanoGPT'
    shutil.copytree(code, folder, ignore=shutil.ignore_patterns('.git', 'out*', '*.bin', 'meta.pkl'))
    for p in [folder, *folder.rglob('*')]: p.chmod(0o755 if p.is_dir() else 0o644)   # a clone is writable
    shutil.copy(work/'input.txt', folder/'data'/'shakespeare_char'/'input.txt')
    steps = [([sys.executable, 'prepare.py'], folder/'data'/'shakespeare_char'),
             ([sys.executable, 'train.py', 'config/train_shakespeare_char.py', '--device=cpu', '--compile=False',
               '--max_iters=2', '--eval_interval=2', '--eval_iters=1', '--log_interval=1', '--batch_size=2'], folder)]
    for cmd, cwd in steps:
        r = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
        if r.returncode: return None, f"nanoGPT's {cmd[1]} failed: {(r.stdout + r.stderr).strip().splitlines()[-1:]}"
    return folder, ''

FOLDERS = {'Coming from nanoGPT': make_nanogpt_folder}   # README section -> the folder its commands run in

def strip_comment(line: str) -> str:
    "`line` without a trailing shell comment (a # after a space, outside quotes)."
    quote = None
    for i, ch in enumerate(line):
        if quote: quote = None if ch == quote else quote
        elif ch in '\'"': quote = ch
        elif ch == '#' and (i == 0 or line[i - 1].isspace()): return line[:i]
    return line

def bash_commands(body: str) -> list[str]:
    "The commands of a bash block: continued lines joined, comments and blank lines dropped, `a && b` split."
    cmds, cur = [], ''
    for line in body.splitlines():
        line = strip_comment(line).rstrip()
        if line.endswith('\\'): cur += line[:-1] + ' '; continue
        cmd = ' '.join((cur + line).split()); cur = ''
        if cmd: cmds += [c.strip() for c in cmd.split(' && ')]
    return cmds

def transcript(body: str) -> list[tuple[str, str]]:
    "(command, output) pairs of a block of `$ command` lines, each followed by what it prints."
    pairs = []
    for line in body.splitlines():
        if line.startswith('$ '): pairs.append([line[2:].strip(), ''])
        elif pairs: pairs[-1][1] += line + '\n'
    return [(c, out.strip()) for c, out in pairs]

def readme_steps(text: str) -> list[dict]:
    "Every command, Python block and transcript of the Markdown `text`, in order, with the section it is in."
    steps, section = [], ''
    for part in re.split(r'^(```\w*\n.*?^```)\s*$', text, flags=re.M | re.S):
        if not part.startswith('```'):
            if heads := re.findall(r'^#+ (.+)$', part, re.M): section = heads[-1].strip()
            continue
        lang, body = re.match(r'```(\w*)\n(.*)```', part, re.S).groups()
        if lang == 'bash': steps += [dict(kind='bash', cmd=c, section=section) for c in bash_commands(body)]
        elif lang == 'python': steps.append(dict(kind='python', cmd=body, section=section))
        elif body.startswith('$ '):
            steps += [dict(kind='transcript', cmd=c, expect=out, section=section) for c, out in transcript(body)]
    return steps

def rule(cmd: str) -> tuple[str, str] | None:
    "(way, overrides or reason) for a bash command, from the first rule whose pattern matches it whole; None if none does."
    return next(((way, extra) for pattern, way, extra in RULES if re.fullmatch(pattern, cmd)), None)

def environment(work: Path) -> dict:
    "The environment commands run in: the project's Python first, offline, one thread, a closed port for every URL."
    closed = 'http://127.0.0.1:9'   # the discard port: nothing listens, so every download fails at once
    env = {k: v for k, v in os.environ.items() if k.lower() not in ('no_proxy', 'all_proxy') and not k.startswith('NANOGPT')}
    env.update(PATH=f'{Path(sys.executable).parent}{os.pathsep}{env.get("PATH", "")}', PYTHONPATH=str(ROOT),
               OMP_NUM_THREADS='1', HF_HUB_OFFLINE='1', HF_DATASETS_OFFLINE='1', TRANSFORMERS_OFFLINE='1',
               http_proxy=closed, https_proxy=closed, HTTP_PROXY=closed, HTTPS_PROXY=closed, TERM='dumb')
    env.pop('IN_TEST', None)
    return env

def judge(step: dict, # a step of `readme_steps`, with its way
          rc: int, # exit status
          out: str, # stdout and stderr together
          seconds: float, # how long it ran
         ) -> str:
    "What is wrong with how the step ended, or '' if nothing."
    if step['kind'] == 'transcript':
        got = [l.rstrip() for l in out.strip().splitlines()]
        return '' if got == step['expect'].splitlines() else f"printed {got[-3:]}, the README shows {step['expect']!r}"
    if step['way'] == 'refuse':
        errors = [l for l in out.splitlines() if l.startswith('error:')]
        if rc != 2 or len(errors) != 1 or 'Traceback' in out: return f'expected exit status 2 and one error: line, got {rc} and {len(errors)}'
        return f'took {seconds:.0f} s to refuse' if seconds > 60 else ''
    if rc != 0 or 'Traceback' in out: return f'exit status {rc}'
    return ''

def cpu_seconds() -> float:
    "CPU time used so far by the commands this process ran and waited for."
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime

def run_steps(steps: list[dict], # from `readme_steps`, each with its `way`
              work: Path, # the temporary folder
             ) -> list[str]:
    "Run the steps in order; print one line each; return the failures."
    env, folders, failures = environment(work), {}, []
    for s in steps:
        shown = s['cmd'] if s['kind'] != 'python' else f"python block: {s['cmd'].strip().splitlines()[-1]}"
        if s['way'] == 'skip':
            print(f"skip    {shown}\n        ({s['extra']})", flush=True); continue
        cwd = work
        if s['section'] in FOLDERS:
            if s['section'] not in folders: folders[s['section']] = FOLDERS[s['section']](work, env)
            cwd, why = folders[s['section']]
            if cwd is None: print(f"skip    {shown}\n        ({why})", flush=True); continue
        if s['kind'] == 'python':
            (work/'readme_block.py').write_text(s['cmd'], encoding='utf-8'); argv = [sys.executable, str(work/'readme_block.py')]
        else: argv = ['bash', '-c', s['cmd'] + (f" {s['extra']}" if s['way'] == 'short' else '')]
        t0, cpu0 = time.time(), cpu_seconds()
        try: r = subprocess.run(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=600); rc, out = r.returncode, r.stdout + r.stderr
        except subprocess.TimeoutExpired: rc, out = -1, 'timed out after 600 s'
        seconds, cpu = time.time() - t0, cpu_seconds() - cpu0
        wrong = judge(s, rc, out, seconds)
        print(f"{'FAIL' if wrong else 'ok':7} {shown}" + (f" {s['extra']}" if s['way'] == 'short' else '') +
              f'   ({seconds:.1f} s, {cpu:.1f} s of CPU)', flush=True)
        if wrong:
            print('        ' + wrong + '\n' + '\n'.join('        | ' + l for l in out.strip().splitlines()[-8:]), flush=True)
            failures.append(f'{shown}: {wrong}')
    return failures

def plan(text: str, # README.md
         quick: bool = False, # run only the QUICK commands of those that succeed, and every other kind of step
        ) -> tuple[list[dict], list[str]]:
    "The README's steps, each with its way of being checked; and the bash commands no rule covers."
    steps, uncovered = readme_steps(text), []
    for s in steps:
        if s['kind'] != 'bash': s['way'], s['extra'] = ('run', ''); continue
        if (r := rule(s['cmd'])) is None: uncovered.append(s['cmd']); s['way'], s['extra'] = 'skip', 'no rule'
        else: s['way'], s['extra'] = r
        if quick and s['way'] in ('run', 'short') and not any(re.fullmatch(p, s['cmd']) for p in QUICK):
            s['way'], s['extra'] = 'skip', 'left to the full check: python tools/readme_commands.py'
    return steps, uncovered

def main(argv: list[str]) -> int:
    steps, uncovered = plan((ROOT/'README.md').read_text(encoding='utf-8'), quick='--quick' in argv)
    for c in uncovered: print(f'not covered: {c}\n    add a rule for it to RULES in tools/readme_commands.py')
    if '--list' in argv:
        for s in steps: print(f"{s['way']:7} [{s['section']}] {s['cmd'].strip().splitlines()[-1]}" + (f"   {s['extra']}" if s['extra'] else ''))
        return 1 if uncovered else 0
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for name, text in fixtures().items(): (work/name).write_text(text, encoding='utf-8')
        (work/'config').symlink_to(ROOT/'config')
        (work/'.venv').symlink_to(Path(sys.prefix))
        t0, cpu0 = time.time(), cpu_seconds()
        failures = run_steps(steps, work)
    ran = sum(s['way'] != 'skip' for s in steps)
    print(f'{len(steps)} README commands: {ran} run, {len(failures)} failed, {len(uncovered)} not covered '
          f'({time.time() - t0:.0f} s, {cpu_seconds() - cpu0:.0f} s of CPU)')
    return 1 if failures or uncovered else 0

if __name__ == '__main__': sys.exit(main(sys.argv[1:]))
