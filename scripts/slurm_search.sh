#!/bin/bash
# Run `evosearch search` on a Ray cluster started inside one SLURM allocation: a Ray head on the
# first node, Ray workers on the others, the search driver on the head (--ray-address auto).
#
#   sbatch scripts/slurm_search.sh --supernet results/supernet-minilm-movie --space edgebert \
#       --objectives edgebert-energy --generations 40 --population 64 --run-name edgebert-slurm
#
# Arguments go to `evosearch search` unchanged. --workers defaults to the allocation's CPUs
# minus one (the driver's). After a preemption or timeout, resubmit with
#   sbatch scripts/slurm_search.sh --resume results/edgebert-slurm
# See docs/cluster.md.
#SBATCH --job-name=evosearch
#SBATCH --nodes=3
#SBATCH --ntasks-per-node=1
#SBATCH --cpus-per-task=16
#SBATCH --mem-per-cpu=4G
#SBATCH --time=04:00:00
#SBATCH --output=evosearch-%j.out

set -euo pipefail

# activate the environment that has evosearch installed (edit for your site)
# shellcheck source=/dev/null
if [ -n "${EVOSEARCH_VENV:-}" ]; then source "$EVOSEARCH_VENV/bin/activate"; fi

mapfile -t nodes < <(scontrol show hostnames "$SLURM_JOB_NODELIST")
head_node=${nodes[0]}
head_ip=$(srun --nodes=1 --ntasks=1 -w "$head_node" hostname --ip-address | awk '{print $1}')
port=${RAY_PORT:-6379}
export RAY_ADDRESS="$head_ip:$port"
cpus=${SLURM_CPUS_PER_TASK:-16}
# Ray's token authentication (on for `ray start --head` since Ray 2.59): one token for the head,
# the workers and the driver, handed to every srun step through the environment. Set
# RAY_AUTH_MODE=disabled before sbatch to run without it.
export RAY_AUTH_MODE=${RAY_AUTH_MODE:-token}
if [ "$RAY_AUTH_MODE" = token ] && [ -z "${RAY_AUTH_TOKEN:-}" ]; then
    RAY_AUTH_TOKEN=$(python -c "import secrets; print(secrets.token_hex(32))")
    export RAY_AUTH_TOKEN
fi
wait_s=${RAY_START_WAIT:-15}  # seconds for the head, then the workers, to come up

echo "Ray head on $head_node ($RAY_ADDRESS); ${#nodes[@]} nodes x $cpus CPUs"
# the head keeps one CPU for the search driver
srun --nodes=1 --ntasks=1 -w "$head_node" \
    ray start --head --node-ip-address="$head_ip" --port="$port" --num-cpus=$((cpus - 1)) --block &
sleep "$wait_s"

for node in "${nodes[@]:1}"; do
    srun --nodes=1 --ntasks=1 -w "$node" ray start --address="$RAY_ADDRESS" --num-cpus="$cpus" --block &
done
sleep "$wait_s"

workers=$(( ${#nodes[@]} * cpus - 1 ))
args=("$@")
has_workers=0
for arg in "${args[@]}"; do
    if [ "$arg" = "--workers" ]; then has_workers=1; fi
done
if [ "$has_workers" = 0 ]; then args+=(--workers "$workers"); fi
# one torch thread per actor: actors are the parallelism
export OMP_NUM_THREADS=1
status=0
evosearch search --ray-address auto "${args[@]}" || status=$?

ray stop || true
exit "$status"
