#!/usr/bin/env bash
# An equal-budget probe of the encoder: stage 1 of train-synth-cpu (the per-frame model) for the
# same number of steps from three starts, each measured on LSP-dev and synthbench-test.
#
#   bash scripts/pretrained_probe.sh DATA OUT [STEPS]
#
# DATA holds synth/train (the training sequences), synth/val and synth/test (synthbench-test);
# STEPS (default 600) stage-1 steps of batch 16 at 128 px, cosine schedule, 50 warm-up steps.
# Runs: resnet18 from scratch (the shipped recipe's encoder), efficientnet-lite0 from scratch, and
# efficientnet-lite0 from ImageNet (encoder learning rate a quarter of the head's); with
# PROBE_RUNS="lite0-imagenet-frozen-bn lite0-imagenet-160" the ImageNet start with the encoder's
# batch norms frozen, and at 160 px. Each run's eval tables go to OUT/NAME/{lsp,synthbench}.txt.
set -euo pipefail
data=$1
out=$2
steps=${3:-600}
lsp=${LSP_DEV:-../shared/real_images/lsp_dev}
common=(--set stage1.epochs=1 --set stage1.iterations_per_epoch="$steps" --set stage1.warmup=50 --set precision=fp32)
run() {
  local name=$1; shift
  /usr/bin/time -f "$name: %e s, peak RSS %M KB" python -m staf.cli train --preset train-synth-cpu --stage 1 \
    --out "$out/$name" --data-root "$data" --force "${common[@]}" "$@" 2>&1 | grep -v "it/s\|s/it" | tail -3
  python -m staf.cli eval --checkpoint "$out/$name/stage1/best.pt" --data lsp --data-root "$lsp" \
    --out "$out/$name/eval-lsp" 2>/dev/null | tee "$out/$name/lsp.txt"
  python -m staf.cli eval --checkpoint "$out/$name/stage1/best.pt" --data "$data/synth/test/synth_test_db.pt" \
    --image-root "$data/synth/test" --out "$out/$name/eval-synthbench" 2>/dev/null | tee "$out/$name/synthbench.txt"
}
imagenet=(--set model.backbone=efficientnet-lite0 --set model.pretrained=imagenet --set stage1.encoder_lr=0.00005)
declare -A runs=(
  [resnet18-scratch]=""
  [lite0-scratch]="--set model.backbone=efficientnet-lite0"
  [lite0-imagenet]="${imagenet[*]}"
  [lite0-imagenet-frozen-bn]="${imagenet[*]} --set freeze_encoder_batchnorm=true"
  [lite0-imagenet-160]="${imagenet[*]} --set model.image_size=160"
)
# PROBE_RUNS: which runs, in order (default: the first three)
for name in ${PROBE_RUNS:-resnet18-scratch lite0-scratch lite0-imagenet}; do
  # shellcheck disable=SC2086
  run "$name" ${runs[$name]}
done
