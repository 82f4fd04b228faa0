# Corpus locations for this recipe, read by local/data.sh. Edit here or export before running.
# LIBRISPEECH: the directory that contains LibriSpeech/ (dev/test sets and train-clean-100).
# LIBRILIGHT_LIMITED: the directory that contains librispeech_finetuning/ (extracted
# librispeech_finetuning.tgz of Libri-light).
LIBRISPEECH=${LIBRISPEECH:-}
LIBRILIGHT_LIMITED=${LIBRILIGHT_LIMITED:-}
