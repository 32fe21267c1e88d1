#!/usr/bin/env bash
# Create .venv and install the workbench with its dev and ray extras (CPU torch; see MODELS in README).
# The ray extra is optional for users; CI installs it so the Ray-engine tests run.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[dev,ray]"
