"""Evaluation: metrics, benchmark protocols, the evaluator behind ``staf eval``."""
