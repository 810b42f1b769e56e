#!/usr/bin/env bash
# Reproduce docs/RESULTS.md: synthetic data, one stage-1 base model, the four variants' stage 2
# (same budget each), evaluation on synthbench-test, and the mean-pose baseline.
set -euo pipefail
DATA=${DATA:-data}
RUNS=${RUNS:-runs/synth-cpu}
DEVICE=${DEVICE:-cpu}
PRESET=${PRESET:-train-synth-cpu}

staf synth --out "$DATA/synth/train" --preset synth-train
staf synth --out "$DATA/synth/val" --preset synth-val
staf synth --out "$DATA/synth/test" --preset synthbench-test --preview
TEST="$DATA/synth/test/synth_test_db.pt"

staf train --preset "$PRESET" --stage 1 --out "$RUNS/shared" --data-root "$DATA" --device "$DEVICE"
staf eval --mean-pose --data "$TEST" --image-root "$DATA/synth/test" --out "$RUNS/mean-pose/eval"
for variant in base base+apm base+stf staf; do
  staf train --preset "$PRESET" --stage 2 --init "$RUNS/shared/stage1/best.pt" --set "model.variant=$variant" \
    --out "$RUNS/$variant" --data-root "$DATA" --device "$DEVICE"
  staf eval --checkpoint "$RUNS/$variant/stage2/best.pt" --data "$TEST" --image-root "$DATA/synth/test" \
    --out "$RUNS/$variant/eval" --device "$DEVICE"
done
python scripts/results_table.py "$RUNS" > "$RUNS/results.md"
cat "$RUNS/results.md"
