"""Pure-PyTorch DinoSR: self-distillation with online clustering (no ESPnet import)."""
from dinosr_espnet.model.config import DinoSRConfig
from dinosr_espnet.model.dinosr import DinoSR, DinoSRFeatures, DinoSROutput

__all__ = ["DinoSR", "DinoSRConfig", "DinoSRFeatures", "DinoSROutput"]
