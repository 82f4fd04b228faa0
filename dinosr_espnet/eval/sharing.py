"""Multilingual codeword sharing (paper Table 7, spec §7).

For each codebook (one per target layer), a codeword is *active* in a language when the
teacher assigns it to at least ``min_count`` frames of that language's data. With L languages,
``n_v`` = number of languages where codeword v is active; the table gives, per layer, the share
of the V codewords with ``n_v = 0`` (unused), 1, ..., L. A share concentrated at ``n = L``
means codewords are shared by all languages; at ``n = 1``, language-specific. Active sets grow
with the amount of data: give every language a similar amount (``max_utterances``).
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from dinosr_espnet.inference import DinoSRResult


def codeword_counts(results: Iterable[DinoSRResult], num_codebooks: int, codebook_size: int
                    ) -> np.ndarray:
    """Frames assigned to each codeword, ``(N, V)``, over the results' teacher codewords."""
    counts = np.zeros((num_codebooks, codebook_size), dtype=np.int64)
    for r in results:
        if r.codeword_indices is None:
            raise ValueError("results carry no codeword indices (extract with codewords=True)")
        codes = r.codeword_indices.numpy()
        for k in range(num_codebooks):
            counts[k] += np.bincount(codes[k], minlength=codebook_size)
    return counts


def sharing_counts(counts: Mapping[str, np.ndarray], min_count: int = 1) -> np.ndarray:
    """``(N, L + 1)``: per codebook, how many codewords are active in exactly n languages."""
    if not counts:
        raise ValueError("no language given")
    if min_count < 1:
        raise ValueError(f"min_count must be >= 1, got {min_count}")
    shapes = {name: c.shape for name, c in counts.items()}
    if len(set(shapes.values())) != 1:
        raise ValueError(f"languages have different codebook shapes: {shapes}")
    active = np.stack([c >= min_count for c in counts.values()])  # (L, N, V)
    per_codeword = active.sum(0)  # (N, V): languages in which each codeword is active
    num_langs = len(counts)
    return np.stack([np.bincount(row, minlength=num_langs + 1) for row in per_codeword])


def sharing_markdown(table: np.ndarray, layers: Sequence[int], languages: Sequence[str],
                     active: Mapping[str, Sequence[int]]) -> str:
    """Markdown table of shares (%) per layer; ``active`` lists per-language active counts."""
    num_langs = len(languages)
    size = int(table[0].sum())
    head = ["layer", "unused"] + [f"n={n}" for n in range(1, num_langs + 1)]
    lines = [f"Codeword sharing across {num_langs} languages ({', '.join(languages)}); "
             f"share of the {size} codewords of each codebook active in exactly n languages.", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for layer, row in zip(layers, table):
        lines.append(f"| {layer} | " + " | ".join(f"{100 * c / size:.1f}" for c in row) + " |")
    lines += ["", "Active codewords per language and layer:", "",
              "| language | " + " | ".join(str(layer) for layer in layers) + " |",
              "|" + "---|" * (len(layers) + 1)]
    for lang in languages:
        lines.append(f"| {lang} | " + " | ".join(str(int(a)) for a in active[lang]) + " |")
    return "\n".join(lines) + "\n"
