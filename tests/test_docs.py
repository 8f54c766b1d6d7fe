"""The code blocks of README.md and docs/ run, and the commands they show exist.

Convention (docs/README of the conventions: docs/configuration.md, "Examples in the docs"):

- a fenced block runs unless the line before its fence is `<!-- not-run: REASON -->`
  (a network service, hours of work, the whole test suite) or it is ```text (output
  shown, not a command);
- ```python blocks run in a folder where `studies/norcia2016` and
  `studies/synthetic-norcia` are a small ingested study with one trained run (and
  `studies/synthetic-norcia-data` its simulated archive), and `configs/` the repository's;
- ```toml blocks are merged into configs/norcia2016.toml and must validate;
- shell blocks (```bash, ```sh or no language) run line by line with bash there, with
  `RUN_ID` standing for the trained run's id;
- every `faultprobe COMMAND --option` in any block, run or not, must exist.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from conftest import CONFIGS, ROOT

from faultprobe.cli import build_parser
from faultprobe.config import parse_config

FENCE = re.compile(r"^```(\w*)\s*$")
NOT_RUN = re.compile(r"^<!--\s*not-run:\s*(\S.*?)\s*-->\s*$")
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

pytestmark = pytest.mark.filterwarnings("ignore:Consolidated metadata:UserWarning")


def blocks(path: Path) -> list[dict]:
    """Fenced blocks: language, text, first line number, not-run reason (or None)."""
    out, lines = [], path.read_text().splitlines()
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        j = i + 1
        while j < len(lines) and not lines[j].startswith("```"):
            j += 1
        prev = lines[i - 1] if i else ""
        skip = NOT_RUN.match(prev)
        out.append(
            {
                "lang": m.group(1) or "sh",
                "text": "\n".join(lines[i + 1 : j]),
                "line": i + 1,
                "skip": skip.group(1) if skip else None,
                "id": f"{path.name}:{i + 1}",
            }
        )
        i = j + 1
    return out


ALL = [b for p in DOCS for b in blocks(p)]
RUN = [b for b in ALL if b["skip"] is None and b["lang"] != "text"]


def test_every_block_is_run_or_says_why_not():
    assert len(ALL) >= 10
    for b in ALL:
        assert b["lang"] in {"python", "toml", "bash", "sh", "text"}, b["id"]
    assert len(RUN) >= 5


def _commands(text: str) -> list[list[str]]:
    """The `faultprobe ...` command lines of a block, as argument lists."""
    out = []
    for line in text.replace("\\\n", " ").splitlines():
        line = line.split(" #", 1)[0].strip()
        if line.startswith("faultprobe "):
            out.append(shlex.split(line)[1:])
    return out


def _options(parser: argparse.ArgumentParser) -> dict[str, set[str]]:
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {
        name: {o for a in p._actions for o in a.option_strings} for name, p in sub.choices.items()
    }


def test_commands_in_the_docs_exist():
    known = _options(build_parser())
    for b in ALL:
        for args in _commands(b["text"]):
            if not args or args[0].startswith("-"):
                continue
            assert args[0] in known, f"{b['id']}: no command `faultprobe {args[0]}`"
            for a in args[1:]:
                if a.startswith("--"):
                    flag = a.split("=", 1)[0]
                    assert flag in known[args[0]], f"{b['id']}: `faultprobe {args[0]} {flag}`"


@pytest.fixture(scope="module")
def workdir(small_trained, tmp_path_factory):
    """A folder laid out as the docs assume, over the small trained study."""
    root = tmp_path_factory.mktemp("docs")
    os.symlink(CONFIGS, root / "configs")
    studies = root / "studies"
    studies.mkdir()
    shutil.copytree(small_trained.store, studies / "synthetic-norcia")
    os.symlink(studies / "synthetic-norcia", studies / "norcia2016")
    os.symlink(Path(small_trained.cfg.synthetic.output), studies / "synthetic-norcia-data")
    return root, small_trained.run_id


@pytest.mark.parametrize("block", RUN, ids=[b["id"] for b in RUN])
def test_block_runs(block, workdir, monkeypatch):
    root, run_id = workdir
    monkeypatch.chdir(root)
    text = block["text"].replace("RUN_ID", run_id)
    if block["lang"] == "python":
        code = compile(text, block["id"], "exec")
        exec(code, {"__name__": "__docs__"})
    elif block["lang"] == "toml":
        raw = tomllib.loads((CONFIGS / "norcia2016.toml").read_text())
        for key, value in tomllib.loads(text).items():
            raw[key] = {**raw.get(key, {}), **value} if isinstance(value, dict) else value
        parse_config(raw, source=block["id"], base=CONFIGS)
    else:
        env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
        r = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", text], cwd=root, env=env, capture_output=True,
            text=True, timeout=600,
        )  # fmt: skip
        assert r.returncode == 0, f"{block['id']}:\n{text}\n{r.stdout[-2000:]}\n{r.stderr[-3000:]}"


def test_the_legacy_names_in_the_docs_are_the_code_s():
    """docs/tables.md's table of older names is the one Store.read_table upgrades with."""
    from faultprobe.columns import LEGACY

    rows = re.findall(r"^\| `(\w+\.parquet)` \| `(\w+)` \| `(\w+)` \|$",
                      (ROOT / "docs" / "tables.md").read_text(), re.M)  # fmt: skip
    assert sorted(rows) == sorted((t, k, v) for t, m in LEGACY.items() for k, v in m.items())
