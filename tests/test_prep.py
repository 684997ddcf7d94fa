import io
import json
import os
import signal
import subprocess
import tarfile
import time

import numpy as np
import pytest

from data_prep.dataset import Dataset, DatasetError
from nesinterp.io.nesmdb_midi import nesmdb_midi_bytes
from nesinterp.io.pickles import score_to_pickle_bytes
from data_prep.prep import PrepOptions, assign_splits, run_prep
from data_prep.sources import Item, expand_sources, nesmdb_game
from nesinterp.examples import compose_dungeon, compose_overworld
from nesinterp.score import Score

from .conftest import nesinterp_command


def song(seed: int, frames: int = 60) -> Score:
    rng = np.random.default_rng(seed)
    a = np.zeros((frames, 4, 3), np.uint8)
    a[:, 0, 0] = rng.integers(60, 72)
    a[:, 0, 1] = 8
    a[::3, 2, 0] = rng.integers(30, 50)
    return Score(a)


@pytest.fixture
def nesmdb_folder(tmp_path):
    """A miniature NES-MDB release: official split folders, NES-MDB file names, mixed formats."""
    root = tmp_path / "nesmdb"
    layout = {
        "train": ["001_GameA_00_01Title", "001_GameA_01_02Stage", "002_GameB_00_01Title"],
        "valid": ["003_GameC_00_01Title"],
        "test": ["004_GameD_00_01Title"],
    }
    seed = 0
    for split, names in layout.items():
        (root / split).mkdir(parents=True)
        for name in names:
            seed += 1
            if seed % 2:
                (root / split / f"{name}.exprsco.pkl").write_bytes(score_to_pickle_bytes(song(seed)))
            else:
                (root / split / f"{name}.mid").write_bytes(nesmdb_midi_bytes(song(seed)))
    return root


def test_prep_folder_keeps_official_split_and_loads_by_memory_map(nesmdb_folder, tmp_path, cli):
    out = tmp_path / "ds"
    r = cli("prep", nesmdb_folder, "-o", out, "--workers", "2")
    assert r.returncode == 0, r.stderr
    assert "| train | 3 | 2 |" in r.stdout
    ds = Dataset(out)
    assert ds.splits == ["train", "valid", "test"]
    train = ds.split("train")
    assert isinstance(train.scores, np.memmap)
    assert [s.name for s in train.songs] == ["001_GameA_00_01Title", "001_GameA_01_02Stage",
                                             "002_GameB_00_01Title"]
    assert [s.game for s in train.songs] == ["001_GameA", "001_GameA", "002_GameB"]
    assert train.score(0).same_music(song(1)) and train.score(1).same_music(song(2))
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"] == {"found": 5, "used": 5, "skipped": 0}
    assert manifest["splits"]["valid"]["songs"] == 1
    assert manifest["splits"]["train"]["hours"] == pytest.approx(180 / 24 / 3600, abs=1e-4)
    assert manifest["splits"]["train"]["voices"]["P1"]["sounding_share"] == 1.0
    assert manifest["splits"]["train"]["voices"]["NO"]["songs_silent"] == 3
    assert manifest["options"]["workers"] == 2 and manifest["tool_version"]


def test_archive_is_read_without_extracting_and_hostile_members_are_skipped(nesmdb_folder, tmp_path, cli):
    archive = tmp_path / "release.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        tf.add(nesmdb_folder, arcname="nesmdb24_exprsco")
        evil = score_to_pickle_bytes(song(99))
        for name in ("../escape.exprsco.pkl", "/abs/path/010_Evil_00_01X.exprsco.pkl"):
            info = tarfile.TarInfo(name)
            info.size = len(evil)
            tf.addfile(info, io.BytesIO(evil))
        link = tarfile.TarInfo("nesmdb24_exprsco/train/005_Link_00_01X.mid")
        link.type = tarfile.SYMTYPE
        link.linkname = "/etc/passwd"
        tf.addfile(link)
        inner = tarfile.TarInfo("nested.tar.gz")
        inner.size = 3
        tf.addfile(inner, io.BytesIO(b"abc"))
    out = tmp_path / "work" / "ds"
    r = cli("prep", archive, "-o", out, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert not (tmp_path / "escape.exprsco.pkl").exists() and not (tmp_path / "work" / "escape.exprsco.pkl").exists()
    manifest = json.loads((out / "manifest.json").read_text())
    reasons = {s["source"].split(":", 1)[1]: s["reason"] for s in manifest["skipped"]}
    assert "link" in reasons["nesmdb24_exprsco/train/005_Link_00_01X.mid"]
    assert "archive inside an archive" in reasons["nested.tar.gz"]
    assert manifest["counts"]["used"] == 7  # 5 songs + the two oddly named members, read as bytes only
    assert sorted(os.listdir(out)) == sorted(
        [f"{s}.{k}" for s in ("train", "valid", "test") for k in ("scores.npy", "offsets.npy", "songs.json")]
        + ["manifest.json"])


def test_bad_files_are_skipped_with_reasons_and_strict_fails(tmp_path, cli):
    src = tmp_path / "midis"
    src.mkdir()
    (src / "good.mid").write_bytes(nesmdb_midi_bytes(compose_overworld()))
    (src / "empty.mid").write_bytes(b"")
    (src / "corrupt.mid").write_bytes(b"MThd\x00\x00\x00\x06\x00\x01\x00\x02\x01\xe0MTrk\x00\x00\x01\x00\x00\x90")
    (src / "silent.exprsco.pkl").write_bytes(score_to_pickle_bytes(Score.empty(48)))
    (src / "notes.txt").write_text("ignored: not a song file")
    r = cli("prep", src, "-o", tmp_path / "ds")
    assert r.returncode == 0, r.stderr
    manifest = json.loads((tmp_path / "ds" / "manifest.json").read_text())
    reasons = {os.path.basename(s["source"]): s["reason"] for s in manifest["skipped"]}
    assert set(reasons) == {"empty.mid", "corrupt.mid", "silent.exprsco.pkl"}
    assert "not a MIDI file" in reasons["empty.mid"] and "truncated" in reasons["corrupt.mid"]
    assert reasons["silent.exprsco.pkl"] == "no notes"
    assert "Skipped" in r.stdout

    r = cli("prep", src, "-o", tmp_path / "strict", "--strict")
    assert r.returncode == 2 and "--strict" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    assert not (tmp_path / "strict").exists()


@pytest.mark.parametrize("setup, message", [
    ("nothing", "no such file or folder"),
    ("only-bad", "nothing usable"),
    ("no-songs", "no song files found"),
    ("out-is-file", "is a file"),
    ("out-exists", "already exists; use --force"),
])
def test_unusable_inputs_exit_2_with_one_line(tmp_path, cli, setup, message):
    src = tmp_path / "src"
    src.mkdir()
    out = tmp_path / "out"
    if setup == "only-bad":
        (src / "a.mid").write_bytes(b"garbage")
    elif setup in ("out-is-file", "out-exists", "no-songs"):
        (src / "a.mid").write_bytes(nesmdb_midi_bytes(compose_dungeon()))
        if setup == "out-is-file":
            out.write_text("x")
        elif setup == "out-exists":
            out.mkdir()
            (out / "keep.txt").write_text("precious")
        else:
            (src / "a.mid").unlink()
    r = cli("prep", src if setup != "nothing" else tmp_path / "missing", "-o", out)
    assert r.returncode == 2, r.stdout
    assert message in r.stderr and len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    if setup == "out-exists":
        assert (out / "keep.txt").read_text() == "precious"


def test_force_replaces_an_existing_dataset(tmp_path, cli):
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.mid").write_bytes(nesmdb_midi_bytes(compose_dungeon()))
    out = tmp_path / "out"
    out.mkdir()
    (out / "old.txt").write_text("old")
    r = cli("prep", src, "-o", out, "--force")
    assert r.returncode == 0, r.stderr
    assert not (out / "old.txt").exists() and Dataset(out).split("train").score(0).same_music(compose_dungeon())
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_failure_mid_way_leaves_no_partial_dataset(tmp_path, monkeypatch):
    import data_prep.prep as prep

    src = tmp_path / "src"
    src.mkdir()
    (src / "a.mid").write_bytes(nesmdb_midi_bytes(compose_dungeon()))

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(prep, "write_split", boom)
    with pytest.raises(OSError):
        run_prep([str(src)], tmp_path / "out")
    assert list(tmp_path.iterdir()) == [src]


def test_killed_prep_leaves_old_state_or_complete_new_one(tmp_path, exprsco_archive):
    out = tmp_path / "ds"
    for delay in (0.3, 0.8, 1.5):
        proc = subprocess.Popen([*nesinterp_command(), "prep", str(exprsco_archive), "-o", str(out),
                                 "--force", "-q", "--workers", "2"], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
        time.sleep(delay)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        if out.exists():
            Dataset(out).split("train")  # complete, or it would not be there
    r = subprocess.run([*nesinterp_command(), "prep", str(exprsco_archive), "-o", str(out), "--force", "-q"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["ds"]  # stale temporaries were cleaned


def test_split_without_official_folders_keeps_groups_together_and_is_deterministic():
    items = [Item(f"s{i}", f"{g:03d}_Game{g}_{i:02d}_0{i}x.mid", group=f"{g:03d}_Game{g}")
             for g in range(40) for i in range(3)]
    splits = assign_splits(items, 0.1, 0.1)
    assert splits == assign_splits(list(items), 0.1, 0.1)
    by_group = {}
    for it, s in zip(items, splits):
        by_group.setdefault(it.group, set()).add(s)
    assert all(len(v) == 1 for v in by_group.values())
    counts = {s: sum(1 for v in by_group.values() if s in v) for s in ("train", "valid", "test")}
    assert counts == {"train": 32, "valid": 4, "test": 4}
    # few groups: everything trains rather than leaving train empty
    assert set(assign_splits(items[:9], 0.05, 0.05)) == {"train"}


def test_groups_come_from_game_names_and_subfolders(tmp_path):
    assert nesmdb_game("322_SuperMarioBros__00_01RunningAbout") == "322_SuperMarioBros_"
    assert nesmdb_game("211_M82GameSelectableWorkingProductDisplay_00_M82x01MainMusic") == \
        "211_M82GameSelectableWorkingProductDisplay"
    assert nesmdb_game("my_song") is None
    (tmp_path / "zelda").mkdir()
    (tmp_path / "zelda" / "a.mid").write_bytes(b"x")
    (tmp_path / "zelda" / "b.mid").write_bytes(b"x")
    (tmp_path / "loose.mid").write_bytes(b"x")
    items = [x for x in expand_sources([str(tmp_path)]) if isinstance(x, Item)]
    groups = {os.path.basename(it.source): it.group for it in items}
    assert groups["a.mid"] == groups["b.mid"] != groups["loose.mid"]


def test_full_exprsco_archive(exprsco_archive, tmp_path):
    result = run_prep([str(exprsco_archive)], tmp_path / "nesmdb", PrepOptions(workers=2))
    assert result.counts == {"found": 5278, "used": 5274, "skipped": 4}
    ds = Dataset(tmp_path / "nesmdb")
    sizes = {s: len(ds.split(s)) for s in ds.splits}
    assert sizes == {"train": 4500, "valid": 402, "test": 372}  # 4 songs are silent throughout
    games = {s: {e.game for e in ds.split(s).songs} for s in ds.splits}
    assert not (games["train"] & games["valid"]) and not (games["train"] & games["test"])
    assert len(games["train"]) == 318
    assert ds.manifest["splits"]["train"]["hours"] == pytest.approx(40.5, abs=0.1)


def test_dataset_errors_are_clear(tmp_path):
    with pytest.raises(DatasetError, match="no manifest.json"):
        Dataset(tmp_path)
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(DatasetError, match="unreadable manifest"):
        Dataset(tmp_path)


def test_mixed_sources_with_music21(tmp_path, cli):
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.mid").write_bytes(nesmdb_midi_bytes(compose_dungeon()))
    r = cli("prep", src, "music21:bach/bwv66.6", "-o", tmp_path / "ds", "--workers", "2")
    assert r.returncode == 0, r.stderr
    train = Dataset(tmp_path / "ds").split("train")
    assert sorted(s.source for s in train.songs) == sorted([str(src / "a.mid"), "music21:bach/bwv66.6"])
    assert {s.game for s in train.songs} == {"src/a", "music21/bach/bwv66"}
    r = cli("prep", "music21:no_such_composer_xyz", "-o", tmp_path / "bad")
    assert r.returncode == 2 and "music21:no_such_composer_xyz" in r.stderr and "Traceback" not in r.stderr


def test_cli_version_and_help(cli):
    r = cli("--version")
    assert r.returncode == 0 and "nesinterp" in r.stdout
    r = cli("--help")
    assert r.returncode == 0 and all(c in r.stdout for c in ("prep", "render", "train"))
