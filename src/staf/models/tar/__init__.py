"""TAR (Chen et al.): GTE, LTE, RRM over a shared ResNet encoder, one file per paper module."""

from staf.models.tar.network import TAR, TARConfig, VARIANTS

__all__ = ["TAR", "TARConfig", "VARIANTS"]
