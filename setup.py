"""dinosr_espnet: DinoSR self-supervised speech recipes on top of ESPnet."""
from setuptools import find_packages, setup

setup(
    name="dinosr_espnet",
    version="0.1.0",
    description="DinoSR (self-distillation + online clustering) pretraining, fine-tuning and "
    "unit analysis recipes for ESPnet",
    packages=find_packages(include=["dinosr_espnet", "dinosr_espnet.*"]),
    package_data={"dinosr_espnet.interop": ["release_cfg.yaml"]},
    python_requires=">=3.11,<3.12",
    install_requires=[
        "torch==2.11.0",
        "torchaudio==2.11.0",
        "espnet==202511",
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
