#!/usr/bin/env bash
# Regenerates results/reference/: one small quickstart run (front table, plots, pick, verification,
# report) kept in the repository so users see what to expect before running anything.
#   bash scripts/make_reference_run.sh [quickstart options, e.g. --threads 1]
set -euo pipefail
cd "$(dirname "$0")/.."
evosearch quickstart --output results/quickstart "$@"
run=results/quickstart/search
rm -rf results/reference && mkdir -p results/reference/plots
cp "$run"/final_front.csv "$run"/hypervolume.csv "$run"/config.yaml "$run"/baselines.csv results/reference/
cp "$run"/front_verification.csv "$run"/front_verification.json results/reference/
cp "$run"/plots/*.png results/reference/plots/
cp results/quickstart/pick.yaml results/quickstart/report.html results/reference/
cp results/quickstart/deployed/verification.json results/reference/
sed -i "s#$(pwd)/##g" results/reference/config.yaml results/reference/pick.yaml results/reference/report.html \
    results/reference/front_verification.json   # paths relative to the repository
python - <<'PY'
import json, pathlib
meta = json.loads(pathlib.Path("results/quickstart/supernet/supernet.json").read_text())["meta"]
pathlib.Path("results/reference/supernet_dev_accuracy.json").write_text(json.dumps(meta, indent=2))
PY
echo "results/reference/ regenerated"
