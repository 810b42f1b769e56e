"""Training data: windows of T frames from db files, mixed by ratio, labels masked when absent.

Crops are decoded once into a uint8 cache beside the db (``cache/STEM_crops_SIZE.npy``,
memory-mapped), so epochs read arrays, not JPEGs. Batches are drawn from a generator seeded by
``(seed, stage, epoch, step)``: the same step always sees the same samples, which makes resuming
exact and lets every data-parallel rank compute the global batch and take its own share.
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from tqdm import tqdm

from staf.body.joint_sets import SPIN49_LSP14
from staf.data.crops import CropRule, crop, frame_image_size, normalise, read_image, resolve_image
from staf.data.db import REQUIRED_KEYS, read_db, split_sequences
from staf.errors import StafError
from staf.training.config import SourceConfig
from staf.training.losses import Targets

if TYPE_CHECKING:
    from staf.models.base import SequenceInput


class WindowSource:
    """All windows of ``seq_len`` consecutive frames of one db file (or single images).

    Args:
        source: the db file, its image root, labels and ratio.
        seq_len: T.
        image_size: crop size the model takes.
        crop_rule: how boxes become crops (frames without the db's own crops).
    """

    def __init__(self, source: SourceConfig, seq_len: int, image_size: int, progress: bool = True,
                 crop_rule: CropRule = CropRule()) -> None:
        self.source = source
        self.crop_rule = crop_rule
        self.path = Path(source.db)
        self.root = Path(source.image_root) if source.image_root else self.path.parent
        self.data = read_db(self.path, REQUIRED_KEYS)
        self.seq_len, self.image_size = seq_len, image_size
        self.windows = self._windows()
        if len(self.windows) == 0:
            raise StafError(f"{self.path}: no sequence has {seq_len} frames")
        self.targets = self._targets()
        self.crops = self._crop_cache(progress)
        self.frame_geometry = self._frame_geometry()

    def __len__(self) -> int:
        return len(self.windows)

    def _windows(self) -> np.ndarray:
        """(W, T) frame rows of every window (images: one frame repeated T times). Windows never
        span a gap in the frame numbers (3DPW's removed rows)."""
        if self.source.images_only:
            return np.repeat(np.arange(len(self.data["vid_name"]))[:, None], self.seq_len, axis=1)
        windows = [seq.rows[start : start + self.seq_len] for seq in split_sequences(self.data, at_gaps=True)
                   for start in range(len(seq) - self.seq_len + 1)]
        return np.array(windows, dtype=np.int64).reshape(-1, self.seq_len)

    def _targets(self) -> dict[str, np.ndarray]:
        data, count = self.data, len(self.data["vid_name"])
        labels = set(self.source.labels)
        has_2d = "2d" in labels and ("joints2D_crop" in data or "joints2D" in data)
        has_3d = "3d" in labels and "joints3D" in data and data["joints3D"].shape[1] in (14, 49)
        has_smpl = "smpl" in labels and "pose" in data and "shape" in data
        joints2d = np.zeros((count, 49, 3), np.float32)
        if has_2d:
            joints2d = self._normalised_2d().astype(np.float32)
        return {
            "joints2d": joints2d,
            "joints3d": self._joints49(data["joints3D"]) if has_3d else np.zeros((count, 49, 3), np.float32),
            "pose": data["pose"].astype(np.float32) if has_smpl else np.zeros((count, 72), np.float32),
            "betas": data["shape"].astype(np.float32) if has_smpl else np.zeros((count, 10), np.float32),
            "has_2d": np.full(count, has_2d), "has_3d": np.full(count, has_3d), "has_smpl": np.full(count, has_smpl),
            "valid": (data["valid"] > 0) if "valid" in data else np.ones(count, bool),
        }

    @staticmethod
    def _joints49(joints: np.ndarray) -> np.ndarray:
        """3D joints in the SPIN-49 layout; 14 LSP joints (3DPW) go to slots 25–38, the only
        ones the 3D loss reads."""
        if joints.shape[1] == 49:
            return joints.astype(np.float32)
        out = np.zeros((len(joints), 49, 3), np.float32)
        out[:, SPIN49_LSP14] = joints
        return out

    def _normalised_2d(self) -> np.ndarray:
        """2D joints in the model's normalised crop coordinates [-1, 1] with confidence."""
        data = self.data
        if "joints2D_crop" in data:
            size = float(read_image(resolve_image(str(data["crop_name"][0]), self.root)).shape[0])
            xy = (data["joints2D_crop"][..., :2] - size / 2) / (size / 2)
            return np.concatenate([xy, data["joints2D_crop"][..., 2:]], axis=-1)
        boxes = self.crop_rule.squares(data["bbox"])
        xy = (data["joints2D"][..., :2] - boxes[:, None, :2]) / (boxes[:, None, 2:3] / 2)
        return np.concatenate([xy, data["joints2D"][..., 2:]], axis=-1)

    def _crop_cache(self, progress: bool) -> np.ndarray:
        """(N, S, S, 3) uint8 crops, decoded once into a memory-mapped file beside the db."""
        import cv2

        folder = self.path.parent / "cache"
        rule = "" if "crop_name" in self.data else f"_scale{self.crop_rule.scale:g}"
        path = folder / f"{self.path.stem}_crops_{self.image_size}{rule}_{self.content_key}.npy"
        count = len(self.data["vid_name"])
        shape = (count, self.image_size, self.image_size, 3)
        if path.is_file():
            cache = np.load(path, mmap_mode="r")
            if cache.shape == shape:
                return cache
        folder.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial.npy")
        try:
            cache = np.lib.format.open_memmap(partial, mode="w+", dtype=np.uint8, shape=shape)
            boxes = self.crop_rule.squares(self.data["bbox"])
            for row in tqdm(range(count), desc=f"caching crops of {self.path.name}", disable=not progress, unit="frame"):
                if "crop_name" in self.data:
                    image = read_image(resolve_image(str(self.data["crop_name"][row]), self.root))
                    cache[row] = cv2.resize(image, (self.image_size, self.image_size), interpolation=cv2.INTER_AREA)
                else:
                    cache[row] = crop(read_image(resolve_image(str(self.data["img_name"][row]), self.root)),
                                      boxes[row], self.image_size)
            cache.flush()
            del cache
            partial.replace(path)
        finally:
            partial.unlink(missing_ok=True)
        return np.load(path, mmap_mode="r")

    @functools.cached_property
    def content_key(self) -> str:
        """12 hex digits of a hash of what the caches are made from: the db file's bytes and the
        size and modification time of every image it names (data regenerated in place, even
        under the same names, gets new caches)."""
        import hashlib
        import os

        digest = hashlib.sha1(self.path.read_bytes())
        names = self.data["crop_name"] if "crop_name" in self.data else self.data["img_name"]
        for name in dict.fromkeys(str(n) for n in names):
            try:
                info = os.stat(resolve_image(name, self.root))
                digest.update(f"{name}:{info.st_size}:{info.st_mtime_ns};".encode())
            except Exception:  # noqa: BLE001 — a missing image is reported when the cache is built
                digest.update(f"{name}:missing;".encode())
        return digest.hexdigest()[:12]

    def _frame_geometry(self) -> dict[str, np.ndarray]:
        """Per frame: the square each crop was cut from (N, 3), the image size (N, 2) and the focal
        length (N,) (the db's intrinsics, else CLIFF's default, the image diagonal), which models
        with a full-image camera (TAR) need. Image sizes are read from one frame of each video;
        without readable frames, twice the intrinsics' principal point, else the square itself."""
        data, count = self.data, len(self.data["vid_name"])
        squares = data["crop_box"] if "crop_box" in data else self.crop_rule.squares(data["bbox"])
        sizes = np.zeros((count, 2), np.float32)
        names = data["vid_name"].astype(str)
        for name in dict.fromkeys(names):
            rows = np.nonzero(names == name)[0]
            sizes[rows] = frame_image_size(data, rows[0], self.root, squares[rows[0]])
        focal = (data["cam_intrinsics"][:, 0, 0] if "cam_intrinsics" in data
                 else np.linalg.norm(sizes, axis=1))
        return {"boxes": np.asarray(squares, np.float32), "image_size": sizes, "focal_length": np.asarray(focal, np.float32)}

    def geometry(self, rows: np.ndarray) -> "SequenceInput":
        """The windows' geometry for frame rows (B, T): boxes (B, T, 3), image sizes (B, T, 2),
        focal lengths (B, T) (a :class:`~staf.models.base.SequenceInput` without crops)."""
        from staf.models.base import SequenceInput

        pick = lambda name: torch.from_numpy(self.frame_geometry[name][rows])  # noqa: E731
        return SequenceInput(crops=None, boxes=pick("boxes"), image_size=pick("image_size"),
                             focal_length=pick("focal_length"))

    def batch(self, windows: np.ndarray, with_images: bool = True) -> tuple[torch.Tensor | None, Targets, np.ndarray]:
        """Images (B, T, 3, S, S), the targets of every frame (B·T leading) and the frame rows (B, T)."""
        rows = self.windows[windows]
        images = None
        if with_images:
            images = normalise(self.crops[rows.reshape(-1)]).reshape(len(rows), self.seq_len, 3, self.image_size,
                                                                      self.image_size)
        flat = rows.reshape(-1)
        t = self.targets
        targets = Targets(**{f.name: torch.from_numpy(np.ascontiguousarray(t[f.name][flat]))
                             for f in dataclasses.fields(Targets)})
        return images, targets, rows


def batch_composition(ratios: list[float], batch_size: int) -> list[int]:
    """Samples per source for a batch (largest remainder), e.g. 60 % 2D-only data."""
    shares = np.array(ratios, dtype=np.float64) / np.sum(ratios) * batch_size
    counts = np.floor(shares).astype(int)
    for index in np.argsort(-(shares - counts))[: batch_size - counts.sum()]:
        counts[index] += 1
    return counts.tolist()


def draw_windows(sources: list[WindowSource], batch_size: int, seed: int, stage: int, epoch: int, step: int
                 ) -> list[np.ndarray]:
    """The global batch of step ``step``: window indices per source, deterministic."""
    generator = np.random.default_rng([seed, stage, epoch, step])
    counts = batch_composition([s.source.ratio for s in sources], batch_size)
    return [generator.integers(0, len(source), count) for source, count in zip(sources, counts)]


def shard(indices: list[np.ndarray], rank: int, world: int) -> list[np.ndarray]:
    """This rank's share of a global batch (every world-th sample of each source)."""
    return [part[rank::world] for part in indices]
