#!/usr/bin/env bash
# Run the test suite (as root: the tests start real daemons and containers).
set -euo pipefail
cd "$(dirname "$0")/.."
exec python3 -m pytest -q "$@"
