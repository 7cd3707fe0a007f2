#!/usr/bin/env bash
# Reruns the figures in docs/benchmarks.md. Needs full MNIST: MNISTLAB_DATA=<folder with mnist/> or network access.
# Usage: benchmarks/run.sh cpu|gpu [results-dir]
set -euo pipefail
where=${1:?usage: benchmarks/run.sh cpu|gpu [results-dir]}
out=${2:-benchmarks/results}
mkdir -p "$out"
case "$where" in
  cpu)
    # The acceptance command, with torch's default threads and with one thread (see the docs for why).
    mnistlab bench --device cpu --seeds 3 --recipes fast-reference,mnistlab-fast --target 0.99 --out "$out/cpu.json"
    mnistlab bench --device cpu --seeds 3 --recipes fast-reference,mnistlab-fast --target 0.99 --threads 1 --out "$out/cpu-1thread.json"
    python benchmarks/levers.py --seeds 3 --out "$out/cpu-levers.json"
    ;;
  gpu)
    mnistlab bench --device cuda --seeds 5 --target 0.99 --out "$out/gpu-99.json"
    mnistlab bench --device cuda --seeds 5 --recipes fast-reference,mnistlab-fast,mnistlab-best --target 0.995 --out "$out/gpu-99.5.json"
    ;;
  *) echo "usage: benchmarks/run.sh cpu|gpu [results-dir]" >&2; exit 2 ;;
esac
