#!/usr/bin/env bash
# One command: install (skipped when .venv matches pyproject.toml), then start the app on the demo
# workspace (built on first start, with a measured time left on the page).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
exec .venv/bin/streamlit run app.py --server.address 127.0.0.1 --browser.gatherUsageStats false "$@"
