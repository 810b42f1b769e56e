"""Inference: video → tracks → per-frame results (streaming STAF over sequences)."""

from staf.inference.streaming import StreamingRunner, naive_sequence, window_indices

__all__ = ["StreamingRunner", "naive_sequence", "window_indices"]
