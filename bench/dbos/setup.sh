#!/usr/bin/env bash
# Creates .venv-dbos at the repository root with DBOS pinned, for bench/dbos/dbos_bench.py.
# DBOS stays out of Stalwart's own environments.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
python3 -m venv "$root/.venv-dbos"
"$root/.venv-dbos/bin/pip" install --quiet -r "$root/bench/dbos/requirements.txt"
