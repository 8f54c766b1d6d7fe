#!/usr/bin/env bash
# Install faultprobe with every extra and its test extras (CPU build of torch), at the
# versions the suite passes on (constraints.txt), and run lint + the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/venv.sh
"$PY" -m pip install -q --disable-pip-version-check torch==2.13.0
"$PY" -m pip install -q --disable-pip-version-check -c constraints.txt -e ".[all,tests]"
"$PY" -m ruff check faultprobe tests benchmarks
"$PY" -m ruff format --check faultprobe tests benchmarks
# Two processes, one test file each at a time: the servers and clusters many tests wait
# on leave the cores idle otherwise (about 10 min instead of 15 on 2 cores); -n 0 for one.
"$PY" -m pytest -q -n 2 --dist loadfile "$@"
