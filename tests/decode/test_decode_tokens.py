"""Letter token vocabulary: spelling, token lists, ESPnet's <space>."""
from __future__ import annotations

import pytest

from dinosr_espnet.decode.tokens import (build_token_list, read_token_list, spell,
                                         text_to_tokens, tokens_to_text, write_token_list)


def test_words_to_letters_and_back():
    assert spell("CAT") == ["C", "A", "T", "|"]
    assert spell("DON'T") == ["D", "O", "N", "'", "T", "|"]
    assert text_to_tokens("THE  CAT ") == ["T", "H", "E", "|", "C", "A", "T"]
    assert text_to_tokens("") == []
    assert tokens_to_text(["|", "T", "H", "E", "|", "|", "C", "A", "T", "|"]) == "THE CAT"
    assert tokens_to_text(["A", "<space>", "B"]) == "A B"
    with pytest.raises(ValueError, match="not a word"):
        spell("A|B")


def test_token_list_order_blank_unk_then_by_frequency(tmp_path):
    # "A B A" -> A | B | A: A and | twice (A first by code point), B once
    tokens = build_token_list(["A B A", ""])
    assert tokens == ["<blank>", "<unk>", "A", "|", "B"]
    write_token_list(tmp_path / "tokens.txt", tokens)
    assert (tmp_path / "tokens.txt").read_text() == "<blank>\n<unk>\nA\n|\nB\n"
    assert read_token_list(tmp_path / "tokens.txt") == tokens
    with pytest.raises(ValueError, match="no letters"):
        build_token_list([" "])


def test_read_token_list_converts_espnet_space_and_checks(tmp_path):
    path = tmp_path / "tokens.txt"
    path.write_text("<blank>\n<unk>\n<space>\nA\n<sos/eos>\n")
    assert read_token_list(path) == ["<blank>", "<unk>", "|", "A", "<sos/eos>"]
    path.write_text("<unk>\n<blank>\nA\n")
    with pytest.raises(ValueError, match="first token must be '<blank>'"):
        read_token_list(path)
    path.write_text("<blank>\nA\nB\nA\n")
    with pytest.raises(ValueError, match=r"tokens.txt:4: duplicated token 'A'"):
        read_token_list(path)
    path.write_text("<blank>\nA\n\nB\n")
    with pytest.raises(ValueError, match=r"tokens.txt:3: bad token"):
        read_token_list(path)
