"""Inference: video → tracks → per-frame results. Per-track prediction is each model's
``predict_sequence`` (:mod:`staf.models.base`; STAF's streaming runner in
:mod:`staf.models.staf.streaming`)."""
