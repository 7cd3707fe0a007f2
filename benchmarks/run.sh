#!/usr/bin/env bash
# Reruns the figures in docs/benchmarks.md. Needs full MNIST: MNISTLAB_DATA=<folder with mnist/> or network access.
# Usage: benchmarks/run.sh cpu|gpu|suite|paper [results-dir]
set -euo pipefail
where=${1:?usage: benchmarks/run.sh cpu|gpu|suite|paper [results-dir]}
out=${2:-benchmarks/results}
mkdir -p "$out"
case "$where" in
  cpu)
    # The acceptance command, with torch's default threads and with one thread (see the docs for why).
    mnistlab bench --device cpu --seeds 3 --recipes fast-reference,mnistlab-fast --target 0.99 --out "$out/cpu.json"
    mnistlab bench --device cpu --seeds 3 --recipes fast-reference,mnistlab-fast --target 0.99 --threads 1 --out "$out/cpu-1thread.json"
    python benchmarks/levers.py --seeds 3 --out "$out/cpu-levers.json"
    python benchmarks/kernels.py --json > "$out/kernels.json"
    python benchmarks/robust_recipe.py --rounds 3 --threads 1 --out "$out/cpu-robust-time.json"
    # The NumPy engine's default recipe beside PyTorch eager, step by step in turn (docs/scratch.md, section 6).
    python benchmarks/scratch_engine.py --seeds 0,1,2 --threads 1 --out "$out/cpu-scratch-engine.json"
    python benchmarks/targets.py cpu "$out"
    ;;
  gpu)
    # Every GPU target of the engine issue, in one command; the table at the end says which are met.
    mnistlab bench --device cuda --seeds 10 --recipes fast-reference,mnistlab-fast --target 0.99 --out "$out/gpu-99.json"
    mnistlab bench --device cuda --seeds 10 --recipes fast-reference,mnistlab-fast --target 0.99 --capture off --out "$out/gpu-99-eager.json"
    mnistlab bench --device cuda --seeds 5 --recipes mnistlab-best-short --target 0.995 --out "$out/gpu-99.5.json"
    mnistlab bench --device cuda --seeds 5 --recipes mnistlab-best --target 0.997 --max-epochs 15 --out "$out/gpu-best.json"
    python benchmarks/cold_start.py --device cuda --out "$out/gpu-cold-start.json"
    # The kernel diet's effect (kernels per step beside ms per replayed step) and fp32 / TF32 / bf16 for the fast network.
    python benchmarks/gpu_step.py --seeds 5 --out "$out/gpu-step.json"
    python benchmarks/robust_recipe.py --rounds 3 --device cuda --out "$out/gpu-robust-time.json"
    mnistlab experiment run all --device cuda --out "$out/experiments-gpu" --json > "$out/gpu-experiments.json"
    python benchmarks/targets.py gpu "$out" | tee "$out/gpu-targets.md"
    ;;
  suite)
    # The CPU target for the twelve experiments at lecture settings: both cores, two experiments at a time (a thread
    # each); prints each experiment's wall and CPU seconds, the trainings one took from another, and the total.
    mnistlab experiment run all --device cpu --jobs 2 --out "$out/experiments-cpu" --json > "$out/cpu-experiments.json"
    python benchmarks/targets.py suite "$out" | tee "$out/cpu-suite.md"
    ;;
  paper)
    # Issue 28's held-out checks (docs/robustness.md, "The held-out paper suite"): a default and a robust run
    # trained here, the Targets table on the held-out suite, and the bad inputs through the real predict command.
    mnistlab train --out "$out/runs/default"
    mnistlab train --recipe robust --out "$out/runs/robust"
    python benchmarks/paper_suite.py "$out/runs/default" "$out/runs/robust" --out "$out/paper-suite.json"
    python benchmarks/bad_inputs.py "$out/runs/default" "$out/runs/robust" --out "$out/bad-inputs.json"
    ;;
  *) echo "usage: benchmarks/run.sh cpu|gpu|suite|paper [results-dir]" >&2; exit 2 ;;
esac
