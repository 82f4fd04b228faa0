"""Embedded corpora: LibriSpeech, Libri-light and BABEL look-alikes synthesised with eSpeak NG.

Entry point: `python -m dinosr_espnet.bin.make_corpus` (see docs/corpora_generated.md).
"""
