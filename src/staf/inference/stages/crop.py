"""Stage ``crop``: each record's crop squares (the model's crop rule) and geometry input, and its
(N, S, S, 3) uint8 crops cut in a second pass over the frames."""

from __future__ import annotations

import numpy as np
from tqdm import tqdm

from staf.data.crops import crop_antialiased
from staf.inference.record import PersonTrack


class CropStage:
    name = "crop"

    def enabled(self, config) -> bool:
        return True

    def __call__(self, records: list[PersonTrack], context) -> list[PersonTrack]:
        size = context.model.config.image_size
        wanted: dict[int, list[tuple[PersonTrack, int]]] = {}
        for record in records:
            record.set_geometry(context.crop_rule, context.image_size, context.focal)
            record.crops = np.zeros((len(record), size, size, 3), np.uint8)
            for row, frame in enumerate(record.frames):
                wanted.setdefault(int(frame), []).append((record, row))
        source = context.source
        with tqdm(total=source.expected_frames(), unit="frame", desc="crop", disable=not context.progress) as bar:
            for position, frame in enumerate(source):
                for record, row in wanted.get(position, []):
                    record.crops[row] = crop_antialiased(frame.image, record.squares[row], size)
                bar.update(1)
        return records
