"""Training of any registered model in the stages of its recipe, with exact resume and
data-parallel processes.

Each stage trains the architecture its :class:`~staf.models.base.StageRecipe` names; a later
stage starts from the previous stage's checkpoint except for the ``fresh`` parameters, keeps the
``frozen`` ones fixed, and with ``cached_features`` computes the frozen encoder's feature maps
once per frame and caches them on disk in float16, so epochs never run the encoder. For STAF
(§IV-C): stage 1 the single-frame base model end to end; stage 2 the configured variant with
TCFM and SAFM fresh and the encoder frozen.

Optimiser Adam; ReduceLROnPlateau (×0.1 after ``patience`` epochs without a better validation
MPJPE); gradient clipping; a checkpoint every epoch (``last.pt``: weights, optimiser, scheduler,
RNG, epoch, history) and the best by validation (``best.pt``); TensorBoard scalars; tqdm bars.
Under ``torchrun`` each process takes its share of the same global batch (gloo on CPU, nccl on
GPU) and DistributedDataParallel averages the gradients.
"""

from __future__ import annotations

import dataclasses
import sys
import hashlib
import math
import os
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from staf.body import BodyModel
from staf.config import plain, to_dict
from staf.errors import MalformedFileError, StafError
from staf.models.backbone import resolve_precision
from staf.evaluation import metrics
from staf.models.base import BodyPrediction, MeshRecoveryModel, SequenceInput, StageRecipe
from staf.models.checkpoint import save_checkpoint
from staf.models.files import load_state_dict_strict, read_torch_file
from staf.models.registry import build_model, model_class
from staf.training import augment
from staf.training.config import StageConfig, TrainConfig
from staf.training.data import WindowSource, draw_windows, shard
from staf.body.joint_sets import LSP14_HIPS, SPIN49_LSP14
from staf.training.losses import Targets, total_loss


def stage_settings(config: TrainConfig, stage: int) -> StageConfig:
    """The optimisation settings of stage ``stage``: the preset's ``stage1`` for the first stage,
    ``stage2`` for every later one (a recipe of more than two stages trains each later stage with
    them)."""
    if stage < 1:
        raise StafError(f"stages count from 1, got {stage}")
    return config.stage1 if stage == 1 else config.stage2


def stage_recipe(config: TrainConfig, stage: int) -> StageRecipe:
    """The recipe of training stage ``stage`` (1-based) of the configured model."""
    stages = model_class(config.model_name).training_stages(config.model)
    if not 1 <= stage <= len(stages):
        raise StafError(f"model '{config.model_name}' trains in {len(stages)} stage(s); there is no stage {stage}")
    return stages[stage - 1]


def select_frames(targets: Targets, batch: int, length: int, index: int) -> Targets:
    """The targets of window frame ``index`` from targets of every frame (B·T leading)."""
    return Targets(**{f.name: getattr(targets, f.name).reshape(batch, length, *getattr(targets, f.name).shape[1:])[:, index]
                      for f in dataclasses.fields(targets)})


def flatten_frames(prediction: BodyPrediction) -> BodyPrediction:
    """(B, T, …) stage-1 prediction → (B·T, …)."""
    return prediction.map(lambda tensor: tensor.flatten(0, 1))


class FeatureCache:
    """The frozen per-frame features (``model.frame_features``: STAF's encoder map φ0 (N, C, h, w),
    TAR's global vector and local map) of every frame of a source, float16, memory-mapped.
    Keyed on the crops, the precision, the model's class and the weights of the ``frozen`` modules."""

    def __init__(self, source: WindowSource, model: MeshRecoveryModel, device, progress: bool, rank: int,
                 frozen: tuple[str, ...] = ("encoder.",)) -> None:
        digest = hashlib.sha1(b"" if model.encoder.dtype is None else str(model.encoder.dtype).encode())
        digest.update(source.content_key.encode())                 # the crops the features come from
        if model.name != "staf":                                   # (STAF's caches keep their old names)
            digest.update(model.name.encode())
        for name, tensor in model.state_dict().items():
            if name.startswith(frozen):
                digest.update(tensor.detach().cpu().numpy().tobytes())
        path = source.path.parent / "cache" / f"{source.path.stem}_features_{source.image_size}_{digest.hexdigest()[:12]}.npy"
        if rank == 0 and not path.is_file():
            self._compute(source, model, device, path, progress)
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.barrier()
        self.features = np.load(path, mmap_mode="r")

    @staticmethod
    @torch.no_grad()
    def _compute(source: WindowSource, model: MeshRecoveryModel, device, path: Path, progress: bool) -> None:
        from staf.data.crops import normalise

        model.eval()
        count = len(source.crops)
        probe = model.frame_features(normalise(source.crops[:1]).to(device))
        cache = np.lib.format.open_memmap(path.with_suffix(".partial.npy"), mode="w+", dtype=np.float16,
                                          shape=(count, *probe.shape[1:]))
        for start in tqdm(range(0, count, 64), desc=f"caching features of {source.path.name}", disable=not progress):
            images = normalise(source.crops[start : start + 64]).to(device)
            cache[start : start + len(images)] = model.frame_features(images).cpu().numpy().astype(np.float16)
        cache.flush()
        del cache
        path.with_suffix(".partial.npy").replace(path)

    def windows(self, rows: np.ndarray) -> torch.Tensor:
        """(B, T) frame rows → (B, T, C, h, w) float32."""
        return torch.from_numpy(self.features[rows.reshape(-1)].astype(np.float32)).reshape(*rows.shape, *self.features.shape[1:])


class Trainer:
    """One training stage.

    Args:
        config: the training configuration.
        out: folder of this stage (``last.pt``, ``best.pt``, ``tensorboard/``).
        stage: 1-based index into the model's recipe (``training_stages``).
        device: where to train.
        init: for a later stage, the previous stage's checkpoint to start from; for stage 1, an
            optional trained model of the same class to fine-tune from.
        progress: show progress bars (rank 0 only).
    """

    def __init__(self, config: TrainConfig, out: str | Path, stage: int, device: str | torch.device = "cpu",
                 init: str | Path | None = None, progress: bool = True) -> None:
        self.recipe = stage_recipe(config, stage)
        self.config, self.stage, self.out = config, stage, Path(out)
        self.settings: StageConfig = stage_settings(config, stage)
        self.rank, self.world = _distributed_setup(device)
        self.device = torch.device(device)
        self.progress = progress and self.rank == 0
        torch.manual_seed(config.seed)
        body = BodyModel.load(config.body_model, device=self.device)
        self.model = build_model(config.model_name, self.recipe.config, body).to(self.device)
        precision, note = resolve_precision(config.precision, self.device)
        if note and self.rank == 0 and progress:
            print(note, file=sys.stderr)
        self.precision = precision
        self.model.encoder.set_precision(precision)
        if stage > 1:
            self._initialise_from_previous_stage(init)
        elif init is not None:
            self._initialise_from_model(init)
        elif getattr(self.model.config, "pretrained", None):
            self.model.encoder.load_pretrained(self.model.config.pretrained)
            if self.rank == 0 and progress:
                print(f"stage 1 starts the {self.model.config.backbone} encoder from its "
                      f"{self.model.config.pretrained} weights", file=sys.stderr)
        self._freeze()
        seq_len, size = self.model.config.seq_len, self.model.config.image_size
        if not config.train:
            raise StafError("the configuration has no training sources ('train')")
        self.sources = [WindowSource(source, seq_len, size, self.progress, config.crop) for source in config.train]
        self.val = WindowSource(config.val, seq_len, size, self.progress, config.crop) if config.val else None
        self.features = None
        if self.recipe.cached_features:
            frozen = self.recipe.frozen
            self.features = [FeatureCache(s, self.model, self.device, self.progress, self.rank, frozen)
                             for s in self.sources]
            self.val_features = (FeatureCache(self.val, self.model, self.device, self.progress, self.rank, frozen)
                                 if self.val else None)
        # the fused kernel: the same update as the loop, in one pass (≈ 20 ms less per CPU step)
        self.optimizer = torch.optim.Adam(self._parameter_groups(), lr=self.settings.lr,
                                          weight_decay=self.settings.weight_decay,
                                          fused=self.device.type in ("cpu", "cuda"))
        self.scheduler = make_scheduler(self.optimizer, self.settings)
        self.network = self.model
        if self.world > 1:
            # the body model's buffers are constant assets (one of them sparse): nothing to sync
            body_buffers = [f"body.{name}" for name, _ in self.model.body.named_buffers()]
            torch.nn.parallel.DistributedDataParallel._set_params_and_buffers_to_ignore_for_model(self.model, body_buffers)
            self.network = torch.nn.parallel.DistributedDataParallel(
                self.model, find_unused_parameters=not config.losses.all_stages)
        self.epoch, self.best, self.history = 0, float("inf"), []
        self.writer = None

    # -------------------------------------------------------------- set-up

    def _initialise_from_model(self, init: str | Path) -> None:
        """Stage 1 as a fine-tune: every weight of the stage's model from a trained model of the
        same class (a staf checkpoint or a packed ``.safetensors`` file, e.g. the shipped default);
        the weights only the later stage has (STAF's TCFM and SAFM) are left out and named."""
        from staf.models.checkpoint import load_checkpoint

        trained, _ = load_checkpoint(init, body=self.model.body, device=self.device)
        if trained.name != self.model.name:
            raise StafError(f"--init {init} holds a '{trained.name}' model; this preset trains '{self.model.name}'")
        own = self.model.state_dict()
        state = trained.state_dict()
        unused = sorted({key.split(".", 1)[0] for key in state if key not in own})
        load_state_dict_strict(self.model, {key: value for key, value in state.items() if key in own}, str(init))
        if self.progress:
            note = f" (not used by stage 1: {', '.join(unused)})" if unused else ""
            print(f"stage 1 starts from the weights of {init}{note}", file=sys.stderr)

    def _initialise_from_previous_stage(self, init: str | Path | None) -> None:
        """Every weight from the previous stage's checkpoint but the recipe's fresh ones."""
        if init is None:
            raise StafError(f"stage {self.stage} starts from stage {self.stage - 1}'s checkpoint: "
                            f"pass --init STAGE{self.stage - 1}/best.pt")
        payload = read_torch_file(init, f"stage-{self.stage - 1} checkpoint")
        state = payload.get("state_dict", {}) if isinstance(payload, dict) else {}
        own = self.model.state_dict()
        fresh = [k for k in own if k.startswith(self.recipe.fresh)] if self.recipe.fresh else []
        load_state_dict_strict(self.model, {**{k: own[k] for k in fresh}, **state}, str(init))

    def _parameter_groups(self) -> list[dict]:
        """The trainable parameters; with ``encoder_lr`` the encoder's in a group of their own."""
        trainable = [(name, p) for name, p in self.model.named_parameters() if p.requires_grad]
        if self.settings.encoder_lr is None:
            return [{"params": [p for _, p in trainable]}]
        encoder = [p for name, p in trainable if name.startswith("encoder.")]
        others = [p for name, p in trainable if not name.startswith("encoder.")]
        return [group for group in ({"params": others}, {"params": encoder, "lr": self.settings.encoder_lr})
                if group["params"]]

    def _freeze(self) -> None:
        for name, parameter in self.model.named_parameters():
            if self.recipe.frozen and name.startswith(self.recipe.frozen):
                parameter.requires_grad_(False)

    def _train_mode(self) -> None:
        self.model.train()
        for name, module in self.model.named_modules():
            if self.recipe.frozen and f"{name}.".startswith(self.recipe.frozen):
                module.eval()
        frozen_norms = ("",) if self.config.freeze_batchnorm else ("encoder.",) if self.config.freeze_encoder_batchnorm else ()
        for name, module in self.model.named_modules():
            if frozen_norms and f"{name}.".startswith(frozen_norms) and \
                    isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                module.eval()

    # -------------------------------------------------------------- loop

    def run(self, resume: bool = False, max_epochs: int | None = None) -> dict:
        """Train until the stage's last epoch (or for at most ``max_epochs`` epochs in this call:
        the run can be resumed later); returns the summary (best validation MPJPE, …)."""
        if resume:
            self._resume()
        if self.rank == 0:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(self.out / "tensorboard")
        last = self.settings.epochs if max_epochs is None else min(self.settings.epochs, self.epoch + max_epochs)
        for epoch in range(self.epoch, last):
            self.epoch = epoch
            self._train_epoch(epoch)
            validation = self.validate() if self.val is not None else {}
            score = validation.get("mpjpe", self.history[-1]["total"])
            if self.settings.schedule == "plateau":
                self.scheduler.step(score)
            self.epoch = epoch + 1
            improved = score < self.best
            self.best = min(self.best, score)
            if self.rank == 0:
                self._log_epoch(epoch, validation)
                self._save("last.pt", validation)
                if improved:
                    self._save("best.pt", validation)
        if self.writer is not None:
            self.writer.close()
        return {"best_val_mpjpe": self.best if self.val is not None else None, "best_train_loss":
                self.best if self.val is None else None, "epochs": self.epoch, "steps": len(self.history)}

    def _train_epoch(self, epoch: int) -> None:
        self._train_mode()
        bar = tqdm(range(self.settings.iterations_per_epoch), desc=f"stage {self.stage} epoch {epoch + 1}/{self.settings.epochs}",
                   disable=not self.progress)
        for step in bar:
            logged = self.train_step(epoch, step)
            self.history.append({"epoch": epoch, "step": step, **logged})
            if self.writer is not None:
                global_step = epoch * self.settings.iterations_per_epoch + step
                for name, value in logged.items():
                    self.writer.add_scalar(f"stage{self.stage}/train/{name}", value, global_step)
            bar.set_postfix(loss=f"{logged['total']:.4f}")

    def train_step(self, epoch: int, step: int) -> dict[str, float]:
        """One optimiser step on this rank's share of the global batch of (epoch, step)."""
        windows = draw_windows(self.sources, self.settings.batch_size, self.config.seed, self.stage, epoch, step)
        parts = shard(windows, self.rank, self.world)
        images, features, targets, geometry = self._assemble(parts)
        if not self.recipe.cached_features and self.config.augment.enabled:
            images, targets, geometry = self._augment(windows, images, targets, geometry, epoch, step)
        length = self.model.config.seq_len
        batch = targets.pose.shape[0] // length
        inputs = dataclasses.replace(geometry, crops=images).to(self.device)
        if self.recipe.cached_features:
            output = self.network(inputs, features=features.to(self.device), meshes=False)
        else:
            output = self.network(inputs, meshes=False)
        targets = targets.to(self.device)
        target = select_frames(targets, batch, length, length // 2)
        loss, logged = self._loss([flatten_frames(p) for p in output.frames], output.targets, targets, target,
                                  output.target_weights)
        if not torch.isfinite(loss):
            drawn = ", ".join(f"{source.path.name} windows {sorted(part.tolist())[:8]}" for source, part in
                              zip(self.sources, windows) if len(part))
            raise StafError(f"stage {self.stage} epoch {epoch + 1} step {step + 1}: the training loss is {loss.item()} "
                            f"(batch from {drawn}); the model is left as in the last checkpoint. Check those rows "
                            "of the data for NaN or extreme labels, or lower the learning rate")
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.settings.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_([p for p in self.model.parameters() if p.requires_grad], self.settings.grad_clip)
        self.optimizer.step()
        logged["lr"] = self.optimizer.param_groups[0]["lr"]
        if self.settings.schedule == "cosine":
            self.scheduler.step()
        return logged

    def _augment(self, windows: list[np.ndarray], images: torch.Tensor, targets: Targets, geometry: SequenceInput,
                 epoch: int, step: int):
        """Zoom/shift/colour per window, drawn for the global batch and sharded like it; the
        keypoints and the crops' boxes follow the image."""
        generator = np.random.default_rng([self.config.seed, self.stage, epoch, step, 1])
        drawn = augment.draw_parameters(self.config.augment, sum(len(w) for w in windows), generator)
        per_source = np.split(drawn, np.cumsum([len(w) for w in windows])[:-1])
        parameters = torch.from_numpy(np.concatenate(shard(per_source, self.rank, self.world)))
        images, joints2d = augment.apply(images, targets.joints2d, parameters)
        geometry = dataclasses.replace(geometry, boxes=augment.move_boxes(geometry.boxes, parameters))
        return images, dataclasses.replace(targets, joints2d=joints2d), geometry

    def _loss(self, frame_predictions: list[BodyPrediction], target_predictions: list[BodyPrediction],
              all_frames: Targets, target: Targets, target_weights: list[float] | None = None):
        """Eq. 11 over every output (``all_stages``; target outputs weighted as the model says,
        e.g. TAR's γ^(L−l)), or over the final one only (the official rule)."""
        weights = self.config.losses
        if weights.all_stages:
            first, first_logged = total_loss(frame_predictions, all_frames, weights)
            rest, rest_logged = total_loss(target_predictions, target, weights, target_weights)
            logged = {k: first_logged.get(k, 0.0) + rest_logged.get(k, 0.0) for k in rest_logged}
            logged["total"] = float((first + rest).detach())
            return first + rest, logged
        loss, logged = total_loss(target_predictions[-1:], target, weights)
        # the official rule trains the final output only; a zero-weighted term over the other
        # outputs keeps DistributedDataParallel's gradient bookkeeping complete (no effect on values)
        unused = sum(p.pose_6d.sum() + p.betas.sum() + p.cam.sum() for p in frame_predictions + target_predictions[:-1])
        return loss + 0.0 * unused, logged

    def _assemble(self, parts: list[np.ndarray]):
        """Images (or cached features), targets and the windows' geometry of a batch."""
        images, features, targets, geometry = [], [], [], []
        for index, (source, windows) in enumerate(zip(self.sources, parts)):
            if len(windows) == 0:
                continue
            image, target, rows = source.batch(windows, with_images=not self.recipe.cached_features)
            images.append(image)
            targets.append(target)
            geometry.append(source.geometry(rows))
            if self.recipe.cached_features:
                features.append(self.features[index].windows(rows))
        merged = Targets(**{f.name: torch.cat([getattr(t, f.name) for t in targets]) for f in dataclasses.fields(Targets)})
        cached = self.recipe.cached_features
        boxes = SequenceInput(crops=None, **{name: torch.cat([getattr(g, name) for g in geometry])
                                             for name in ("boxes", "image_size", "focal_length")})
        return (None if cached else torch.cat(images), torch.cat(features) if cached else None, merged, boxes)

    # -------------------------------------------------------------- validation

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        """MPJPE / PA-MPJPE (mm, LSP-14) of the target frames of evenly spaced validation windows."""
        self.model.eval()
        chosen = np.unique(np.linspace(0, len(self.val) - 1, min(self.config.val_windows, len(self.val))).astype(int))
        errors, aligned = [], []
        for start in range(0, len(chosen), 16):
            windows = chosen[start : start + 16]
            images, targets, rows = self.val.batch(windows, with_images=not self.recipe.cached_features)
            inputs = dataclasses.replace(self.val.geometry(rows), crops=images).to(self.device)
            if self.recipe.cached_features:
                output = self.model(inputs, features=self.val_features.windows(rows).to(self.device), meshes=False)
            else:
                output = self.model(inputs, meshes=False)
            length = self.model.config.seq_len
            target = select_frames(targets, len(windows), length, length // 2)
            predicted = output.final.joint_sets["spin49"][:, SPIN49_LSP14].cpu()
            truth = target.joints3d[:, SPIN49_LSP14]
            errors.append(metrics.mpjpe(predicted, truth, LSP14_HIPS))
            aligned.append(metrics.pa_mpjpe(predicted, truth))
        self._train_mode()
        return {"mpjpe": float(torch.cat(errors).mean()), "pa_mpjpe": float(torch.cat(aligned).mean())}

    # -------------------------------------------------------------- checkpoints

    def _save(self, name: str, validation: dict) -> None:
        training = {
            "stage": self.stage, "epoch": self.epoch, "best": self.best, "validation": validation,
            "optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
            "torch_rng": torch.get_rng_state(), "history": self.history,
            "config": self.config.to_dict(),
        }
        save_checkpoint(self.out / name, self.model, extra={"training": training}, crop=self.config.crop)

    def _resume(self) -> None:
        path = self.out / "last.pt"
        if not path.is_file():
            raise StafError(f"nothing to resume: {path} does not exist")
        try:
            payload = read_torch_file(path, "training checkpoint")
        except MalformedFileError as error:
            raise MalformedFileError(f"--resume: {error}. staf writes last.pt whole (a temporary file, then a rename), "
                                     "so it was damaged afterwards: restore a copy, or start over with --force") from None
        saved = plain(payload.get("config", {}))
        current = to_dict(self.model.config)
        if current != saved:
            changed = sorted(k for k in current if saved.get(k) != current[k])
            raise StafError(f"{path} was trained with a different architecture ({', '.join(changed)} differ); "
                            "resume with the same configuration or start a new --out folder")
        load_state_dict_strict(self.model, payload["state_dict"], str(path))
        training = payload["extra"]["training"]
        self.optimizer.load_state_dict(training["optimizer"])
        self.scheduler.load_state_dict(training["scheduler"])
        torch.set_rng_state(training["torch_rng"])
        self.epoch, self.best, self.history = training["epoch"], training["best"], list(training["history"])

    def _log_epoch(self, epoch: int, validation: dict) -> None:
        for name, value in validation.items():
            self.writer.add_scalar(f"stage{self.stage}/val/{name}", value, epoch + 1)
        self.writer.add_scalar(f"stage{self.stage}/lr", self.optimizer.param_groups[0]["lr"], epoch + 1)
        if validation:
            tqdm.write(f"stage {self.stage} epoch {epoch + 1}: val MPJPE {validation['mpjpe']:.1f} mm, "
                       f"PA-MPJPE {validation['pa_mpjpe']:.1f} mm")


def make_scheduler(optimizer: torch.optim.Optimizer, settings: StageConfig):
    """``plateau``: ReduceLROnPlateau(×0.1, ``patience`` epochs) on the validation MPJPE, stepped
    once per epoch (the paper's rule). ``cosine``: linear warm-up over ``warmup`` iterations, then
    cosine decay to 0 at the stage's last iteration, stepped once per iteration."""
    if settings.schedule == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="min", factor=0.1, patience=settings.patience)
    if settings.schedule != "cosine":
        raise StafError(f"unknown schedule '{settings.schedule}'; choose 'plateau' or 'cosine'")
    total, warmup = settings.epochs * settings.iterations_per_epoch, settings.warmup

    def factor(iteration: int) -> float:
        if iteration < warmup:
            return (iteration + 1) / warmup
        progress = min(1.0, (iteration - warmup) / max(1, total - warmup))
        return 0.5 * (1.0 + math.cos(math.pi * progress))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def _distributed_setup(device) -> tuple[int, int]:
    """(rank, world size); initialises the process group under torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1
    if not torch.distributed.is_initialized():
        backend = "nccl" if torch.device(device).type == "cuda" else "gloo"
        torch.distributed.init_process_group(backend=backend)
    return torch.distributed.get_rank(), world
