"""One error vocabulary: every faultprobe exception is a FaultprobeError, the CLI maps by type.

The classes are found by walking the package, so a new class outside the base fails here;
a plain exception escaping a handler is a bug and must end in a traceback, not a line.
"""

from __future__ import annotations

import errno
import importlib
import inspect
import os
import pkgutil
import subprocess
import sys
from types import SimpleNamespace

import pytest

import faultprobe
from faultprobe import cli
from faultprobe.cli.errors import one_line
from faultprobe.errors import FaultprobeError


def _exception_classes() -> list[type[BaseException]]:
    found = []
    for mod in pkgutil.walk_packages(faultprobe.__path__, "faultprobe."):
        if mod.name.endswith(".__main__"):  # runs the command line when imported
            continue
        module = importlib.import_module(mod.name)
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if obj.__module__ == module.__name__ and issubclass(obj, BaseException):
                found.append(obj)
    return found


def test_every_exception_class_of_the_package_is_a_faultprobe_error():
    classes = _exception_classes()
    names = {c.__name__ for c in classes}
    assert {"ConfigError", "StoreLocked", "BadAnswer", "GridDeclined", "ModelError"} <= names
    outside = [
        f"{c.__module__}.{c.__qualname__}" for c in classes if not issubclass(c, FaultprobeError)
    ]
    assert outside == []
    assert {c.exit_code for c in classes} <= {1, 2, 3, 4, 5}


def test_classes_keep_the_builtin_bases_callers_catch():
    from faultprobe.catalogs.stations import StationError, StationServiceDown
    from faultprobe.errors import NotFoundError
    from faultprobe.ml.errors import ModelError
    from faultprobe.pipelines.errors import IngestError, ServiceUnavailable
    from faultprobe.store import StoreError
    from faultprobe.storelock import StoreLocked

    assert issubclass(ServiceUnavailable, IngestError) and issubclass(IngestError, ValueError)
    assert issubclass(StationServiceDown, StationError) and issubclass(ModelError, ValueError)
    assert issubclass(StoreLocked, StoreError) and issubclass(StoreError, RuntimeError)
    err = NotFoundError("station 'XX.NOPE' is not in the cube")
    assert isinstance(err, KeyError) and str(err) == "station 'XX.NOPE' is not in the cube"


def test_the_cli_maps_errors_by_type_alone():
    from distributed import KilledWorker

    from faultprobe.catalogs.stations import StationError, StationServiceDown
    from faultprobe.config import ConfigError
    from faultprobe.pipelines.errors import ServiceUnavailable
    from faultprobe.storelock import StoreLocked

    assert one_line(ConfigError("study.toml: bad key")) == ("study.toml: bad key", 2)
    assert one_line(ServiceUnavailable("the FDSN service is down")) == (
        "the FDSN service is down",
        3,
    )
    assert one_line(StoreLocked("held by ingest"))[1] == 4
    # the words of a message decide nothing: only the class does
    assert one_line(StationError("the FDSN station service knows none of X.Y"))[1] == 2
    assert one_line(StationServiceDown("cannot reach it"))[1] == 3

    class Elsewhere(FaultprobeError):
        exit_code = 5

    assert one_line(Elsewhere("full")) == ("full", 5)
    assert one_line(OSError(errno.ENOSPC, "No space left on device", "/s/x.zarr"))[1] == 5
    worker = SimpleNamespace(address="tcp://127.0.0.1:1")  # what the scheduler names
    assert one_line(KilledWorker("task", worker, 3))[1] == 2
    for bug in (KeyError("x"), ValueError("x"), RuntimeError("x"), TypeError("x")):
        assert one_line(bug) is None


def test_an_expected_failure_is_one_line_and_debug_shows_its_traceback(tmp_path, capsys):
    from faultprobe.config import ConfigError

    missing = str(tmp_path / "nope.toml")
    assert cli.main(["cluster-spec", missing]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and missing in err and len(err.splitlines()) == 1
    with pytest.raises(ConfigError, match="cannot read config"):
        cli.main(["cluster-spec", missing, "--debug"])


def test_a_plain_key_error_in_a_handler_is_a_traceback(tmp_path):
    code = (
        "import sys\n"
        "import faultprobe.cli.commands as c\n"
        "c.cmd_info = lambda args: {}['no such key']\n"  # a bug inside a handler
        "from faultprobe.cli import main\n"
        f"sys.exit(main(['info', {str(tmp_path)!r}]))\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=os.environ, timeout=120
    )
    assert run.returncode == 1
    assert "Traceback (most recent call last)" in run.stderr
    assert "KeyError: 'no such key'" in run.stderr and "error: " not in run.stderr


def test_help_says_what_debug_does(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    out = capsys.readouterr().out
    assert "--debug" in out and "traceback of an expected failure" in out
