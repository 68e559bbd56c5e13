"""The README's runnable examples run as printed: each is taken from the README itself
(so a changed README is what is tested) and run in a fresh Python, and what it prints is
checked against the pandas engine's numbers on the same sample."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import segexplore as se

README = Path(__file__).resolve().parents[1] / "README.md"


def _first_python_block(section: str) -> str:
    """The first ```python block after the heading ``section``."""
    text = README.read_text(encoding="utf-8")
    start = text.index(f"\n{section}\n")
    return re.search(r"```python\n(.*?)```", text[start:], re.S).group(1)


def test_the_connected_base_example_runs_and_prints_the_pandas_numbers(tmp_path):
    code = _first_python_block("## Your data is in PostgreSQL / Spark")
    script = tmp_path / "example.py"
    script.write_text(code + "\nprint('tests:', len(tests))\n", encoding="utf-8")
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    sample = se.load_sample()
    lyon = sample.segment('city = "Lyon" and rfm_group = "champions"')
    assert lines[0] == f"{lyon.size} {lyon.share:.2%}" and lyon.size > 0
    stages = sample.segment('city = "Lyon"').members(["lifecycle_stage"])["lifecycle_stage"]
    for stage, count in stages.value_counts().items():
        assert any(re.fullmatch(rf"{stage}\s+{count}", line.strip()) for line in lines), stage
    assert int(lines[-1].split()[-1]) > 0
