"""The built wheel is a working install: in a fresh virtual environment outside the checkout,
with no PYTHONPATH and no editable faultprobe, `faultprobe demo` (small) writes its report.

The new environment sees this environment's dependencies through a .pth line naming its
site-packages: a path line does not process the .pth files in that folder, so the editable
install's finder stays off and `import faultprobe` can only find the wheel's copy.
"""

from __future__ import annotations

import os
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: The demo, small: a few hundred events, one seed, one epoch, one worker (~30 s).
SMALL = [
    "synthetic.background_per_day=3.0",
    "synthetic.omori_k=10.0",
    "train.epochs=1",
    "train.seeds=[1]",
    "experiments.bands.bands=[[10.0, 20.0]]",
    "experiments.bands.seeds=[1]",
    "experiments.false_dates.seeds=[1]",
    "experiments.pairs.max_pairs=10",
    "cluster.n_workers=1",
]

pytestmark = pytest.mark.slow


def _run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: float) -> str:
    done = subprocess.run(
        cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, (cmd, done.returncode, done.stdout[-3000:], done.stderr[-3000:])
    return done.stdout


@pytest.fixture(scope="module")
def wheel_env(tmp_path_factory) -> tuple[Path, Path, dict[str, str]]:
    """(the wheel, the new environment's bin folder, its environment without PYTHONPATH)."""
    tmp = tmp_path_factory.mktemp("wheel")
    assert not tmp.resolve().is_relative_to(ROOT)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    build = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation"]
    _run([*build, "-w", str(tmp / "dist"), str(ROOT)], tmp, env, 600)
    (wheel,) = (tmp / "dist").glob("faultprobe-*.whl")
    venv = tmp / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], tmp, env, 300)
    py = venv / "bin" / "python"
    install = [sys.executable, "-m", "pip", "--python", str(py), "install", "-q"]
    _run([*install, "--no-deps", "--no-index", str(wheel)], tmp, env, 300)
    purelib = _run(
        [str(py), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], tmp, env, 60
    )
    Path(purelib.strip(), "test-env-dependencies.pth").write_text(
        "".join(f"{p}\n" for p in site.getsitepackages())
    )
    return wheel, venv / "bin", env


def test_wheel_holds_the_configs(wheel_env):
    wheel, _, _ = wheel_env
    names = zipfile.ZipFile(wheel).namelist()
    for config in sorted((ROOT / "configs").glob("*.toml")):
        assert f"faultprobe/configs/{config.name}" in names
        packaged = zipfile.ZipFile(wheel).read(f"faultprobe/configs/{config.name}")
        assert packaged == config.read_bytes()
    assert "faultprobe/testing/__init__.py" in names  # the fixtures, for users' own tests


def test_faultprobe_demo_runs_from_the_wheel(wheel_env, tmp_path):
    _, bin_, env = wheel_env
    where = _run(
        [str(bin_ / "python"), "-c", "import faultprobe; print(faultprobe.__file__)"],
        tmp_path,
        env,
        120,
    )
    assert Path(where.strip()).resolve().is_relative_to(bin_.parent.resolve()), where
    sets = [arg for item in SMALL for arg in ("--set", item)]
    out = _run([str(bin_ / "faultprobe"), "demo", "-q", "--out", "demo", *sets], tmp_path, env, 600)
    index = tmp_path / "demo" / "study" / "report" / "index.html"
    assert f"report: {index.resolve()}" in out, out
    assert index.stat().st_size > 1000
