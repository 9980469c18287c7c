"""The edit cycle in one command: after editing notebooks, bring everything in line with them, then test.

    python tools/cycle.py             # export, clean, re-run the chapters whose code (or modules) changed, render README.md, test
    python tools/cycle.py --no-test   # the same without the tests

Run it with the project's environment (`.venv/bin/python tools/cycle.py`). Each step is one of:
nbdev_export (nanogpt/ from the notebooks), nbdev_clean (notebooks without execution counts and
stray metadata), `tools/chapters.py run` (fresh outputs for the chapters whose code, or a `nanogpt` module
that code uses, changed),
`tools/readme.py` (README.md from nbs/index.ipynb) and nbdev_test (every chapter, as CI runs it).
"""
import os, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

def step(*cmd, env=None):
    print('==', ' '.join(map(str, cmd)), flush=True)
    if subprocess.run([str(c) for c in cmd], cwd=ROOT, env=env).returncode: sys.exit(f'failed: {" ".join(map(str, cmd))}')

if __name__ == '__main__':
    step(BIN/'nbdev_export')
    step(BIN/'nbdev_clean')
    step(sys.executable, 'tools/chapters.py', 'run')
    step(sys.executable, 'tools/readme.py')
    if '--no-test' not in sys.argv: step(BIN/'nbdev_test', env={**os.environ, 'OMP_NUM_THREADS': '1'})
    print('all in line: commit the notebooks with nanogpt/ and README.md')
