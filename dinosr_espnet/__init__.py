"""DinoSR for ESPnet: model, ESPnet task plugin, data tools, decoding and evaluation."""

__version__ = "0.1.0"
