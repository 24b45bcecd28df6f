#!/usr/bin/env bash
# Creates the project's virtual environment (.venv) with the development requirements.
# Idempotent: reinstalls only when requirements-dev.txt changed.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
stamp=.venv/.requirements-dev.installed
if [ ! -f "$stamp" ] || ! cmp -s requirements-dev.txt "$stamp"; then
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
    cp requirements-dev.txt "$stamp"
fi
