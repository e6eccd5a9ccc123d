#!/usr/bin/env bash
# Quick start, command 1: install, start the managed PostGIS, build the demo
# county (first run only) and serve the viewer on http://127.0.0.1:8750/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
# the demo county's bank, in the viewer's title (a bank sets its own name)
export GEOGRID_BANK_NAME="${GEOGRID_BANK_NAME:-青溪县农商银行}"
exec .venv/bin/geogrid up "$@"
