"""Geometry: rotations (via roma), cameras, similarity alignment."""
