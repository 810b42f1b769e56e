#!/usr/bin/env bash
# A small `staf train` + `staf eval` run, to compare two versions of the code on the same data.
#
#   bash scripts/check_train_eval_unchanged.sh OUT [DATA]      # the installed code
#   PYTHONPATH=OLD/src bash scripts/check_train_eval_unchanged.sh OUT_OLD [DATA]   # another checkout's
#
# DATA (default /tmp/staf-tiny-data) gets 3 + 2 synthetic sequences of 24 frames the first time.
# Both stages of train-synth-cpu for 3 steps of batch 2, then staf eval of stage 2's best.pt and
# of the mean pose on the validation sequences. Compare two OUT folders with
#   cmp OLD/eval/per_sequence.csv NEW/eval/per_sequence.csv
# and the checkpoints' state dicts (docs/demo.md, "Checking a change of the pipeline").
set -euo pipefail
out=$1
data=${2:-/tmp/staf-tiny-data}
if [ ! -f "$data/synth/train/synth_train_db.pt" ]; then
  python -m staf.cli synth --sequences 3 --frames 24 --seed 3 --size 128 --crop-size 128 --split train --out "$data/synth/train" > /dev/null
  python -m staf.cli synth --sequences 2 --frames 24 --seed 4 --size 128 --crop-size 128 --split val --out "$data/synth/val" > /dev/null
fi
sets=()
for key in stage1.epochs=1 stage1.iterations_per_epoch=3 stage1.batch_size=2 stage1.warmup=1 stage2.epochs=1 \
           stage2.iterations_per_epoch=3 stage2.batch_size=2 stage2.warmup=1 val_windows=8 precision=fp32; do
  sets+=(--set "$key")
done
python -m staf.cli train --preset train-synth-cpu --out "$out/run" --data-root "$data" --force "${sets[@]}"
python -m staf.cli eval --checkpoint "$out/run/stage2/best.pt" --data "$data/synth/val/synth_val_db.pt" \
  --image-root "$data/synth/val" --out "$out/eval"
python -m staf.cli eval --mean-pose --data "$data/synth/val/synth_val_db.pt" --image-root "$data/synth/val" \
  --out "$out/eval-mean"
