#!/usr/bin/env bash
# TAR at STAF's budget (issue 28, part 5): both on the ImageNet-trained EfficientNet-Lite0 of
# train-synth-cpu-imagenet (batch norms frozen, the encoder at a quarter of the head's learning
# rate, 128-px crops, the preset's precision), on one data set, with the same number of stage-1
# steps; then the Table-4 ablations of TAR (stage 2 without LTE, without GTE) from the same
# stage-1 model. Each model is measured on synthbench-test and on LSP-dev.
#
#   bash scripts/equal_budget_probe.sh DATA OUT [EPOCHS] [STEPS_PER_EPOCH] [WARMUP]
#
# DATA holds synth/train, synth/val and synth/test (staf synth --preset synth-train / synth-val /
# synthbench-test). Stage 1: EPOCHS x STEPS_PER_EPOCH steps of 16 with WARMUP warm-up steps,
# cosine (default 7 x 600 and 200: train-synth-cpu-imagenet's own); stage 2: each preset's own
# (8 x 60 steps of 16 windows). MODELS (default "staf tar") picks what is trained: "tar" alone
# when the STAF run of the same budget is already measured; EVAL_LIMIT=N measures only the first
# N images and sequences (a smoke run). Every model's tables go to
# OUT/NAME/{lsp,synthbench}.txt and OUT/NAME/eval-*/metrics.json; `time.txt` holds the times.
set -euo pipefail
if [[ $# -lt 2 ]]; then
  echo "usage: bash scripts/equal_budget_probe.sh DATA OUT [EPOCHS] [STEPS_PER_EPOCH] [WARMUP]" >&2; exit 2
fi
data=$1
out=$2
epochs=${3:-7}
steps=${4:-600}
warmup=${5:-200}
models=${MODELS:-staf tar}
lsp=${LSP_DEV:-../shared/real_images/lsp_dev}
limit=(${EVAL_LIMIT:+--max-sequences "$EVAL_LIMIT"})  # a smoke run measures only the first N
test_db="$data/synth/test/synth_test_db.pt"
encoder=(--set model.backbone=efficientnet-lite0 --set model.pretrained=imagenet --set stage1.encoder_lr=0.00005
         --set freeze_encoder_batchnorm=true --set model.image_size=128)
stage1=(--set stage1.epochs="$epochs" --set stage1.iterations_per_epoch="$steps" --set stage1.warmup="$warmup")
for db in "$data/synth/train/synth_train_db.pt" "$data/synth/val/synth_val_db.pt" "$test_db"; do
  [[ -f $db ]] || { echo "error: $db is missing: make it with staf synth (see the header)" >&2; exit 2; }
done
mkdir -p "$out"

train() {  # NAME ARGS...: one `staf train`, timed
  local name=$1; shift
  echo "$(date -u +%H:%M:%S) training $name"
  /usr/bin/time -a -o "$out/time.txt" -f "$name: %e s, peak RSS %M KB" \
    python -m staf.cli train --out "$out/$name" --data-root "$data" --force --device cpu "$@" 2>&1 \
    | tr '\r' '\n' | grep -v "it/s\|s/it" | tail -4
}
measure() {  # NAME CHECKPOINT: LSP-dev and synthbench-test
  local name=$1 checkpoint=$2
  echo "$(date -u +%H:%M:%S) measuring $name"
  mkdir -p "$out/$name"
  python -m staf.cli eval --checkpoint "$checkpoint" --data lsp --data-root "$lsp" --out "$out/$name/eval-lsp" \
    --force --device cpu "${limit[@]}" 2>/dev/null | tee "$out/$name/lsp.txt"
  python -m staf.cli eval --checkpoint "$checkpoint" --data "$test_db" --image-root "$data/synth/test" \
    --out "$out/$name/eval-synthbench" --force --device cpu "${limit[@]}" 2>/dev/null | tee "$out/$name/synthbench.txt"
}

if [[ " $models " == *" staf "* ]]; then
  train staf --preset train-synth-cpu-imagenet --stage both "${stage1[@]}"
  measure staf-base "$out/staf/stage1/best.pt"
  measure staf "$out/staf/stage2/best.pt"
fi
if [[ " $models " == *" tar "* ]]; then
  train tar --preset tar-synth-cpu --stage both "${encoder[@]}" "${stage1[@]}"
  measure tar "$out/tar/stage2/best.pt"
  for variant in no-lte no-gte; do
    train "tar-$variant" --preset tar-synth-cpu --stage 2 --init "$out/tar/stage1/best.pt" "${encoder[@]}" \
      --set "model.variant=$variant"
    measure "tar-$variant" "$out/tar-$variant/stage2/best.pt"
  done
  measure tar-single "$out/tar/stage1/best.pt"
fi
cat "$out/time.txt"
