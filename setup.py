"""Package metadata comes from settings.ini (nbdev 2 layout)."""
from configparser import ConfigParser
from setuptools import setup, find_packages

cfg = ConfigParser(delimiters=['='])
cfg.read('settings.ini', encoding='utf-8')
cfg = cfg['DEFAULT']

setup(
    name=cfg['lib_name'],
    version=cfg['version'],
    description=cfg['description'],
    long_description=open('README.md', encoding='utf-8').read(),
    long_description_content_type='text/markdown',
    author=cfg['author'],
    license='MIT',
    url=cfg['git_url'],
    project_urls={'Source': cfg['git_url']},
    keywords=cfg['keywords'].split(),
    classifiers=['Programming Language :: Python :: 3', 'License :: OSI Approved :: MIT License',
                 'Topic :: Scientific/Engineering :: Artificial Intelligence'],
    entry_points={},
    scripts=[],
    python_requires='>=' + cfg['min_python'],
    packages=find_packages(include=['nanogpt', 'nanogpt.*']),
    package_data={'nanogpt': ['assets/*.txt']},
    install_requires=cfg['requirements'].split(),
    extras_require={'dev': cfg['dev_requirements'].split(), 'hf': ['transformers', 'datasets'], 'wandb': ['wandb']},
    zip_safe=False,
)
