"""Optional dependencies stay optional: the core paths import none of them, and a missing one
ends in one line naming the extra that installs it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from faultprobe._optional import need
from faultprobe.cli.errors import EXIT, one_line
from faultprobe.errors import MissingExtra

OPTIONAL = ("h5py", "ruptures", "multitaper", "matplotlib", "dask_jobqueue", "dask_kubernetes")

CORE = """
import sys
import faultprobe.pipelines.ingest, faultprobe.catalogs, faultprobe.catalogs.study
from faultprobe.cli import main
try:
    main(["--help"])
except SystemExit:
    pass
optional = set(sys.argv[1:])
print("core:", ",".join(sorted({m.split(".")[0] for m in sys.modules} & optional)))
# the same probe after the report's figures draw: it does see an imported module
from faultprobe.analysis import figures
figures._pyplot()
print("figures:", ",".join(sorted({m.split(".")[0] for m in sys.modules} & optional)))
"""


def _python(code: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ},
        check=False,
    )


def test_core_paths_import_no_optional_dependency():
    done = _python(CORE, *OPTIONAL)
    assert done.returncode == 0, done.stderr
    assert "usage: faultprobe" in done.stdout
    lines = [line.strip() for line in done.stdout.strip().splitlines()[-2:]]
    assert lines == ["core:", "figures: matplotlib"], done.stdout


BLOCKED = """
import sys
for name in sys.argv[1:]:
    sys.modules[name] = None  # as if not installed: importing it raises ImportError
from faultprobe.analysis import figures, pairs, faultstate
from faultprobe.cli.errors import one_line
import numpy as np
for call in (
    figures._pyplot,
    lambda: pairs.multitaper_amplitude(np.zeros((1, 64)), 0.01, 2.0),
    lambda: faultstate.change_points(np.zeros(40), 1.0, 5),
):
    try:
        call()
    except Exception as err:
        print(*one_line(err), sep=" | ")
"""


def test_a_missing_extra_is_one_line_naming_it():
    done = _python(BLOCKED, "matplotlib", "multitaper", "ruptures")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 3, done.stdout
    for line, module in zip(lines, ("matplotlib", "multitaper", "ruptures"), strict=True):
        assert f'{module} is not installed; pip install "faultprobe[analysis]"' in line
        assert line.endswith(f" | {EXIT['input']}"), line


def test_need(tmp_path, monkeypatch):
    assert need("json", extra="analysis").dumps([1]) == "[1]"
    with pytest.raises(MissingExtra, match=r'pip install "faultprobe\[datasets\]"') as info:
        need("faultprobe_not_a_module", extra="datasets", what="the thing")
    assert str(info.value).startswith("the thing: faultprobe_not_a_module is not installed")
    assert one_line(info.value) == (str(info.value), EXIT["input"]) and EXIT["input"] == 2
    # an ImportError inside an installed module is a broken install, not a missing extra
    (tmp_path / "fp_broken_extra.py").write_text("import fp_absent_dependency\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ImportError) as broken:
        need("fp_broken_extra", extra="analysis")
    assert not isinstance(broken.value, MissingExtra)
    assert broken.value.name == "fp_absent_dependency"
