"""Corrupt, hostile and absurd checkpoints: one-line error naming file and problem, no output."""
from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from dinosr_espnet.bin import import_fairseq as import_cli
from dinosr_espnet.interop import espnet_dir
from dinosr_espnet.interop.convert import import_fairseq
from hostile_files import KINDS, write_namespace_list_state, write_text, write_wav


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_each_kind_gives_one_line_error_and_no_output(kind, tmp_path, caplog):
    write, problem = KINDS[kind]
    path = tmp_path / f"{kind}.pt"
    write(path)
    out = tmp_path / "out"
    assert import_cli.main([str(path), str(out), "--log_level", "ERROR"]) == 1
    [record] = [r for r in caplog.records if r.levelname == "ERROR"]
    assert record.name == "dinosr_espnet.import_fairseq"
    message = record.getMessage()
    assert message.startswith(f"{path}")
    assert problem in message
    assert "\n" not in message
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no staging leftovers


def test_cli_exit_status_and_no_traceback(tmp_path):
    """A fresh process per kind of loader failure: status 1, one stderr line, no traceback."""
    files = []
    for name, write in (("readme.pt", write_text), ("audio.wav", write_wav),
                        ("ns.pt", write_namespace_list_state)):
        write(tmp_path / name)
        files.append(tmp_path / name)
    script = ("import sys\nfrom dinosr_espnet.bin import import_fairseq\n"
              "for f in sys.argv[2:]:\n"
              "    assert import_fairseq.main([f, sys.argv[1]]) == 1\n")
    result = subprocess.run([sys.executable, "-c", script, str(tmp_path / "out"),
                             *map(str, files)], capture_output=True, text=True)
    assert result.returncode == 0 and "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 3
    assert all("ERROR dinosr_espnet.import_fairseq: " in line for line in lines)
    for line, path in zip(lines, files):
        assert str(path) in line
    plain = subprocess.run([sys.executable, "-m", "dinosr_espnet.bin.import_fairseq",
                            str(files[0]), str(tmp_path / "out")], capture_output=True, text=True)
    assert plain.returncode == 1 and "Traceback" not in plain.stderr
    assert plain.stderr.strip().count("\n") == 0
    assert not (tmp_path / "out").exists()


def test_failure_while_writing_leaves_no_directory(fairseq_file, tmp_path, monkeypatch):
    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(espnet_dir.torch, "save", disk_full)
    with pytest.raises(OSError, match="No space left"):
        import_fairseq(fairseq_file, tmp_path / "out")
    assert list(tmp_path.iterdir()) == []


def test_existing_directory_rules(fairseq_file, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="exists and is not empty"):
        import_fairseq(fairseq_file, other)
    assert [p.name for p in other.iterdir()] == ["notes.txt"]
    again = tmp_path / "again"
    import_fairseq(fairseq_file, again)
    first = torch.load(again / "model.pth")
    import_fairseq(fairseq_file, again, num_updates=5)  # an earlier import is replaced
    assert int(torch.load(again / "model.pth")["dinosr.num_updates"]) == 5
    assert set(first) == set(torch.load(again / "model.pth"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["again", "other"]
