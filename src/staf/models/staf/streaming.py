"""Streaming STAF inference over whole sequences: STAF's ``predict_sequence``.

Every frame t is predicted as the target of its own window ``[t − T//2, …, t + T//2]``, the
edges padded by repeating the first / last frame (STAF §IV-C). The naive way runs the network
once per window: T encoder passes per frame. :class:`StreamingRunner` gives the same outputs
but computes every per-frame quantity that does not depend on the window once per frame:

- the encoder feature φ0, and from it φ1, the stage-1 grid features and φ2 (decoder stages);
- with APM, only the target slot of each window differs (the window mean of φ0), so only that
  slot's decoder and grid features are recomputed, once per window.

What does depend on the window (TCFM, the regressors, the projected meshes, SAFM, stage 3) is
computed per window, many windows at a time. Intermediate meshes are skinned only at the 431
vertices the down-sampling reads; the full body is built for the final stage only.
"""

from __future__ import annotations

import itertools

import torch

from staf.models.base import BodyPrediction, MeshRecoveryModel, SequenceInput, window_indices
from staf.models.staf.apm import average_pool_target
from staf.models.staf.network import STAF, Params


class StreamingRunner:
    """Per-frame STAF predictions for a sequence.

    Args:
        model: a :class:`STAF` network (put in eval mode while running).
        window_batch: windows processed together.
        frame_batch: frames per encoder batch.
        progress: optional callable ``progress(done, total)`` called after each window batch.
    """

    def __init__(self, model: STAF, window_batch: int = 16, frame_batch: int = 16, progress=None) -> None:
        self.model = model
        self.window_batch = window_batch
        self.frame_batch = frame_batch
        self.progress = progress

    @torch.no_grad()
    def __call__(self, crops: torch.Tensor) -> BodyPrediction:
        """(N, 3, H, W) normalised crops of one person's track → final predictions (N leading)."""
        return self.run_many([crops])[0]

    @torch.no_grad()
    def run_many(self, tracks: list[torch.Tensor]) -> list[BodyPrediction]:
        """Several tracks at once: their frames share encoder batches and their windows share
        head batches (windows never cross tracks); one prediction per frame of each track."""
        was_training = self.model.training
        self.model.eval()
        try:
            lengths = [len(crops) for crops in tracks]
            predictions = self._run(torch.cat(tracks), lengths)
            return [predictions.map(lambda t, s=start, n=n: t[s : s + n])
                    for start, n in zip(itertools.accumulate([0] + lengths[:-1]), lengths)]
        finally:
            self.model.train(was_training)

    def _run(self, crops: torch.Tensor, lengths: list[int]) -> BodyPrediction:
        model, config = self.model, self.model.config
        device = next(model.parameters()).device
        features = torch.cat([model.encoder.encode(crops[i : i + self.frame_batch].to(device))
                              for i in range(0, len(crops), self.frame_batch)])
        cache = self._per_frame(features)
        offsets = itertools.accumulate([0] + lengths[:-1])
        windows = torch.cat([window_indices(n, config.seq_len, device) + offset for n, offset in zip(lengths, offsets)])
        finals: list[Params] = []
        for start in range(0, len(windows), self.window_batch):
            finals.append(self._windows(features, cache, windows[start : start + self.window_batch]))
            if self.progress is not None:
                self.progress(min(start + self.window_batch, len(windows)), len(windows))
        return model.predict_body(*(torch.cat(part) for part in zip(*finals)))

    def _per_frame(self, features: torch.Tensor) -> dict[str, torch.Tensor]:
        """Grid features and (with SAFM, or without APM) φ2 of every frame, once."""
        model, config = self.model, self.model.config
        needs_phi2 = config.use_safm or not config.use_apm
        cache: dict[str, list[torch.Tensor]] = {"grid": [], "phi2": []}
        for i in range(0, len(features), self.frame_batch):
            phi1 = model.decoder.stage(0, features[i : i + self.frame_batch])
            cache["grid"].append(model.grid_features(phi1))
            if needs_phi2:
                cache["phi2"].append(model.decoder.stage(1, phi1))
        return {key: torch.cat(value) for key, value in cache.items() if value}

    def _windows(self, features: torch.Tensor, cache: dict[str, torch.Tensor], windows: torch.Tensor) -> Params:
        """Stages 1–3 for a batch of windows (W, T) → final parameters (W leading)."""
        model, config = self.model, self.model.config
        count, length, target = windows.shape[0], config.seq_len, config.target_index
        grid = cache["grid"][windows]                       # (W, T, 2205)
        if config.use_apm:  # only the target slot differs: the window mean of φ0 (eq. 9)
            pooled = average_pool_target(features[windows], target)[:, target]
            phi1_target = model.decoder.stage(0, pooled)
            grid = grid.clone()
            grid[:, target] = model.grid_features(phi1_target)
            phi2 = model.decoder.stage(1, phi1_target)
        else:
            phi2 = cache["phi2"][windows[:, target]]        # target slot (W, 256, h2, w2)
        params1 = model.stage1(grid)
        target1 = tuple(p.unflatten(0, (count, length))[:, target] for p in params1)
        if config.use_safm:
            slots = cache["phi2"][windows].clone()          # (W, T, 256, h2, w2)
            slots[:, target] = phi2
            mesh = model.mesh_features(1, slots.flatten(0, 1), params1).unflatten(0, (count, length))
        else:
            mesh = model.mesh_features(1, phi2, target1)
        params2 = model.stage2(mesh, target1)
        return model.stage3(model.mesh_features(2, model.decoder.stage(2, phi2), params2), params2)


def naive_sequence(model: STAF, crops: torch.Tensor) -> BodyPrediction:
    """Reference: the network run window by window (T encoder passes per frame), the interface's
    generic :meth:`~staf.models.base.MeshRecoveryModel.predict_sequence`."""
    return MeshRecoveryModel.predict_sequence(model, SequenceInput(crops=crops))
