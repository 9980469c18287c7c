"""Run the chapters top to bottom and store their outputs; check that stored outputs are not stale.

    python tools/chapters.py run [NB ...]     # run these chapters (default: those whose outputs are stale)
    python tools/chapters.py run --all        # run every chapter
    python tools/chapters.py check            # exit 1, naming the chapters to re-run (or to lean), if any outputs are stale
    python tools/chapters.py lean [NB ...]    # rewrite stored outputs lean without running (default: those `check` names)

A chapter's outputs are what a top-to-bottom run printed and drew, every cell included (`slow` ones
too; `cuda` ones only on a machine with a CUDA GPU, else they are left without outputs), at full size
(not the shrunk sizes of `nbdev_test`). `run` records, in the notebook's metadata, a
fingerprint of the code cells it ran, of the source of every `nanogpt` module that code uses and of
every file besides modules it reads or runs (`nanogpt/assets/*`, `config/*.yml`, `tools/*`);
`check` recomputes them, so editing a code cell, a module the chapter imports, or such a file, without
re-running the chapter is noticed, and named (prose edits are not: they change no output; nor is splitting a cell
in two or moving a blank line, which change no code: the fingerprints leave out blank lines, `#| export`
lines and the `# %%` cell markers nbdev writes into modules). The modules a chapter
uses are those its code cells name (`from nanogpt.X import`, `import nanogpt.X`, `from nanogpt import X`,
`python -m nanogpt.X`, a string such as 'nanogpt.X'), then, transitively, those these modules import
(`from .X import`, `from . import X`, `from nanogpt.X import`), read from `nanogpt/*.py`. The files a
chapter uses are those whose name its code or these modules name (`shakespeare_embedded.txt`,
`config/NAME.yml`, `../tools/gpu_check.sh`), and every preset if its code names `PRESETS`, the config folder.

Stored chapters are kept lean: `run` merges consecutive stream outputs of a cell (a generation printed
token by token is one output, not hundreds) and stores no ipywidgets state (a widget's output keeps
only its `text/plain` fallback); `check` also names a chapter stored otherwise. NB is a notebook's
name, with or without `nbs/` and `.ipynb` (`04_training_loop`, or just `04`).
"""
import copy, hashlib, json, re, subprocess, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NBS = ROOT/'nbs'
LIB = ROOT/'nanogpt'   # the package the chapters export to
KEY = 'nanogpt'   # notebook metadata key (settings.ini: allowed_metadata_keys)
WIDGET = 'application/vnd.jupyter.widget-view+json'   # an ipywidgets view: needs state `run` does not store

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

def source(name: str) -> str: return (LIB/f'{name}.py').read_text(encoding='utf-8')

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
        todo |= imported_modules(source(name)) - seen
    return sorted(seen)

def files_used(nb: dict, modules: list[str]) -> list[str]:
    "The files besides modules that the chapter reads or runs: the package's assets, presets and tools that its code or `modules` name."
    code = chapter_code(nb); text = '\n'.join([code, *map(source, modules)])
    files = [p for p in [*(LIB/'assets').rglob('*'), *(ROOT/'config').glob('*.yml'), *(ROOT/'tools').glob('*')] if p.is_file()]
    return sorted(str(p.relative_to(ROOT)) for p in files if re.search(rf'(?<![\w.-]){re.escape(p.name)}(?![\w-])', text)
                  or (p.parent.name == 'config' and re.search(r'\bPRESETS\b', code)))   # e.g. PRESETS.glob('*.yml')

def fingerprint(nb: dict) -> dict:
    "Hashes of the chapter's code cells, of the source of each `nanogpt` module they use and of each file they use."
    modules = modules_used(nb)
    return {'code': digest(chapter_code(nb)), 'modules': {n: digest(source(n)) for n in modules},
            'files': {f: hashlib.sha256((ROOT/f).read_bytes()).hexdigest()[:16] for f in files_used(nb, modules)}}

def stale(path: Path) -> str | None:
    "Why the chapter's stored outputs cannot be trusted (naming what changed), or None."
    nb = json.loads(path.read_text(encoding='utf-8'))
    stored = nb['metadata'].get(KEY, {})
    if 'code' not in stored or not any(c.get('outputs') for c in nb['cells']): return 'it has no stored outputs'
    now = fingerprint(nb)
    if stored['code'] != now['code']: return 'its code changed since its outputs were stored'
    if not {'modules', 'files'} <= stored.keys(): return 'its outputs were stored without a fingerprint of the modules and files it uses'
    diff = lambda key: sorted(n for n in stored[key].keys() | now[key].keys() if stored[key].get(n) != now[key].get(n))
    changed = [f'nanogpt/{n}.py' for n in diff('modules')] + diff('files')
    if changed: return f"{', '.join(changed)} changed since its outputs were stored"
    return None

def merge_streams(outputs: list) -> list:
    "`outputs` with each run of consecutive stream outputs of one name (stdout, stderr) merged into its first."
    merged = []
    for o in outputs:
        if merged and o['output_type'] == merged[-1]['output_type'] == 'stream' and o['name'] == merged[-1]['name']:
            merged[-1]['text'] = ''.join(merged[-1]['text']) + ''.join(o['text'])
        else: merged.append(o)
    return merged

def drop_widgets(outputs: list) -> list:
    "`outputs` without ipywidgets views: an output keeps the rest of its data (a `text/plain` fallback), or goes if none is left."
    kept = []
    for o in outputs:
        if WIDGET in o.get('data', {}):
            del o['data'][WIDGET]
            if not o['data']: continue
        kept.append(o)
    return kept

def lean(nb: dict) -> dict:
    "The notebook, changed in place, without ipywidgets state and with its cells' stream outputs merged."
    nb['metadata'].pop('widgets', None)
    for c in nb['cells']:
        if 'outputs' in c: c['outputs'] = merge_streams(drop_widgets(c['outputs']))
    return nb

def bloat(path: Path) -> str | None:
    "What the chapter stores that `lean` would drop, or None."
    nb = json.loads(path.read_text(encoding='utf-8'))
    if 'widgets' in nb['metadata'] or any(WIDGET in o.get('data', {}) for c in nb['cells'] for o in c.get('outputs', [])):
        return 'it stores ipywidgets state'
    if lean(copy.deepcopy(nb)) != nb: return 'it stores consecutive stream outputs unmerged'
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
    save(nb, path)
    print(f'{path.name}: {time.time() - t0:.0f} s, {path.stat().st_size / 1e6:.2f} MB', flush=True)

def save(nb, path: Path):
    "Write the notebook lean, and clean it as nbdev_clean does."
    import nbformat
    nbformat.write(lean(nb), path)
    subprocess.run([str(Path(sys.executable).parent/'nbdev_clean'), '--fname', str(path)], check=True, cwd=ROOT)

def main(argv):
    if not argv or argv[0] not in ('run', 'check', 'lean'): sys.exit(__doc__)
    if argv[0] == 'check':
        bad = False
        for p in chapters():
            if why := stale(p): fix = 'run'
            elif why := bloat(p): fix = 'lean'   # up to date, but not stored lean: no need to run it again
            else: continue
            print(f'{p.relative_to(ROOT)}: {why}: run python tools/chapters.py {fix} {p.stem}'); bad = True
        sys.exit(1 if bad else 0)
    names = argv[1:]
    if argv[0] == 'lean':
        import nbformat
        for p in [find(n) for n in names] if names else [p for p in chapters() if bloat(p)]: save(nbformat.read(p, as_version=4), p)
        return
    todo = chapters() if names == ['--all'] else [find(n) for n in names] if names else [p for p in chapters() if stale(p)]
    if not todo: print('every chapter has up-to-date outputs')
    for p in todo: run(p)

if __name__ == '__main__': main(sys.argv[1:])
