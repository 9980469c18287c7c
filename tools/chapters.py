"""Run the chapters top to bottom and store their outputs; check that stored outputs are not stale.

    python tools/chapters.py run [NB ...]     # run these chapters (default: those whose outputs are stale)
    python tools/chapters.py run --all        # run every chapter
    python tools/chapters.py check            # exit 1, naming the chapters to re-run, if any outputs are stale

A chapter's outputs are what a top-to-bottom run printed and drew, every cell included (`slow` ones
too; `cuda` ones only on a machine with a CUDA GPU, else they are left without outputs), at full size
(not the shrunk sizes of `nbdev_test`). `run` records, in the notebook's metadata, a
fingerprint of the code cells it ran and of the source of every `nanogpt` module that code uses;
`check` recomputes them, so editing a code cell, or a module the chapter imports, without re-running
the chapter is noticed, and named (prose edits are not: they change no output; nor is splitting a cell
in two or moving a blank line, which change no code: the fingerprints leave out blank lines, `#| export`
lines and the `# %%` cell markers nbdev writes into modules). The modules a chapter
uses are those its code cells name (`from nanogpt.X import`, `import nanogpt.X`, `from nanogpt import X`,
`python -m nanogpt.X`, a string such as 'nanogpt.X'), then, transitively, those these modules import
(`from .X import`, `from . import X`, `from nanogpt.X import`), read from `nanogpt/*.py`. NB is a
notebook's name, with or without `nbs/` and `.ipynb` (`04_training_loop`, or just `04`).
"""
import hashlib, json, re, subprocess, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NBS = ROOT/'nbs'
LIB = ROOT/'nanogpt'   # the package the chapters export to
KEY = 'nanogpt'   # notebook metadata key (settings.ini: allowed_metadata_keys)

def chapters() -> list[Path]:
    "Every chapter, in order (the numbered notebooks)."
    return sorted(p for p in NBS.glob('[0-9]*.ipynb'))

LAYOUT = re.compile(r'\s*|#\|\s*exports?\s*|# %% .*')   # blank lines, export flags, nbdev's cell markers

def digest(text: str) -> str:
    "A hash of the code in `text`, whatever its layout into cells."
    code = '\n'.join(l.rstrip() for l in text.splitlines() if not LAYOUT.fullmatch(l))
    return hashlib.sha256(code.encode()).hexdigest()[:16]

def chapter_code(nb: dict) -> str:
    "The chapter's code cells, in order."
    return '\n'.join(''.join(c['source']) for c in nb['cells'] if c['cell_type'] == 'code')

def named_modules(code: str) -> set[str]:
    "The `nanogpt` modules a chapter's code names: imports, `python -m nanogpt.X`, strings like 'nanogpt.X'."
    names = set(re.findall(r'(?<![\w.])nanogpt\.(\w+)', code))
    for group in re.findall(r'\bfrom\s+nanogpt\s+import\s+(\([^)]*\)|[^\n#;]+)', code): names |= set(re.findall(r'\w+', group))
    return {n for n in names if (LIB/f'{n}.py').is_file()}

def imported_modules(source: str) -> set[str]:
    "The `nanogpt` modules a module's source imports (relative or absolute imports, anywhere in the file)."
    names = set(re.findall(r'^\s*from\s+(?:\.|nanogpt\.)(\w+)\s+import\b', source, re.M))
    names |= set(re.findall(r'^\s*import\s+nanogpt\.(\w+)', source, re.M))
    for group in re.findall(r'^\s*from\s+(?:\.|nanogpt)\s+import\s+(\([^)]*\)|[^\n#;]+)', source, re.M):
        names |= set(re.findall(r'\w+', group))
    return {n for n in names if (LIB/f'{n}.py').is_file()}

def modules_used(nb: dict) -> list[str]:
    "Every `nanogpt` module the chapter's code uses, directly or through the modules it uses, sorted."
    todo, seen = named_modules(chapter_code(nb)), set()
    while todo:
        name = todo.pop(); seen.add(name)
        todo |= imported_modules((LIB/f'{name}.py').read_text(encoding='utf-8')) - seen
    return sorted(seen)

def fingerprint(nb: dict) -> dict:
    "Hashes of the chapter's code cells and of the source of each `nanogpt` module they use."
    return {'code': digest(chapter_code(nb)),
            'modules': {n: digest((LIB/f'{n}.py').read_text(encoding='utf-8')) for n in modules_used(nb)}}

def stale(path: Path) -> str | None:
    "Why the chapter's stored outputs cannot be trusted (naming what changed), or None."
    nb = json.loads(path.read_text(encoding='utf-8'))
    stored = nb['metadata'].get(KEY, {})
    if 'code' not in stored or not any(c.get('outputs') for c in nb['cells']): return 'it has no stored outputs'
    now = fingerprint(nb)
    if stored['code'] != now['code']: return 'its code changed since its outputs were stored'
    if 'modules' not in stored: return 'its outputs were stored without a fingerprint of the nanogpt modules it uses'
    before = stored['modules']
    changed = sorted(n for n in before.keys() | now['modules'].keys() if before.get(n) != now['modules'].get(n))
    if changed: return f"{', '.join(f'nanogpt/{n}.py' for n in changed)} changed since its outputs were stored"
    return None

def find(name: str) -> Path:
    name = Path(name).stem
    hits = [p for p in chapters() if p.stem == name or p.stem.split('_')[0] == name]
    if len(hits) != 1: sys.exit(f"no single chapter named '{name}' in nbs/ ({', '.join(p.stem for p in chapters())})")
    return hits[0]

def is_cuda_cell(cell) -> bool:
    "A code cell flagged `#| cuda` (run only where there is a CUDA GPU)."
    return cell.cell_type == 'code' and any(l.strip() == '#| cuda' for l in cell.source.splitlines())

def run(path: Path):
    "Execute the chapter in a fresh kernel, store its outputs and fingerprint, and clean it as nbdev_clean does."
    import nbformat, torch
    from nbclient import NotebookClient
    nb = nbformat.read(path, as_version=4)
    t0 = time.time()
    skipped = {} if torch.cuda.is_available() else {i: c.source for i, c in enumerate(nb.cells) if is_cuda_cell(c)}
    for i in skipped: nb.cells[i].source = ''   # nbclient skips empty cells
    print(f'running {path.name}' + (f' ({len(skipped)} cuda cells skipped: no GPU)' if skipped else '') + ' ...', flush=True)
    try: NotebookClient(nb, timeout=3600, kernel_name='python3', resources={'metadata': {'path': str(NBS)}}).execute()
    finally:
        for i, src in skipped.items(): nb.cells[i].source, nb.cells[i].outputs, nb.cells[i].execution_count = src, [], None
    nb.metadata[KEY] = fingerprint(nb)
    nbformat.write(nb, path)
    subprocess.run([str(Path(sys.executable).parent/'nbdev_clean'), '--fname', str(path)], check=True, cwd=ROOT)
    print(f'{path.name}: {time.time() - t0:.0f} s, {path.stat().st_size / 1e6:.2f} MB', flush=True)

def main(argv):
    if not argv or argv[0] not in ('run', 'check'): sys.exit(__doc__)
    if argv[0] == 'check':
        bad = [(p, why) for p in chapters() if (why := stale(p))]
        for p, why in bad: print(f'{p.relative_to(ROOT)}: {why}: run python tools/chapters.py run {p.stem}')
        sys.exit(1 if bad else 0)
    names = argv[1:]
    todo = chapters() if names == ['--all'] else [find(n) for n in names] if names else [p for p in chapters() if stale(p)]
    if not todo: print('every chapter has up-to-date outputs')
    for p in todo: run(p)

if __name__ == '__main__': main(sys.argv[1:])
