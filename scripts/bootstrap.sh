#!/usr/bin/env bash
# Install what geogrid needs on Debian or Ubuntu: Debian packages for PostgreSQL
# and PostGIS, a virtual environment in .venv and the package itself.
#   scripts/bootstrap.sh          the viewer and CLI
#   scripts/bootstrap.sh --test   plus Chromium and the test extras
set -euo pipefail
cd "$(dirname "$0")/.."

with_tests=0
[[ "${1:-}" == "--test" ]] && with_tests=1

sudo_cmd=""
if [[ "$(id -u)" -ne 0 ]]; then sudo_cmd="sudo"; fi

packages=(python3 python3-venv python3-dev postgresql-postgis)
if [[ $with_tests -eq 1 ]]; then packages+=(chromium); fi

missing=()
for pkg in "${packages[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [[ ${#missing[@]} -gt 0 ]]; then
  echo "geogrid: installing Debian packages: ${missing[*]}"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq \
    --no-install-recommends "${missing[@]}" >/dev/null
fi

python=${PYTHON:-python3}
if [[ ! -x .venv/bin/python ]]; then
  echo "geogrid: creating .venv"
  "$python" -m venv .venv
fi
extras=""
if [[ $with_tests -eq 1 ]]; then extras="[test]"; fi
stamp=".venv/.geogrid-installed$extras"
if [[ ! -f "$stamp" || pyproject.toml -nt "$stamp" ]]; then
  echo "geogrid: installing Python packages into .venv"
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -e ".$extras"
  touch "$stamp"
fi
