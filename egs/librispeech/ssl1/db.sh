# Corpus locations for this recipe, read by local/data.sh. Edit here or export before running.
# LIBRISPEECH: the directory that contains LibriSpeech/ (OpenSLR 12: train-clean-100, ...).
LIBRISPEECH=${LIBRISPEECH:-}
