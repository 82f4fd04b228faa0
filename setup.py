"""dinosr_espnet: DinoSR self-supervised speech recipes on top of ESPnet.

``pip install .`` installs the package, the shipped configuration files (the repository's
``conf/``, installed as ``dinosr_espnet/conf``; see ``dinosr_espnet/package_data.py``) and one
console script per launcher in ``dinosr_espnet/bin`` (``dinosr-<tool>`` beside
``python -m dinosr_espnet.bin.<tool>``).
"""
from setuptools import find_packages, setup

# console script -> entry point in dinosr_espnet.bin (the ESPnet trainers' wrapped entry is `cli`)
CONSOLE_SCRIPTS = {
    "dinosr-train": "dinosr_train:cli",
    "dinosr-asr-train": "asr_train:cli",
    "dinosr-asr-inference": "asr_inference:main",
    "dinosr-make-corpus": "make_corpus:main",
    "dinosr-prepare-librispeech": "prepare_librispeech:main",
    "dinosr-prepare-librilight": "prepare_librilight:main",
    "dinosr-prepare-babel": "prepare_babel:main",
    "dinosr-dump-audio": "dump_audio:main",
    "dinosr-extract": "extract:main",
    "dinosr-abx": "abx:main",
    "dinosr-unit-quality": "unit_quality:main",
    "dinosr-units-report": "units_report:main",
    "dinosr-codeword-sharing": "codeword_sharing:main",
    "dinosr-probe": "probe:main",
    "dinosr-ctc-decode": "ctc_decode:main",
    "dinosr-train-lm": "train_lm:main",
    "dinosr-tune-lm": "tune_lm:main",
    "dinosr-score": "score:main",
    "dinosr-score-utterances": "score_utterances:main",
    "dinosr-results-environment": "results_environment:main",
    "dinosr-import-fairseq": "import_fairseq:main",
    "dinosr-export-fairseq": "export_fairseq:main",
}

setup(
    name="dinosr_espnet",
    version="0.1.0",
    description="DinoSR (self-distillation + online clustering) pretraining, fine-tuning and "
    "unit analysis recipes for ESPnet",
    license="Apache-2.0",
    packages=find_packages(include=["dinosr_espnet", "dinosr_espnet.*"]) + ["dinosr_espnet.conf"],
    package_dir={"dinosr_espnet.conf": "conf"},
    package_data={"dinosr_espnet.conf": ["*.yaml", "*.conf", "corpus/*.yaml"],
                  "dinosr_espnet.interop": ["release_cfg.yaml"]},
    zip_safe=False,
    entry_points={"console_scripts": [f"{name} = dinosr_espnet.bin.{target}"
                                      for name, target in CONSOLE_SCRIPTS.items()]},
    python_requires=">=3.11,<3.12",
    install_requires=[
        "torch==2.11.0",
        "torchaudio==2.11.0",
        "espnet==202511",
        "setuptools<74",  # ESPnet 202511 breaks with newer setuptools
        "tensorboard",  # ESPnet's --use_tensorboard (on in the shipped configs)
        "numpy",
        "numba",
        "pyyaml",
        "soundfile",
        "soxr",
        "kaldiio",
        "sentencepiece",
        "kenlm",
        "flashlight-text",
        "jiwer",
        "humanfriendly",
        "tqdm",
        "matplotlib",
        "scikit-learn",
        "scipy",
        "espeakng-loader",
        "wordfreq",
    ],
    extras_require={"test": ["pytest", "pytest-timeout"]},
)
