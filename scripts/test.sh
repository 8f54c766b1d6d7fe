#!/usr/bin/env bash
# Install faultprobe with its test extras (CPU build of torch) and run lint + the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install -q --disable-pip-version-check torch==2.13.0
python3 -m pip install -q --disable-pip-version-check -e ".[tests]"
python3 -m ruff check faultprobe tests benchmarks
python3 -m ruff format --check faultprobe tests benchmarks
python3 -m pytest -q "$@"
