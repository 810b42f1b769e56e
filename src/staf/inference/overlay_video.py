"""``overlay.mp4``: every record's mesh drawn over the frames (a third pass over the video), each
placed in the one shared camera by the model's camera rule (:class:`staf.geometry.cameras.CropCamera`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from staf.geometry.cameras import CropCamera
from staf.inference.exporters import ExportContext
from staf.inference.record import PersonTrack

OVERLAY = "overlay.mp4"


def camera_vertices(record: PersonTrack, camera: CropCamera, focal: float, image_size: tuple[int, int]) -> np.ndarray:
    """(N, V, 3) a record's vertices in the overlay's shared camera (principal point at the
    image centre, pixel centres at integers; see :mod:`staf.render.overlay`)."""
    principal = torch.tensor([(image_size[0] - 1) / 2, (image_size[1] - 1) / 2])
    prediction = record.prediction
    return (record.camera or camera).camera_points(prediction.vertices, prediction.cam, record.geometry.boxes, focal, image_size,
                                principal).numpy()


def render_overlay(source, folder: Path, records: list[PersonTrack], camera: CropCamera, body, focal: float,
                   world: ExportContext | None, progress: bool) -> str:
    """Write ``folder/overlay.mp4`` (H.264, the source's size and frame rate); with ``world``
    (the exports' context, which holds the world) twice as wide: the world view beside it
    (:class:`staf.render.overlay.WorldView`). Returns its name."""
    from staf.inference.video import VideoWriter
    from staf.render.overlay import OverlayRenderer

    info = source.info
    by_frame: dict[int, list[tuple[int, int]]] = {}
    for record in records:
        for row, frame in enumerate(record.frame_ids):
            by_frame.setdefault(int(frame), []).append((record.track_id, row))
    placed = {record.track_id: camera_vertices(record, camera, focal, (info.width, info.height)) for record in records}
    most = max((len(v) for v in by_frame.values()), default=1)
    renderer = OverlayRenderer(info.width, info.height, body.faces.cpu().numpy(), body.num_vertices, most, focal)
    in_world = {record.track_id: world.world_vertices(record).astype(np.float32) for record in records} if world else {}
    view = None
    if world is not None and records:
        view = renderer.world_view(np.concatenate([vertices.mean(axis=1) for vertices in in_world.values()]))
    writer = VideoWriter(folder / OVERLAY, info.width * (2 if world else 1), info.height, info.fps)
    try:
        with tqdm(total=source.expected_frames(), unit="frame", desc="render", disable=not progress) as bar:
            for frame in source:
                rows = by_frame.get(frame.index, [])
                people = [(track_id, placed[track_id][row]) for track_id, row in rows]
                seen = [(track_id, in_world[track_id][row]) for track_id, row in rows] if view else []
                writer.write(renderer.draw(frame.image, people, view, seen))
                bar.update(1)
        writer.close()
    except BaseException:
        writer.abort()
        raise
    finally:
        renderer.release()
    return OVERLAY
