"""Data: dataset file formats (VIBE/TCMR/STAF ``*_db.pt``), image crops, synthetic data."""
