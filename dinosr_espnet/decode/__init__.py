"""CTC decoding and scoring (evaluation protocol of spec §7).

``tokens`` (letter vocabulary), ``emissions`` (reading (T, V) log-probs), ``viterbi`` (LM-free),
``lexicon`` and ``beam_search`` (KenLM lexicon beam search), ``kenlm_build`` (n-gram LM),
``tuning`` (LM weight / word score grid search), ``scoring`` (WER/CER, RESULTS.md).
"""
