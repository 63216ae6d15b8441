"""The README's "Get a vision model" commands name catalog models in a form the commands take."""
from __future__ import annotations

import re
from pathlib import Path

from engine.hub import parse_spec
from engine.hub.catalog import find

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def test_the_readme_pull_commands_name_catalog_entries():
    section = README.split("## Get a vision model", 1)[1].split("\n## ", 1)[0]
    lines = [ln.split("#")[0].strip() for ln in re.findall(r"```bash\n(.*?)```", section, re.S)[0].splitlines()]
    specs = [re.search(r"--model hf:(\S+)", ln).group(1) for ln in lines if "run.py" in ln]
    pulls = [ln.split("engine pull ", 1)[1].split() for ln in lines if "engine pull" in ln]
    assert specs and pulls
    for spec in specs + [p[0] for p in pulls]:
        assert find(parse_spec(spec).repo) is not None, spec
