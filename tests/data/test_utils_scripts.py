"""Kaldi-style helpers in utils/: option parsing, run.pl/slurm.pl, data-dir tools."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from test_prep_fixtures import UTILS, run  # noqa: E402


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def make_dir(path: Path, utts: dict[str, str], text: dict[str, str] | None = None) -> Path:
    """Data dir from utt -> speaker; wav.scp points at fake paths."""
    ordered = sorted(utts, key=str.encode)
    write(path / "utt2spk", "".join(f"{u} {utts[u]}\n" for u in ordered))
    write(path / "wav.scp", "".join(f"{u} /audio/{u}.flac\n" for u in ordered))
    text = text or {u: f"TEXT {u}" for u in ordered}
    write(path / "text", "".join(f"{u} {text[u]}\n" for u in ordered))
    spk2utt = run([UTILS / "utt2spk_to_spk2utt.pl", path / "utt2spk"]).stdout
    write(path / "spk2utt", spk2utt)
    return path


def validate(path: Path, *opts: str):
    return run([UTILS / "validate_data_dir.sh", *opts, path], check=False)


def test_scripts_are_strict_bash():
    for name in ("validate_data_dir.sh", "fix_data_dir.sh", "combine_data.sh",
                 "subset_data_dir.sh", "check_corpus_dir.sh"):
        assert "\nset -euo pipefail\n" in (UTILS / name).read_text(), name
    for data_sh in (UTILS.parent / "egs").glob("*/*/local/data.sh"):
        assert "\nset -euo pipefail\n" in data_sh.read_text(), data_sh


def test_parse_options(tmp_path):
    script = write(tmp_path / "s.sh", f"""#!/usr/bin/env bash
set -euo pipefail
nj=4            # number of jobs
use_gpu=false   # run on a GPU
out_dir=        # where to write
help_message="Usage: $0 [options] <in>"
. {UTILS}/parse_options.sh
echo "$nj|$use_gpu|$out_dir|$*"
""")
    script.chmod(0o755)
    assert run([script, "--nj", "8", "--use-gpu", "true", "--out-dir=a b", "x"]).stdout == "8|true|a b|x\n"
    assert run([script, "--", "--nj", "3"]).stdout == "4|false||--nj 3\n"
    help_text = run([script, "--help"]).stdout
    assert help_text.startswith(f"Usage: {script} [options] <in>\n")
    assert "--nj" in help_text and "number of jobs" in help_text and "--use-gpu" in help_text
    for args, message in ((["--bogus", "1"], "invalid option --bogus"),
                          (["--use-gpu", "yes"], "expects true or false"),
                          (["--nj"], "option --nj needs a value")):
        proc = run([script, *args], check=False)
        assert proc.returncode == 1 and message in proc.stderr


def concurrency(log_dir: Path, n: int) -> int:
    """Most jobs running at once, from the start/end stamps each job printed."""
    events = []
    for i in range(1, n + 1):
        lines = [ln for ln in (log_dir / f"t.{i}.log").read_text().splitlines() if not ln.startswith("#")]
        start, end = (float(x) for x in lines[0].split())
        events += [(start, 1), (end, -1)]
    running = best = 0
    for _, step in sorted(events, key=lambda e: (e[0], e[1])):
        running += step
        best = max(best, running)
    return best


@pytest.mark.parametrize("max_jobs", [1, 2, 4])
def test_run_pl_runs_jobs_in_parallel(tmp_path, max_jobs):
    job = "s=$(date +%s.%N); sleep 0.4; echo $s $(date +%s.%N)"
    run([UTILS / "run.pl", "--max-jobs-run", str(max_jobs), "JOB=1:4", tmp_path / "log/t.JOB.log", job])
    assert concurrency(tmp_path / "log", 4) == max_jobs


def test_run_pl_substitutes_and_propagates_failure(tmp_path):
    proc = run([UTILS / "run.pl", "JOB=1:3", tmp_path / "log/x.JOB.log", "echo", "job", "JOB",
                "&&", "test", "JOB", "-ne", "2"], check=False)
    assert proc.returncode == 1
    assert f"1 / 3 failed, see the log(s): {tmp_path}/log/x.2.log" in proc.stderr
    log1 = (tmp_path / "log/x.1.log").read_text()
    assert log1.startswith("# echo job 1 && test 1 -ne 2") and "\njob 1\n" in log1
    assert "# Ended (code 0)" in log1
    assert "# Ended (code 1)" in (tmp_path / "log/x.2.log").read_text()
    proc = run([UTILS / "run.pl", tmp_path / "p.log", "false", "|", "cat"], check=False)
    assert proc.returncode == 1 and "p.log" in proc.stderr
    proc = run([UTILS / "run.pl", "JOB=1:2", tmp_path / "same.log", "true"], check=False)
    assert proc.returncode != 0 and "must contain JOB" in proc.stderr


def fake_sbatch(tmp_path: Path) -> dict:
    """A fake sbatch on PATH that records its arguments and runs every array task."""
    bin_dir = tmp_path / "bin"
    sbatch = write(bin_dir / "sbatch", """#!/usr/bin/env bash
echo "$@" >> "$FAKE_SBATCH_LOG"
array=; script=
for a in "$@"; do case $a in --array=*) array=${a#--array=};; -*) ;; *) script=$a;; esac; done
range=${array%%\\%*}; rc=0
for i in $(seq ${range%-*} ${range#*-}); do SLURM_ARRAY_TASK_ID=$i bash "$script" || rc=1; done
exit $rc
""")
    sbatch.chmod(0o755)
    return {"PATH": f"{bin_dir}:{os.environ['PATH']}", "FAKE_SBATCH_LOG": str(tmp_path / "sbatch.args")}


def test_slurm_pl_builds_the_sbatch_command(tmp_path):
    env = fake_sbatch(tmp_path)
    run([UTILS / "slurm.pl", "--gpu", "1", "--mem", "4G", "--num_threads", "4", "--time", "1:00:00",
         "--num_nodes", "2", "--max-jobs-run", "2", "JOB=1:3", "log/s.JOB.log", "echo", "task", "JOB"],
        cwd=tmp_path, env=env)
    args = (tmp_path / "sbatch.args").read_text().split()
    assert args[:2] == ["--export=PATH", "--ntasks-per-node=1"]
    joined = " ".join(args)
    for part in ("-p gpu --gres=gpu:1", "--mem-per-cpu 4G", "--cpus-per-task 4", "--time 1:00:00",
                 "--nodes 2",
                 "--job-name=s", "--array=1-3%2", "--output=log/q/s-%a.out", "--wait"):
        assert part in joined
    assert args[-1] == "log/q/s.sh"
    assert "\ntask 2\n" in (tmp_path / "log/s.2.log").read_text()
    assert (tmp_path / "log/q/done.s.3").read_text() == "0\n"


def test_slurm_pl_config_and_failures(tmp_path):
    env = fake_sbatch(tmp_path)
    write(tmp_path / "conf/slurm.conf", "command sbatch --account=abc\noption gpu=0\n"
          "option gpu=* --gres=gpu:$0 -p a100\ndefault gpu=0\n")
    proc = run([UTILS / "slurm.pl", "JOB=1:3", "log/f.JOB.log", "test", "JOB", "-ne", "3"],
               cwd=tmp_path, env=env, check=False)
    assert proc.returncode == 1 and "1 / 3 failed, see the log(s): log/f.3.log" in proc.stderr
    assert (tmp_path / "sbatch.args").read_text().startswith("--account=abc --job-name=f --array=1-3 ")
    proc = run([UTILS / "slurm.pl", "--mem", "2G", "log/m.log", "true"], cwd=tmp_path, env=env, check=False)
    assert proc.returncode != 0 and "option --mem 2G is not defined in conf/slurm.conf" in proc.stderr


def test_validate_data_dir(tmp_path):
    good = make_dir(tmp_path / "good", {"a-1": "a", "a-2": "a", "b-1": "b"})
    assert validate(good).returncode == 0

    def broken(name: str, edit) -> str:
        d = make_dir(tmp_path / name, {"a-1": "a", "a-2": "a", "b-1": "b"})
        edit(d)
        proc = validate(d)
        assert proc.returncode == 1
        return proc.stderr

    assert "text is not sorted" in broken("unsorted", lambda d: write(
        d / "text", "a-2 X\na-1 Y\nb-1 Z\n"))
    assert "'b-1' is in only one of utt2spk and text" in broken("missing", lambda d: write(
        d / "text", "a-1 X\na-2 Y\n"))
    assert "'a-2' has an empty transcript" in broken("empty", lambda d: write(
        d / "text", "a-1 X\na-2\nb-1 Z\n"))
    assert "text line 2 is not valid UTF-8" in broken("utf8", lambda d: (d / "text").write_bytes(
        b"a-1 X\na-2 caf\xe9\nb-1 Z\n"))
    assert "spk2utt does not match utt2spk" in broken("spk", lambda d: write(
        d / "spk2utt", "a a-1\nb b-1\n"))
    assert "utt2num_samples of 'a-2' is not a positive integer" in broken("num", lambda d: write(
        d / "utt2num_samples", "a-1 10\na-2 0\nb-1 5\n"))
    assert "speaker ids prefixes" in broken("order", lambda d: (write(
        d / "utt2spk", "a-1 z\na-2 a\nb-1 a\n"), write(d / "spk2utt", "a a-2 b-1\nz a-1\n")))
    seg = make_dir(tmp_path / "seg", {"r-1": "r", "r-2": "r"})
    write(seg / "wav.scp", "r /audio/r.sph\n")
    write(seg / "segments", "r-1 r 0.0 1.0\nr-2 r 2.0 1.5\n")
    assert "segments line of 'r-2'" in validate(seg).stderr
    write(seg / "segments", "r-1 r 0.0 1.0\nr-2 q 1.0 1.5\n")
    assert "recording 'q' of segments is not in wav.scp" in validate(seg).stderr
    write(seg / "segments", "r-1 r 0.0 1.0\nr-2 r 1.0 1.5\n")
    assert validate(seg).returncode == 0
    write(seg / "wav.scp", "q /audio/q.sph\nr /audio/r.sph\n")
    assert "recording 'q' of wav.scp is used by no segment" in validate(seg).stderr


# The kinds of broken dir that Kaldi's validator (with validate_text.pl) rejects and that an
# earlier version of ours accepted; each edit breaks a valid dir in exactly one way.
KALDI_REJECTS = {
    "cr": (lambda d: (d / "text").write_bytes(b"a-1 X\r\na-2 Y\r\nb-1 Z\r\n"),
           "text line 1 (utterance a-1) contains a CR (0x0D) character"),
    "nbsp": (lambda d: (d / "text").write_bytes("a-1 X\na-2 Y\u00a0W\nb-1 Z\n".encode()),
             "text line 2 (utterance a-2) contains the Unicode space U+00A0"),
    "ideographic": (lambda d: (d / "text").write_bytes("a-1 X\u3000W\na-2 Y\nb-1 Z\n".encode()),
                    "contains the Unicode space U+3000"),
    "bos": (lambda d: write(d / "text", "a-1 X\na-2 <s> Y </s>\nb-1 Z\n"),
            "text line 2 (utterance a-2) contains the reserved symbol <s>"),
    "disambig": (lambda d: write(d / "text", "a-1 X\na-2 Y\nb-1 Z #0\n"), "reserved symbol #0"),
    "newline": (lambda d: write(d / "text", "a-1 X\na-2 Y\nb-1 Z"), "text does not end with a newline"),
    "tilde": (lambda d: write(d / "wav.scp", "a-1 ~/audio/a-1.flac\na-2 /a2.flac\nb-1 /b1.flac\n"),
              "wav.scp entry of 'a-1' starts with '~'"),
    "speaker_prefix": (lambda d: (write(d / "utt2spk", "a-1 z\na-2 a\nb-1 a\n"),
                                  write(d / "spk2utt", "a a-2 b-1\nz a-1\n")),
                       "utt2spk sorted by speaker changes the utterance order (first moved: a-2 of speaker a)"),
}


@pytest.mark.parametrize("kind", sorted(KALDI_REJECTS))
def test_validate_gives_kaldis_verdict_and_fix_repairs_or_fails(tmp_path, kind):
    edit, message = KALDI_REJECTS[kind]
    d = make_dir(tmp_path / kind, {"a-1": "a", "a-2": "a", "b-1": "b"})
    edit(d)
    proc = validate(d)
    assert proc.returncode == 1 and message in proc.stderr
    fixed = run([UTILS / "fix_data_dir.sh", d], check=False, env={**os.environ, "HOME": "/home/me"})
    if kind == "speaker_prefix":  # not repairable: exit 1 with the validator's reason, as Kaldi's
        assert fixed.returncode == 1
        assert "could not make a valid data dir" in fixed.stderr and "speaker ids prefixes" in fixed.stderr
        return
    assert fixed.returncode == 0, fixed.stderr
    assert validate(d).returncode == 0
    text = (d / "text").read_text(encoding="utf-8")
    assert text.endswith("\n") and "\r" not in text and "<s>" not in text and "#0" not in text
    expected = {"cr": "a-1 X\na-2 Y\nb-1 Z\n", "nbsp": "a-1 X\na-2 Y W\nb-1 Z\n",
                "bos": "a-1 X\na-2 Y\nb-1 Z\n", "disambig": "a-1 X\na-2 Y\nb-1 Z\n",
                "ideographic": "a-1 X W\na-2 Y\nb-1 Z\n"}
    if kind in expected:
        assert text == expected[kind]
        assert "text: replaced CR/Unicode spaces or removed <s> </s> #0 in" in fixed.stderr
    if kind == "tilde":
        assert (d / "wav.scp").read_text().startswith("a-1 /home/me/audio/a-1.flac\n")


def test_fix_data_dir_drops_recordings_no_segment_uses(tmp_path):
    d = make_dir(tmp_path / "seg", {"r-1": "r", "r-2": "r"})
    write(d / "wav.scp", "q /audio/q.sph\nr /audio/r.sph\n")
    write(d / "segments", "r-1 r 0.0 1.0\nr-2 r 1.0 1.5\n")
    assert "recording 'q' of wav.scp is used by no segment" in validate(d).stderr
    proc = run([UTILS / "fix_data_dir.sh", d])
    assert (d / "wav.scp").read_text() == "r /audio/r.sph\n" and "wav.scp: 2 -> 1 recordings" in proc.stderr
    assert validate(d).returncode == 0


def test_fix_data_dir_keeps_the_intersection_and_logs(tmp_path):
    d = tmp_path / "d"
    write(d / "utt2spk", "a-1 a\na-2 a\nb-1 b\nb-2 b\nc-1 c\n")
    write(d / "wav.scp", "b-1 /b1\na-1 /a1\na-2 /a2\nb-2 /b2\nb-2 /b2dup\n")      # unsorted, dup, no c-1
    write(d / "text", "a-1 X\na-2\nb-1 Y\nb-2 Z\nc-1 W\nd-1 V\n")                  # empty a-2, extra d-1
    write(d / "spk2utt", "stale\n")
    proc = run([UTILS / "fix_data_dir.sh", d])
    assert (d / "utt2spk").read_text() == "a-1 a\nb-1 b\nb-2 b\n"
    assert (d / "wav.scp").read_text() == "a-1 /a1\nb-1 /b1\nb-2 /b2\n"
    assert (d / "spk2utt").read_text() == "a a-1\nb b-1 b-2\n"
    assert validate(d).returncode == 0
    assert (d / ".backup/removed_utts").read_text() == (
        "a-2 empty-transcript\nc-1 not-in-wav.scp\nd-1 not-in-utt2spk,not-in-wav.scp\n")
    log = (d / ".backup/fix_data_dir.log").read_text()
    assert "wav.scp: dropped 1 lines with a duplicated key" in log
    assert "text: 6 -> 3 lines" in log and "kept 3 utterances, removed 3" in log
    assert "removed 3" in proc.stderr


def test_combine_data(tmp_path):
    a = make_dir(tmp_path / "a", {"a-1": "a", "a-2": "a"})
    b = make_dir(tmp_path / "b", {"b-1": "b"})
    write(a / "utt2num_samples", "a-1 10\na-2 20\n")
    proc = run([UTILS / "combine_data.sh", tmp_path / "ab", a, b])
    assert "not combining utt2num_samples" in proc.stderr
    ab = tmp_path / "ab"
    assert (ab / "utt2spk").read_text() == "a-1 a\na-2 a\nb-1 b\n"
    assert (ab / "spk2utt").read_text() == "a a-1 a-2\nb b-1\n"
    assert not (ab / "utt2num_samples").exists()
    proc = run([UTILS / "combine_data.sh", tmp_path / "aa", a, a], check=False)
    assert proc.returncode == 1 and "key 'a-1' of wav.scp appears in more than one" not in proc.stderr
    assert "key 'a-1' of utt2spk appears in more than one" in proc.stderr
    write(b / "segments", "b-1 b-1 0 1\n")
    proc = run([UTILS / "combine_data.sh", tmp_path / "x", a, b], check=False)
    assert proc.returncode == 1 and "segments is present in only some" in proc.stderr


def test_subset_data_dir(tmp_path):
    utts = {f"s{i % 4}-{i:02d}": f"s{i % 4}" for i in range(20)}
    src = make_dir(tmp_path / "src", utts)
    ordered = sorted(utts)
    run([UTILS / "subset_data_dir.sh", "--first", src, "3", tmp_path / "first"])
    assert [ln.split()[0] for ln in (tmp_path / "first/utt2spk").read_text().splitlines()] == ordered[:3]
    assert validate(tmp_path / "first").returncode == 0

    def random_subset(name: str, seed: str) -> list[str]:
        run([UTILS / "subset_data_dir.sh", "--seed", seed, src, "5", tmp_path / name])
        assert validate(tmp_path / name).returncode == 0
        return (tmp_path / name / "utt2spk").read_text().splitlines()

    first = random_subset("r1", "1")
    assert random_subset("r2", "1") == first and len(first) == 5
    assert random_subset("r3", "2") != first
    write(tmp_path / "list", "s1-01\ns2-02\nnot-there\n")
    proc = run([UTILS / "subset_data_dir.sh", "--utt-list", tmp_path / "list", src, tmp_path / "u"])
    assert "1 utterance ids of" in proc.stderr
    assert (tmp_path / "u/text").read_text() == "s1-01 TEXT s1-01\ns2-02 TEXT s2-02\n"
    write(tmp_path / "spks", "s3\n")
    run([UTILS / "subset_data_dir.sh", "--spk-list", tmp_path / "spks", src, tmp_path / "s"])
    assert (tmp_path / "s/spk2utt").read_text() == "s3 s3-03 s3-07 s3-11 s3-15 s3-19\n"
    proc = run([UTILS / "subset_data_dir.sh", src, "21", tmp_path / "big"], check=False)
    assert proc.returncode == 1 and "asked for 21 utterances but" in proc.stderr


def test_subset_with_segments_keeps_used_recordings(tmp_path):
    d = make_dir(tmp_path / "d", {"r1-1": "r1", "r1-2": "r1", "r2-1": "r2"})
    write(d / "wav.scp", "r1 /r1.sph\nr2 /r2.sph\n")
    write(d / "segments", "r1-1 r1 0 1\nr1-2 r1 1 2\nr2-1 r2 0 1\n")
    run([UTILS / "subset_data_dir.sh", "--first", d, "2", tmp_path / "sub"])
    assert (tmp_path / "sub/wav.scp").read_text() == "r1 /r1.sph\n"
    assert validate(tmp_path / "sub").returncode == 0


def test_spk2utt_conversions_split_and_filter(tmp_path):
    utt2spk = write(tmp_path / "utt2spk", "a-1 a\na-2 a\nb-1 b\nc-1 c\nc-2 c\nc-3 c\n")
    spk2utt = run([UTILS / "utt2spk_to_spk2utt.pl", utt2spk]).stdout
    assert spk2utt == "a a-1 a-2\nb b-1\nc c-1 c-2 c-3\n"
    assert run([UTILS / "spk2utt_to_utt2spk.pl", write(tmp_path / "s2u", spk2utt)]).stdout == utt2spk.read_text()
    outs = [tmp_path / f"part{i}" for i in range(3)]
    run([UTILS / "split_scp.pl", utt2spk, *outs])
    assert [len(p.read_text().splitlines()) for p in outs] == [2, 2, 2]
    run([UTILS / "split_scp.pl", f"--utt2spk={utt2spk}", utt2spk, *outs[:2]])
    assert outs[0].read_text() == "a-1 a\na-2 a\nb-1 b\n" and outs[1].read_text().startswith("c-1")
    assert run([UTILS / "split_scp.pl", "--one-based", "-j", "3", "3", utt2spk]).stdout == "c-2 c\nc-3 c\n"
    proc = run([UTILS / "split_scp.pl", utt2spk, *[tmp_path / f"o{i}" for i in range(7)]], check=False)
    assert proc.returncode != 0 and "6 lines, fewer than 7 parts" in proc.stderr
    ids = write(tmp_path / "ids", "b-1\nc-2 anything\n")
    assert run([UTILS / "filter_scp.pl", ids, utt2spk]).stdout == "b-1 b\nc-2 c\n"
    assert run([UTILS / "filter_scp.pl", "--exclude", ids, utt2spk]).stdout == "a-1 a\na-2 a\nc-1 c\nc-3 c\n"
    spk_ids = write(tmp_path / "spk_ids", "a\n")
    assert run([UTILS / "filter_scp.pl", "-f", "2", spk_ids, utt2spk]).stdout == "a-1 a\na-2 a\n"


def test_check_corpus_dir(tmp_path):
    (tmp_path / "LibriSpeech").mkdir()
    assert run([UTILS / "check_corpus_dir.sh", "LIBRISPEECH", tmp_path, "LibriSpeech"]).returncode == 0
    for value, message in (("", "LIBRISPEECH is not set"), ("/no/such", "is not a directory"),
                           (str(tmp_path / "LibriSpeech"), "does not look right")):
        proc = run([UTILS / "check_corpus_dir.sh", "LIBRISPEECH", value, "LibriSpeech"], check=False)
        assert proc.returncode == 1 and message in proc.stderr and "db.sh" in proc.stderr
