"""Write tests/data/default_model_reference.npz: four synthetic person crops (``staf synth``, seed
8) and the shipped default model's prediction for them, which tests/test_packed.py checks.

    python scripts/make_default_model_reference.py     # after re-packing the default model
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import cv2
import numpy as np

from staf.data.crops import normalise, read_image
from staf.data.synthetic import SynthConfig, synthesize
from staf.models import SequenceInput
from staf.models.checkpoint import load_checkpoint
from staf.models.packed import default_model_path

OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "default_model_reference.npz"


def main() -> None:
    model, _ = load_checkpoint(default_model_path())
    size = model.config.image_size
    with tempfile.TemporaryDirectory() as folder:
        synthesize(SynthConfig(sequences=1, frames=4, seed=8, split="reference"), folder, progress=False)
        crops = np.stack([cv2.resize(read_image(path), (size, size), interpolation=cv2.INTER_AREA)
                          for path in sorted((Path(folder) / "seq_0000" / "crops").glob("*.jpg"))])
    prediction = model.predict_sequence(SequenceInput(crops=normalise(crops)))
    np.savez_compressed(OUT, crops=crops, joints=prediction.joints.numpy(), cam=prediction.cam.numpy(),
                        betas=prediction.betas.numpy())
    print(f"wrote {OUT} ({OUT.stat().st_size / 1e3:.0f} kB)")


if __name__ == "__main__":
    main()
