#!/usr/bin/env bash
# Create .venv and install the workbench with its dev and ray extras (CPU torch; see MODELS in README).
# The ray extra is optional for users; CI installs it so the Ray-engine tests run.
# Once installed, a run with an unchanged pyproject.toml returns at once (pip resolving every
# dependency again cost seconds to minutes on each `scripts/app.sh`); `--force` reinstalls.
set -euo pipefail
cd "$(dirname "$0")/.."
stamp=".venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)"
if [ "${1:-}" != "--force" ] && [ -f "$stamp" ] && [ -x .venv/bin/python ]; then
  echo "setup: .venv is up to date with pyproject.toml (scripts/setup.sh --force reinstalls)"
  exit 0
fi
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[dev,ray]"
rm -f .venv/.installed-*
touch "$stamp"
