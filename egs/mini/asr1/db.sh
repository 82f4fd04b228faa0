# Corpus locations of the mini recipe: the corpus that run.sh generates (stage 1) in
# corpora/<size> (run.sh exports MINI_CORPUS), in the real LibriSpeech and
# librispeech_finetuning layouts, so the real recipes' local/data.sh read it unchanged.
LIBRISPEECH=${LIBRISPEECH:-${MINI_CORPUS:-$PWD/corpora/demo}}
LIBRILIGHT_LIMITED=${LIBRILIGHT_LIMITED:-$LIBRISPEECH}
