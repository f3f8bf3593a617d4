#!/usr/bin/env bash
# Install tonghop in .venv and run the demo: the seed committee's returns through the real
# intake, then the 2024-H1 report in demo/outbox/2024-H1/.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e .
.venv/bin/tonghop demo "$@"
