"""Stage ``recover``: the model's body for every frame of every record (``model.predict_sequences``,
records batched together up to :data:`FRAMES_PER_CALL` frames); the crops are let go once used."""

from __future__ import annotations

import dataclasses

from tqdm import tqdm

from staf.data.crops import normalise
from staf.inference.record import PersonTrack

#: most frames of all tracks recovered in one call (bounds the memory of the normalised crops)
FRAMES_PER_CALL = 512


class RecoverStage:
    name = "recover"

    def enabled(self, config) -> bool:
        return True

    def __call__(self, records: list[PersonTrack], context) -> list[PersonTrack]:
        model = context.model
        for group in tqdm(record_groups(records), unit="batch", desc="recover", disable=not context.progress):
            inputs = [dataclasses.replace(record.geometry, crops=normalise(record.crops)).to(model.device)
                      for record in group]
            model.set_inference_precision(context.config.precision)
            try:
                predictions = model.predict_sequences(inputs)
            finally:
                model.set_inference_precision("fp32")
            for record, prediction in zip(group, predictions):
                record.prediction = prediction.map(lambda tensor: tensor.float().cpu())
                record.crops = None
        return records


def record_groups(records: list[PersonTrack], limit: int = FRAMES_PER_CALL) -> list[list[PersonTrack]]:
    """Consecutive records in groups of at most ``limit`` frames (a longer record alone)."""
    groups: list[list[PersonTrack]] = []
    for record in records:
        if groups and sum(len(r) for r in groups[-1]) + len(record) <= limit:
            groups[-1].append(record)
        else:
            groups.append([record])
    return groups
