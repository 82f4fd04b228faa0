"""ZeroSpeech 2021 / libri-light ABX: items, slicing, distances, batched DTW, scoring."""
from dinosr_espnet.eval.abx.evaluate import ABXConfig, ABXResult, compute_abx
from dinosr_espnet.eval.abx.features import load_features
from dinosr_espnet.eval.abx.items import ItemToken, read_item_file

__all__ = ["ABXConfig", "ABXResult", "ItemToken", "compute_abx", "load_features", "read_item_file"]
