"""`nesinterp render` of many songs: prepared datasets, archives and folders, resume, refusals, workers."""

from __future__ import annotations

import io
import json
import tarfile
import wave

import numpy as np
import pytest

from nesinterp.io.pickles import score_to_pickle_bytes, write_score_pickle
from data_prep.prep import PrepOptions, run_prep
from nesinterp.render import RenderError, pcm16
from nesinterp.render_dataset import RenderOptions, render_dataset
from nesinterp.score import Score, Voice
from nesinterp.synth import render_audio

RATE = 8000


def song(frames: int, note: int, name: str) -> Score:
    a = np.zeros((frames, 4, 3), np.uint8)
    a[:, Voice.P1] = (note, 12, 2)
    a[::3, Voice.NO] = (14, 9, 0)
    a[:, Voice.TR, 0] = note - 12
    return Score(a, name)


@pytest.fixture
def nesmdb_folder(tmp_path):
    """A folder laid out like NES-MDB: train/ and valid/ with exprsco pickles of two games."""
    root = tmp_path / "nesmdb"
    for split, names in (("train", ["001_GameA_00_01Title", "001_GameA_01_02Stage"]),
                         ("valid", ["002_GameB_00_01Title", "002_GameB_01_02Boss", "002_GameB_02_03End"])):
        (root / split).mkdir(parents=True)
        for i, name in enumerate(names):
            write_score_pickle(song(30 + 7 * i, 60 + i, name), root / split / f"{name}.exprsco.pkl")
    return root


def wav_samples(path) -> np.ndarray:
    with wave.open(str(path), "rb") as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, RATE)
        return np.frombuffer(w.readframes(w.getnframes()), "<i2")


def test_a_prepared_split_renders_one_wav_per_song_with_a_manifest(nesmdb_folder, tmp_path):
    run_prep([str(nesmdb_folder)], tmp_path / "data", PrepOptions())
    out = tmp_path / "audio"
    result = render_dataset([tmp_path / "data"], out, RenderOptions(split="valid", sample_rate=RATE, manifest=True))
    assert result.rendered == 3 and result.resumed == 0 and not result.skipped
    names = sorted(p.name for p in out.glob("*.wav"))
    assert names == ["002_GameB_00_01Title.wav", "002_GameB_01_02Boss.wav", "002_GameB_02_03End.wav"]
    for i, name in enumerate(names):
        expected = song(30 + 7 * i, 60 + i, name[:-4])
        assert np.array_equal(wav_samples(out / name), pcm16(render_audio(expected, RATE)))
    manifest = json.loads((out / "manifest.json").read_text())
    assert [s["wav"] for s in manifest["songs"]] == names
    assert manifest["songs"][0]["samples"] == 30 * RATE // 24 and manifest["sample_rate"] == RATE
    assert not list(out.rglob("*.part"))
    # Every split: one folder per split.
    result = render_dataset([tmp_path / "data"], tmp_path / "all", RenderOptions(sample_rate=RATE, workers=2))
    assert result.rendered == 5
    assert sorted(p.relative_to(tmp_path / "all").as_posix() for p in (tmp_path / "all").rglob("*.wav")) == [
        "train/001_GameA_00_01Title.wav", "train/001_GameA_01_02Stage.wav", "valid/002_GameB_00_01Title.wav",
        "valid/002_GameB_01_02Boss.wav", "valid/002_GameB_02_03End.wav"]


def test_archives_and_folders_render_with_workers_and_skip_bad_songs(nesmdb_folder, tmp_path):
    archive = tmp_path / "songs.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        for path in sorted(nesmdb_folder.rglob("*.pkl")):
            tf.add(path, arcname=f"nesmdb24_exprsco/{path.relative_to(nesmdb_folder).as_posix()}")
        bad = b"not a pickle"
        info = tarfile.TarInfo("nesmdb24_exprsco/valid/003_Bad_00_01X.exprsco.pkl")
        info.size = len(bad)
        tf.addfile(info, io.BytesIO(bad))
    result = render_dataset([archive], tmp_path / "a", RenderOptions(split="valid", sample_rate=RATE, workers=2))
    assert result.rendered == 3
    assert [s for s, _ in result.skipped] == [f"{archive}:nesmdb24_exprsco/valid/003_Bad_00_01X.exprsco.pkl"]
    folder = render_dataset([nesmdb_folder], tmp_path / "f", RenderOptions(split="valid", sample_rate=RATE))
    assert folder.rendered == 3
    for path in (tmp_path / "a").glob("*.wav"):
        assert (tmp_path / "f" / path.name).read_bytes() == path.read_bytes()  # same bytes, any route


def test_an_interrupted_render_resumes_and_other_jobs_are_refused(nesmdb_folder, tmp_path):
    out = tmp_path / "audio"
    options = RenderOptions(split="valid", sample_rate=RATE)
    render_dataset([nesmdb_folder], out, options)
    done = sorted(out.glob("*.wav"))
    kept = {p: p.stat().st_mtime_ns for p in done[:2]}
    done[2].unlink()  # as if killed before the last song; a half-written temp file stays behind
    (out / f".{done[2].name}.x1y2.part").write_bytes(b"RIFF half")
    result = render_dataset([nesmdb_folder], out, options)
    assert (result.rendered, result.resumed) == (1, 2)
    assert done[2].exists() and all(p.stat().st_mtime_ns == t for p, t in kept.items())
    assert not list(out.rglob("*.part"))
    # Another job (other rate) into the same folder: refused, nothing touched; --force re-renders all.
    with pytest.raises(RenderError, match="other sources or settings .*--force"):
        render_dataset([nesmdb_folder], out, RenderOptions(split="valid", sample_rate=11025))
    assert all(p.stat().st_mtime_ns == t for p, t in kept.items())
    result = render_dataset([nesmdb_folder], out, RenderOptions(split="valid", sample_rate=11025, force=True))
    assert result.rendered == 3
    # --force with another split replaces the job: the old job's WAVs go, a file of the user's stays.
    (out / "notes.txt").write_text("mine")
    (out / "mine.wav").write_bytes(b"mine")
    result = render_dataset([nesmdb_folder], out, RenderOptions(split="train", sample_rate=RATE, force=True))
    assert result.rendered == 2
    assert sorted(p.name for p in out.glob("*.wav")) == ["001_GameA_00_01Title.wav", "001_GameA_01_02Stage.wav",
                                                         "mine.wav"]
    assert (out / "notes.txt").read_text() == "mine"
    assert render_dataset([nesmdb_folder], out, RenderOptions(split="train", sample_rate=RATE)).resumed == 2
    # A folder holding a WAV of the same name that this tool did not write: refused without --force.
    other = tmp_path / "other"
    other.mkdir()
    (other / "002_GameB_01_02Boss.wav").write_bytes(b"mine")
    with pytest.raises(RenderError, match="002_GameB_01_02Boss.wav exists"):
        render_dataset([nesmdb_folder], other, options)
    assert (other / "002_GameB_01_02Boss.wav").read_bytes() == b"mine"


def test_refusals_name_the_problem(nesmdb_folder, tmp_path):
    with pytest.raises(RenderError, match="no songs found in the test split"):
        render_dataset([nesmdb_folder], tmp_path / "x", RenderOptions(split="test", sample_rate=RATE))
    twin = tmp_path / "twin"
    for sub in ("a", "b"):
        (twin / sub).mkdir(parents=True)
        (twin / sub / "same.exprsco.pkl").write_bytes(score_to_pickle_bytes(song(24, 60, "same")))
    with pytest.raises(RenderError, match="would overwrite the render of"):
        render_dataset([twin], tmp_path / "y", RenderOptions(sample_rate=RATE))
    with pytest.raises(RenderError, match="need a folder, not one .wav"):
        render_dataset([nesmdb_folder], tmp_path / "z.wav", RenderOptions(sample_rate=RATE))
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists() and not (tmp_path / "z.wav").exists()


def test_cli_renders_a_folder_and_reports(cli, nesmdb_folder, tmp_path):
    out = tmp_path / "audio"
    result = cli("render", nesmdb_folder, "--split", "valid", "-o", out, "--rate", RATE, "--workers", "2", "--manifest")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(out)
    assert "rendered 3 songs" in result.stderr and "x real time" in result.stderr
    assert len(list(out.glob("*.wav"))) == 3 and (out / "manifest.json").exists()
    again = cli("render", nesmdb_folder, "--split", "valid", "-o", out, "--rate", RATE)
    assert again.returncode == 0 and "rendered 0 songs" in again.stderr and "3 already there" in again.stderr
    refused = cli("render", nesmdb_folder, "--split", "valid", "-o", out, "--rate", 22050)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert refused.stderr.strip().count("\n") == 0 and "--force" in refused.stderr
    for args in (["--plot"], []):
        bad = cli("render", nesmdb_folder, "-o", tmp_path / "p", *args) if args else \
            cli("render", nesmdb_folder / "valid" / "002_GameB_00_01Title.exprsco.pkl", "--workers", "2", "-o",
                tmp_path / "q.wav")
        assert bad.returncode == 2 and bad.stderr.startswith("nesinterp: error: ")


def test_the_whole_valid_split_renders(exprsco_archive, tmp_path):
    """Every song of NES-MDB's valid split, from the real archive, at 8 kHz to keep the test quick."""
    result = render_dataset([exprsco_archive], tmp_path / "valid", RenderOptions(split="valid", sample_rate=RATE,
                                                                                 workers=2, manifest=True))
    assert result.rendered == 403 and not result.skipped  # one song has no notes: a silent WAV
    manifest = json.loads((tmp_path / "valid" / "manifest.json").read_text())
    assert len(manifest["songs"]) == result.rendered
    assert abs(sum(s["seconds"] for s in manifest["songs"]) / 3600 - 3.1) < 0.1


def test_an_interrupted_command_says_how_to_resume(nesmdb_folder, tmp_path):
    """SIGINT mid-render (as Ctrl-C): exit 130 with the resume hint, no traceback, no partial WAV; the
    same command then finishes the job."""
    import signal
    import subprocess
    import time

    from .conftest import nesinterp_command

    many = tmp_path / "many"
    many.mkdir()
    for i in range(40):
        write_score_pickle(song(24 * 60, 50 + i % 30, f"{i:03d}_Long_00_01Song"), many / f"{i:03d}_Long_00_01Song.exprsco.pkl")
    out = tmp_path / "out"
    cmd = [*nesinterp_command(), "render", str(many), "-o", str(out), "--workers", "1", "-q"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (out / ".render.json").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    if proc.returncode == 0:
        pytest.skip("the render finished before the interrupt arrived")
    assert proc.returncode == 130 and "Traceback" not in err and "same command" in err
    assert not list(out.rglob("*.part"))
    done = len(list(out.glob("*.wav")))
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and len(list(out.glob("*.wav"))) == 40
    assert done < 40
