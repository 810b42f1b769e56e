"""STAF (Yao et al., TCSVT 2024), one file per paper module: ``apm`` (eq. 9), ``decoder``
(eq. 1), ``sampling`` (eqs. 2–3), ``tcfm`` (eqs. 4–6), ``safm`` (eqs. 7–8), ``regressor`` (IEF),
``network`` (§III-D, the composed model), ``streaming`` (its ``predict_sequence``) and
``official`` (the authors' checkpoint conversion)."""

from staf.models.staf.network import STAF, VARIANTS, Params, STAFConfig, STAFOutput

__all__ = ["STAF", "STAFConfig", "STAFOutput", "Params", "VARIANTS"]
