"""Square person crops, as the network sees them.

A person box ``(cx, cy, w, h)`` becomes the square ``(cx, cy, max(w, h) · scale)``, cut out and
resized to ``size × size`` (pixels outside the image are black) and normalised with ImageNet's
mean and standard deviation. With VIBE/TCMR/STAF db files the boxes come from 2D keypoints and
are cropped at scale 1.3 (``DB_CROP_SCALE``); the same rule makes the synthetic data's crops.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import torch

from staf.errors import InvalidInputError, MalformedFileError, MissingAssetError
from staf.geometry.boxes import corners_to_centre_size, square_box

DB_CROP_SCALE = 1.3
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclasses.dataclass(frozen=True)
class CropRule:
    """How a person box becomes the crop a model sees (recorded in checkpoints).

    Attributes:
        rule: ``square``: the square ``(cx, cy, max(w, h) · scale)`` around the box centre.
        scale: context around the box (1.3 for the peers' db files and staf's synthetic data).
    """

    rule: str = "square"
    scale: float = DB_CROP_SCALE

    def __post_init__(self) -> None:
        if self.rule != "square":
            raise InvalidInputError(f"unknown crop rule '{self.rule}'; staf knows 'square'")
        from staf.ranges import FLAGS

        FLAGS["--crop-scale"].check("crop scale", self.scale)

    def squares(self, bbox: np.ndarray) -> np.ndarray:
        """(…, 4) boxes (cx, cy, w, h) → (…, 3) squares (cx, cy, side)."""
        return square_box(bbox, self.scale)

    def squares_of_corners(self, boxes: np.ndarray) -> np.ndarray:
        """(…, 4) boxes (x1, y1, x2, y2) → (…, 3) squares (cx, cy, side)."""
        return square_box(corners_to_centre_size(boxes), self.scale)


def crop(image: np.ndarray, box: np.ndarray, size: int) -> np.ndarray:
    """Cut the square ``box`` (cx, cy, side) out of an (H, W, 3) image → (size, size, 3)."""
    import cv2

    cx, cy, side = (float(v) for v in box)
    scale = size / side
    affine = np.array([[scale, 0.0, size / 2 - scale * cx], [0.0, scale, size / 2 - scale * cy]])
    return cv2.warpAffine(image, affine, (size, size), flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0))


def crop_antialiased(image: np.ndarray, box: np.ndarray, size: int) -> np.ndarray:
    """:func:`crop`, but a square larger than ``size`` is cut at its own resolution and reduced
    with area averaging (as the synthetic crops are made), not sampled bilinearly (aliasing)."""
    import cv2

    side = float(box[2])
    if side <= size:
        return crop(image, box, size)
    native = int(min(np.ceil(side), 4 * size))
    return cv2.resize(crop(image, box, native), (size, size), interpolation=cv2.INTER_AREA)


def resolve_image(name: str, image_root: Path | None) -> Path:
    """The image a db row names: as written, else under ``image_root`` by the longest tail of its
    path that exists there (the peers' files hold the paths of the machine that made them, e.g.
    ``/data/mpi_inf_3dhp/mpi_inf_3dhp_test_set/TS1/imageSequence/img_000001.jpg`` is found under
    ``--image-root /my/mpi_inf_3dhp``)."""
    path = Path(name)
    candidates = [path]
    if image_root is not None:
        parts = path.parts[1:] if path.is_absolute() else path.parts
        candidates += [Path(image_root) / Path(*parts[start:]) for start in range(len(parts))]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    tried = ", ".join(str(c) for c in candidates[:4]) + (", …" if len(candidates) > 4 else "")
    raise MissingAssetError(f"image '{name}' of the dataset was not found (tried: {tried}); "
                            "pass --image-root DIR, the folder the db's img_name paths are relative to")


def read_image(path: str | Path) -> np.ndarray:
    """(H, W, 3) uint8 RGB image; clear errors for missing or unreadable files."""
    import cv2

    path = Path(path)
    if not path.is_file():
        raise MissingAssetError(f"image {path} does not exist")
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise MalformedFileError(f"{path}: not an image OpenCV can read")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def normalise(crops: np.ndarray) -> torch.Tensor:
    """(N, H, W, 3) uint8 RGB → (N, 3, H, W) float32, ImageNet-normalised."""
    tensor = torch.from_numpy(np.array(crops, copy=True)).permute(0, 3, 1, 2).float() / 255.0
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return (tensor - mean) / std


def frame_image_size(data: dict, row: int, root: Path | None, square: np.ndarray) -> tuple[float, float]:
    """``(W, H)`` of the frame of db row ``row``: read from its image (``img_name``); without a
    readable frame, twice the intrinsics' principal point; else the extent of its square crop."""
    import cv2

    if "img_name" in data:
        try:
            image = cv2.imread(str(resolve_image(str(data["img_name"][row]), root)))
            if image is not None:
                return float(image.shape[1]), float(image.shape[0])
        except Exception:  # noqa: BLE001 — frames are optional when the db has its crops
            pass
    if "cam_intrinsics" in data:
        return tuple(float(v) for v in 2.0 * np.asarray(data["cam_intrinsics"][row])[:2, 2])
    return float(square[0] + square[2] / 2), float(square[1] + square[2] / 2)
