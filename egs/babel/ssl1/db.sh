# Corpus locations for this recipe, read by local/data.sh. Edit here or export before running.
# BABEL_ROOT: a directory with one sub-directory per language release, each named with its
# language id (e.g. BABEL_OP1_101, IARPA-babel103b-v0.4b) and holding conversational/ or
# release-current/conversational/. Ids and names: conf/babel_languages.yaml.
BABEL_ROOT=${BABEL_ROOT:-}
# Or one variable per language, which wins over BABEL_ROOT, e.g.
# BABEL_101=/data/LDC/IARPA_BABEL_BP_101
