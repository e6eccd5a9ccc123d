#!/usr/bin/env bash
# Quick start, command 2: install with the test extras, check style and types,
# and run the whole test suite against a throwaway PostGIS and headless Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh --test
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy geogrid layers web
exec .venv/bin/pytest "$@"
