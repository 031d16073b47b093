#!/usr/bin/env bash
# One-step install of evosearch and its dependencies.
# torch comes first: on a machine without a GPU, `pip install torch==2.13.0` takes the CPU build,
# and the package's own `torch>=2.2` requirement is then already met, so pip never pulls the
# several-GB CUDA build. Set EVOSEARCH_TORCH to choose another torch (e.g. "torch" for CUDA).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! python -c "import torch" 2>/dev/null; then
    python -m pip install "${EVOSEARCH_TORCH:-torch==2.13.0}"
fi
python -m pip install -e ".[dev]"
