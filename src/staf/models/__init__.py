"""Networks: the ResNet encoder, STAF's modules (APM, decoder, sampling, TCFM, SAFM, IEF
regressors) composed in :class:`STAF`."""

from staf.models.staf import STAF, BodyPrediction, STAFConfig, STAFOutput

__all__ = ["STAF", "BodyPrediction", "STAFConfig", "STAFOutput"]
