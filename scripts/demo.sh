#!/usr/bin/env bash
# Install faultprobe (CPU build of torch) and run the main job on the embedded synthetic default.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/venv.sh
"$PY" -m pip install -q --disable-pip-version-check torch==2.13.0
"$PY" -m pip install -q --disable-pip-version-check -e ".[analysis]"
"$(dirname "$PY")/faultprobe" demo "$@"
