"""Two-stage STAF training (§IV-C) with exact resume and data-parallel processes.

- Stage 1: the single-frame base model (variant ``base``, T = 1), encoder included, end to end.
- Stage 2: the configured variant (T = 9) initialised from stage 1 (encoder, decoder, MLPs,
  regressors), TCFM and SAFM fresh, the encoder frozen; its feature maps are computed once per
  frame and cached on disk in float16, so epochs never run the encoder.

Optimiser Adam; ReduceLROnPlateau (×0.1 after ``patience`` epochs without a better validation
MPJPE); gradient clipping; a checkpoint every epoch (``last.pt``: weights, optimiser, scheduler,
RNG, epoch, history) and the best by validation (``best.pt``); TensorBoard scalars; tqdm bars.
Under ``torchrun`` each process takes its share of the same global batch (gloo on CPU, nccl on
GPU) and DistributedDataParallel averages the gradients.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import os
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from staf.body import BodyModel
from staf.config import plain, to_dict
from staf.errors import StafError
from staf.evaluation import metrics
from staf.models import STAF, STAFConfig
from staf.models.checkpoint import load_state_dict_strict, read_torch_file, save_checkpoint
from staf.models.staf import BodyPrediction
from staf.training import augment
from staf.training.config import StageConfig, TrainConfig
from staf.training.data import WindowSource, draw_windows, shard
from staf.training.losses import LSP14, LSP_HIPS, Targets, total_loss


def stage_model_config(config: TrainConfig, stage: int) -> STAFConfig:
    """Stage 1 trains the single-frame base model; stage 2 the configured variant."""
    if stage == 1:
        return dataclasses.replace(config.model, variant="base", seq_len=1)
    return config.model


def select_frames(targets: Targets, batch: int, length: int, index: int) -> Targets:
    """The targets of window frame ``index`` from targets of every frame (B·T leading)."""
    return Targets(*(getattr(targets, f.name).reshape(batch, length, *getattr(targets, f.name).shape[1:])[:, index]
                     for f in dataclasses.fields(targets)))


def flatten_frames(prediction: BodyPrediction) -> BodyPrediction:
    """(B, T, …) stage-1 prediction → (B·T, …)."""
    return prediction.map(lambda tensor: tensor.flatten(0, 1))


class FeatureCache:
    """Encoder features φ0 (N, C, h, w) of every frame of a source, float16, memory-mapped."""

    def __init__(self, source: WindowSource, model: STAF, device, progress: bool, rank: int) -> None:
        digest = hashlib.sha1(b"" if model.encoder_dtype is None else str(model.encoder_dtype).encode())
        for tensor in model.encoder.state_dict().values():
            digest.update(tensor.detach().cpu().numpy().tobytes())
        path = source.path.parent / "cache" / f"{source.path.stem}_features_{source.image_size}_{digest.hexdigest()[:12]}.npy"
        if rank == 0 and not path.is_file():
            self._compute(source, model, device, path, progress)
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.barrier()
        self.features = np.load(path, mmap_mode="r")

    @staticmethod
    @torch.no_grad()
    def _compute(source: WindowSource, model: STAF, device, path: Path, progress: bool) -> None:
        from staf.data.crops import normalise

        model.encoder.eval()
        count = len(source.crops)
        probe = model.encode(normalise(source.crops[:1]).to(device))
        cache = np.lib.format.open_memmap(path.with_suffix(".partial.npy"), mode="w+", dtype=np.float16,
                                          shape=(count, *probe.shape[1:]))
        for start in tqdm(range(0, count, 64), desc=f"caching features of {source.path.name}", disable=not progress):
            images = normalise(source.crops[start : start + 64]).to(device)
            cache[start : start + len(images)] = model.encode(images).cpu().numpy().astype(np.float16)
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
        stage: 1 or 2.
        device: where to train.
        init: for stage 2, the stage-1 checkpoint to start from.
        progress: show progress bars (rank 0 only).
    """

    def __init__(self, config: TrainConfig, out: str | Path, stage: int, device: str | torch.device = "cpu",
                 init: str | Path | None = None, progress: bool = True) -> None:
        if stage not in (1, 2):
            raise StafError(f"stage must be 1 or 2, got {stage}")
        self.config, self.stage, self.out = config, stage, Path(out)
        self.settings: StageConfig = config.stage1 if stage == 1 else config.stage2
        self.rank, self.world = _distributed_setup(device)
        self.device = torch.device(device)
        self.progress = progress and self.rank == 0
        torch.manual_seed(config.seed)
        body = BodyModel.load(config.body_model, device=self.device)
        self.model = STAF(stage_model_config(config, stage), body).to(self.device)
        self.model.set_encoder_precision(config.precision)
        if stage == 2:
            self._initialise_from_stage1(init)
        seq_len, size = self.model.config.seq_len, self.model.config.image_size
        if not config.train:
            raise StafError("the configuration has no training sources ('train')")
        self.sources = [WindowSource(source, seq_len, size, self.progress) for source in config.train]
        self.val = WindowSource(config.val, seq_len, size, self.progress) if config.val else None
        self.features = None
        if stage == 2:
            self.features = [FeatureCache(s, self.model, self.device, self.progress, self.rank) for s in self.sources]
            self.val_features = (FeatureCache(self.val, self.model, self.device, self.progress, self.rank)
                                 if self.val else None)
        trainable = [p for p in self.model.parameters() if p.requires_grad]
        # the fused kernel: the same update as the loop, in one pass (≈ 20 ms less per CPU step)
        self.optimizer = torch.optim.Adam(trainable, lr=self.settings.lr, weight_decay=self.settings.weight_decay,
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

    def _initialise_from_stage1(self, init: str | Path | None) -> None:
        if init is None:
            raise StafError("stage 2 starts from a stage-1 checkpoint: pass --init STAGE1/best.pt")
        payload = read_torch_file(init, "stage-1 checkpoint")
        state = payload.get("state_dict", {}) if isinstance(payload, dict) else {}
        own = self.model.state_dict()
        fresh = [k for k in own if k.startswith(("tcfm.", "safm."))]
        load_state_dict_strict(self.model, {**{k: own[k] for k in fresh}, **state}, str(init))
        self.model.encoder.requires_grad_(False)

    def _train_mode(self) -> None:
        self.model.train()
        if self.stage == 2:
            self.model.encoder.eval()
        if self.config.freeze_batchnorm:
            for module in self.model.modules():
                if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
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
        return {"best_val_mpjpe": self.best, "epochs": self.epoch, "steps": len(self.history)}

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
        images, features, targets = self._assemble(parts)
        if self.stage == 1 and self.config.augment.enabled:
            images, targets = self._augment(windows, images, targets, epoch, step)
        batch, length = targets.pose.shape[0] // self.model.config.seq_len, self.model.config.seq_len
        if self.stage == 1:
            output = self.network(images.to(self.device), meshes=False)
        else:
            output = self.network(features=features.to(self.device), meshes=False)
        targets = targets.to(self.device)
        target = select_frames(targets, batch, length, self.model.config.target_index)
        predictions = [flatten_frames(output.stage1), output.stage2, output.stage3]
        loss, logged = self._loss(predictions, targets, target)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.settings.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_([p for p in self.model.parameters() if p.requires_grad], self.settings.grad_clip)
        self.optimizer.step()
        logged["lr"] = self.optimizer.param_groups[0]["lr"]
        if self.settings.schedule == "cosine":
            self.scheduler.step()
        return logged

    def _augment(self, windows: list[np.ndarray], images: torch.Tensor, targets: Targets, epoch: int, step: int):
        """Zoom/shift/colour per window, drawn for the global batch and sharded like it."""
        generator = np.random.default_rng([self.config.seed, self.stage, epoch, step, 1])
        drawn = augment.draw_parameters(self.config.augment, sum(len(w) for w in windows), generator)
        per_source = np.split(drawn, np.cumsum([len(w) for w in windows])[:-1])
        parameters = torch.from_numpy(np.concatenate(shard(per_source, self.rank, self.world)))
        images, joints2d = augment.apply(images, targets.joints2d, parameters)
        return images, dataclasses.replace(targets, joints2d=joints2d)

    def _loss(self, predictions, all_frames: Targets, target: Targets):
        weights = self.config.losses
        if weights.all_stages:
            first, first_logged = total_loss([predictions[0]], all_frames, weights)
            rest, rest_logged = total_loss(predictions[1:], target, weights)
            logged = {k: first_logged.get(k, 0.0) + rest_logged.get(k, 0.0) for k in rest_logged}
            logged["total"] = float((first + rest).detach())
            return first + rest, logged
        loss, logged = total_loss(predictions[-1:], target, weights)
        # the official rule trains the final stage only; a zero-weighted term over the other
        # outputs keeps DistributedDataParallel's gradient bookkeeping complete (no effect on values)
        unused = sum(p.pose_6d.sum() + p.betas.sum() + p.cam.sum() for p in predictions[:-1])
        return loss + 0.0 * unused, logged

    def _assemble(self, parts: list[np.ndarray]):
        images, features, targets = [], [], []
        for index, (source, windows) in enumerate(zip(self.sources, parts)):
            if len(windows) == 0:
                continue
            image, target, rows = source.batch(windows, with_images=self.stage == 1)
            images.append(image)
            targets.append(target)
            if self.stage == 2:
                features.append(self.features[index].windows(rows))
        merged = Targets(*(torch.cat([getattr(t, f.name) for t in targets]) for f in dataclasses.fields(Targets)))
        return (torch.cat(images) if self.stage == 1 else None,
                torch.cat(features) if self.stage == 2 else None, merged)

    # -------------------------------------------------------------- validation

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        """MPJPE / PA-MPJPE (mm, LSP-14) of the target frames of evenly spaced validation windows."""
        self.model.eval()
        chosen = np.unique(np.linspace(0, len(self.val) - 1, min(self.config.val_windows, len(self.val))).astype(int))
        errors, aligned = [], []
        for start in range(0, len(chosen), 16):
            windows = chosen[start : start + 16]
            images, targets, rows = self.val.batch(windows, with_images=self.stage == 1)
            if self.stage == 1:
                output = self.model(images.to(self.device), meshes=False)
            else:
                output = self.model(features=self.val_features.windows(rows).to(self.device), meshes=False)
            length = self.model.config.seq_len
            target = select_frames(targets, len(windows), length, self.model.config.target_index)
            predicted = output.final.joint_sets["spin49"][:, LSP14].cpu()
            truth = target.joints3d[:, LSP14]
            errors.append(metrics.mpjpe(predicted, truth, LSP_HIPS))
            aligned.append(metrics.pa_mpjpe(predicted, truth))
        self._train_mode()
        return {"mpjpe": float(torch.cat(errors).mean()), "pa_mpjpe": float(torch.cat(aligned).mean())}

    # -------------------------------------------------------------- checkpoints

    def _save(self, name: str, validation: dict) -> None:
        training = {
            "stage": self.stage, "epoch": self.epoch, "best": self.best, "validation": validation,
            "optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
            "torch_rng": torch.get_rng_state(), "history": self.history,
            "config": dataclasses.asdict(self.config),
        }
        save_checkpoint(self.out / name, self.model, extra={"training": training})

    def _resume(self) -> None:
        path = self.out / "last.pt"
        if not path.is_file():
            raise StafError(f"nothing to resume: {path} does not exist")
        payload = read_torch_file(path, "training checkpoint")
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
