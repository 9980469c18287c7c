"""Render nbs/index.ipynb to README.md (Markdown cells in order; hidden code cells left out).

    python tools/readme.py           # write README.md
    python tools/readme.py --check   # exit 1 if README.md is not what the notebook renders to

nbdev_readme does this through Quarto, which cannot be installed offline; this keeps README.md and the
index notebook identical without it.
"""
import json, sys
from pathlib import Path

root = Path(__file__).resolve().parent.parent

def render(nb_path: Path) -> str:
    cells = json.loads(nb_path.read_text(encoding='utf-8'))['cells']
    parts = []
    for c in cells:
        src = ''.join(c['source']).strip()
        if c['cell_type'] == 'markdown': parts.append(src)
        elif src and not src.startswith('#| hide'): parts.append(f'```python\n{src}\n```')
    return '\n\n'.join(parts) + '\n'

if __name__ == '__main__':
    text, readme = render(root/'nbs'/'index.ipynb'), root/'README.md'
    if '--check' in sys.argv:
        if readme.read_text(encoding='utf-8') != text:
            sys.exit('README.md differs from nbs/index.ipynb: run python tools/readme.py')
    else:
        readme.write_text(text, encoding='utf-8')
