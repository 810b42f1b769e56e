#!/usr/bin/env bash
# Reproduce the TAR rows of docs/RESULTS.md: tar-synth-cpu both stages (the `tar` row), its
# stage-1 per-frame model, and the Table-4 ablations (stage 2 without LTE, without GTE) from the
# same stage-1 model, all evaluated on synthbench-test. Needs the data of scripts/synth_cpu_results.sh.
set -euo pipefail
DATA=${DATA:-data}
RUNS=${RUNS:-runs/synth-cpu}
DEVICE=${DEVICE:-cpu}
TEST="$DATA/synth/test/synth_test_db.pt"

/usr/bin/time -v staf train --preset tar-synth-cpu --stage both --out "$RUNS/tar" --data-root "$DATA" --device "$DEVICE"
staf eval --checkpoint "$RUNS/tar/stage2/best.pt" --data "$TEST" --image-root "$DATA/synth/test" --out "$RUNS/tar/eval" --device "$DEVICE"
mkdir -p "$RUNS/tar-single"
staf eval --checkpoint "$RUNS/tar/stage1/best.pt" --data "$TEST" --image-root "$DATA/synth/test" --out "$RUNS/tar-single/eval" --device "$DEVICE"
for variant in no-lte no-gte; do
  staf train --preset tar-synth-cpu --stage 2 --init "$RUNS/tar/stage1/best.pt" --set "model.variant=$variant" \
    --out "$RUNS/tar-$variant" --data-root "$DATA" --device "$DEVICE"
  staf eval --checkpoint "$RUNS/tar-$variant/stage2/best.pt" --data "$TEST" --image-root "$DATA/synth/test" \
    --out "$RUNS/tar-$variant/eval" --device "$DEVICE"
done
python scripts/results_table.py "$RUNS" > "$RUNS/results.md"
cat "$RUNS/results.md"
