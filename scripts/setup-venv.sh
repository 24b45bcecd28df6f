#!/usr/bin/env bash
# Creates a project virtual environment with a requirements file, and installs this project
# (the C++ engine and the Python package) into it. Idempotent: requirements are reinstalled
# only when the file changed; the package is rebuilt incrementally.
#   scripts/setup-venv.sh [VENV_DIR] [REQUIREMENTS] [--with-package]
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${1:-.venv}
requirements=${2:-requirements-dev.txt}
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
stamp="$venv/.requirements.installed"
if [ ! -f "$stamp" ] || ! cmp -s "$requirements" "$stamp"; then
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
    cp "$requirements" "$stamp"
fi
if [ "${3:-}" = "--with-package" ]; then
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-build-isolation \
        --no-deps --force-reinstall .
fi
