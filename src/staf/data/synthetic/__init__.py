"""Synthetic training and evaluation data of the open body model (``staf synth``)."""

from staf.data.synthetic.generator import SynthConfig, synthesize
from staf.data.synthetic.motion import FAMILIES, Motion, generate_motion

__all__ = ["FAMILIES", "Motion", "SynthConfig", "generate_motion", "synthesize"]
