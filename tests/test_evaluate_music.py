import json

import numpy as np
import pytest

from data_prep.dataset import Dataset, DatasetError, SongEntry, Split
from nesinterp.evaluate import evaluate_music, held_out_windows
from nesinterp.evaluate.music import REPORT_FILES, EvalError, corpus_windows, write_music_report
from nesinterp.trained_model import TrainedModel


VOICE_SCORES = {"onset_f1", "onset_f1_tol1", "onset_ratio", "pitch_accuracy_sounding", "note_accuracy",
                "pitch_onset_f1_tol1", "pitch_onset_ratio", "reattack_f1_tol1", "reattack_ratio"}
PATH_FIGURES = ("linearity_error", "backward_movement", "first_step_share", "last_step_share",
                "worst_step_typicality", "realism", "pitch_class_morph", "monotonicity_violations", "step_smoothness")


def assert_interval(entry: dict, key: str) -> None:
    """Beside figure ``key`` its 95 % interval [low, high], around it (both None where undefined)."""
    value, ci = entry[key], entry[f"{key}_ci95"]
    assert isinstance(ci, list) and len(ci) == 2, key
    if value is None:
        return
    assert ci[0] is not None and ci[0] <= ci[1], key
    assert ci[0] - 1e-3 <= value <= ci[1] + 1e-3, (key, value, ci)


def test_evaluate_music_scores_a_split(tiny_model):
    model = TrainedModel.load(tiny_model)
    split = Dataset(tiny_model.parent / "data").split("train")
    report = evaluate_music(model, split, pairs=4, steps=5)
    assert report["songs"] == 2 and report["windows"] == 12  # 2 songs x 384 frames / 64
    # the report.json contract: one row per model and per baseline, the same scores per voice
    rows = {r["name"]: r for r in report["rows"]}
    assert [r["kind"] for r in report["rows"]] == ["model"] * 3 + ["baseline"] * 5
    # costs in bits: the code at float32, then at 8 and 4 bits a number; baselines' states at their entropy
    assert [r["cost_bits"] for r in report["rows"][:3]] == [32 * model.latent_dim, 8 * model.latent_dim,
                                                           4 * model.latent_dim]
    entropy = sum(report["state_entropy_bits"].values())
    assert rows["hold_every_4"]["cost_bits"] == pytest.approx(16 * entropy, rel=1e-3)
    assert rows["always_rest"]["cost_bits"] == 0
    assert set(rows) >= {"always_rest", "constant_note", "hold_every_2", "hold_every_4", "hold_every_8"}
    assert report["rows"][0]["cost_numbers"] == model.latent_dim
    assert rows["hold_every_4"]["cost_numbers"] == 64 and rows["always_rest"]["cost_numbers"] == 0
    for row in report["rows"]:
        assert set(row["voices"]) == {"P1", "P2", "TR", "NO", "mean"}
        for scores in row["voices"].values():
            assert VOICE_SCORES <= set(scores)
            assert all(scores[k] is None or 0 <= scores[k] <= 1
                       for k in VOICE_SCORES - {"onset_ratio", "pitch_onset_ratio", "reattack_ratio"})
            for key in VOICE_SCORES:
                assert_interval(scores, key)
        assert_interval(row, "realism")
    assert rows["always_rest"]["voices"]["TR"]["reattack_f1_tol1"] is None  # the triangle has no re-attacks
    assert rows["always_rest"]["voices"]["P1"]["onset_f1_tol1"] == 0.0
    # the baselines order as they must: holding every 2nd frame keeps more onsets than every 8th
    assert rows["hold_every_2"]["voices"]["mean"]["onset_f1_tol1"] > rows["hold_every_8"]["voices"]["mean"]["onset_f1_tol1"]
    assert report["interpolation"]["crossfade"]["monotonicity_violations"] == 0
    switch = report["interpolation"]["switch"]
    assert switch["first_step_share"] == 0 and switch["backward_movement"] == 0
    assert switch["linearity_error"] > report["interpolation"]["crossfade"]["linearity_error"]
    for method in ("latent", "crossfade", "switch"):
        scores = report["interpolation"][method]
        assert 0 <= scores["realism"] <= 1 and 0 <= scores["pitch_class_morph"] <= 1
        for key in PATH_FIGURES:
            assert_interval(scores, key)
        curve = scores["endpoint_distance_a"]
        assert len(curve["mean"]) == 5 and curve["mean"][0] == 0.0
        assert all(lo <= hi for lo, hi in zip(curve["p25"], curve["p75"]))
    # no corpus given: the reference is the held-out split itself, which overlaps itself entirely
    real = report["realism"]
    assert real["reference"]["split"] == "train" and real["reference"]["windows"] == 12
    assert real["real_heldout"]["score"] == pytest.approx(1.0)
    for name in ("latent_mid_path", "crossfade_mid_path", "always_rest", "constant_note", "random_notes",
                 "reconstructions", "hold_every_2"):
        assert 0 <= real[name]["score"] <= 1 and set(real[name]["voices"]) == {"P1", "P2", "TR", "NO"}
        assert_interval(real[name], "score")
        assert all(assert_interval(real[name]["voices"] | {f"{v}_ci95": ci for v, ci in
                                                             real[name]["voices_ci95"].items()}, v) is None
                   for v in ("P1", "P2", "TR", "NO"))
    assert real["always_rest"]["score"] < real["real_heldout"]["score"]
    json.dumps(report, allow_nan=False)

    with_corpus = evaluate_music(model, split, pairs=2, steps=3, corpus=split, corpus_limit=5)
    assert with_corpus["realism"]["reference"]["windows"] == 5
    sampled = evaluate_music(model, split, pairs=2, steps=3, windows=4)  # an even sample of the windows
    assert sampled["windows"] == 4 and sampled["windows_in_split"] == 12 and sampled["songs"] == 2


def fake_split(lengths) -> Split:
    """Songs of the given lengths whose every frame differs (so windows can be told apart)."""
    frame = np.arange(sum(lengths))
    scores = np.zeros((len(frame), 4, 3), np.uint8)
    scores[:, :3, 0] = (40 + frame % 60)[:, None]
    scores[:, 3, 0] = 1 + frame % 16
    scores[:, [0, 1, 3], 1] = 8
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    return Split(scores, offsets, [SongEntry(f"s{i}", "g", "x", n) for i, n in enumerate(lengths)], "fake")


def test_corpus_windows_are_an_even_deterministic_subsample():
    split = fake_split([100, 10, 300])  # 2 + 1 + 5 windows of 64 frames
    every, _ = held_out_windows(split, 64)
    assert len(every) == 8
    np.testing.assert_array_equal(corpus_windows(split, 64, limit=100), every)
    np.testing.assert_array_equal(corpus_windows(split, 64, limit=3), every[[0, 3, 7]])
    assert corpus_windows(fake_split([]), 64).shape == (0, 64, 4, 3)


def test_write_music_report(tiny_model, tmp_path):
    model = TrainedModel.load(tiny_model)
    data = tiny_model.parent / "data"
    out = tmp_path / "eval"
    out.mkdir()
    (out / "report.json").write_text("stale")
    with pytest.raises(EvalError, match="report.json exists"):
        write_music_report(model, data, out, split="train", pairs=2, steps=3)
    assert sorted(p.name for p in out.iterdir()) == ["report.json"]  # refused before writing anything

    report = write_music_report(model, data, out, split="train", pairs=2, steps=3, force=True)
    assert sorted(p.name for p in out.iterdir()) == sorted(REPORT_FILES)  # no temporary folder left
    assert json.loads((out / "report.json").read_text()) == report
    assert report["model"]["latent_dim"] == model.latent_dim
    assert report["arguments"]["split"] == "train" and report["arguments"]["corpus_split"] == "train"
    assert report["interpolation"]["steps"] == 3 and "realism" in report["interpolation"]["latent"]
    for png in ("endpoint_curves.png", "interpolations.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = (out / "summary.md").read_text()
    assert "| realism" in summary and "| onset F1 (+-1 frame) |" in summary and "| hold every 4 | 64 |" in summary

    with pytest.raises(EvalError, match="exists"):
        write_music_report(model, data, out, split="train", pairs=2, steps=3)
    with pytest.raises(DatasetError, match="no 'valid' split"):  # the example dataset has none
        write_music_report(model, data, tmp_path / "other", split="valid")
    assert not (tmp_path / "other").exists()


def test_evaluate_music_needs_two_songs():
    with pytest.raises(EvalError, match="1 song"):
        evaluate_music(None, fake_split([200]))  # refused before the model is used


def test_eval_command_writes_a_music_report(cli, tiny_model, tmp_path):
    out = tmp_path / "report"
    result = cli("eval", tiny_model, "--data", tiny_model.parent / "data", "--split", "train", "--pairs", "4",
                 "--steps", "4", "-o", out, "--device", "cpu")
    assert result.returncode == 0, result.stderr
    assert "| realism of the inner steps (higher is better) |" in result.stdout
    assert "| always rest | 0 | 0 |" in result.stdout and "| linearity error" in result.stdout
    lerp = cli("eval", tiny_model, "--data", tiny_model.parent / "data", "--split", "train", "--pairs", "2",
               "--steps", "3", "-o", tmp_path / "lerp", "--device", "cpu", "--mode", "lerp", "--refine", "2")
    assert lerp.returncode == 0, lerp.stderr
    arguments = json.loads((tmp_path / "lerp" / "report.json").read_text())["arguments"]
    assert arguments["interpolation_mode"] == "lerp" and arguments["refine_steps"] == 2
    assert "codes refined by 2 steps" in lerp.stdout
    assert "3 steps each (endpoints included, lerp)" in lerp.stdout
    assert {p.name for p in out.iterdir()} == {"report.json", "summary.md", "endpoint_curves.png", "interpolations.png"}
    missing = cli("eval", tmp_path / "no-such-run")
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1 and "no-such-run" in missing.stderr
    no_split = cli("eval", tiny_model, "--data", tiny_model.parent / "data", "-o", tmp_path / "r2")
    assert no_split.returncode == 2 and "valid" in no_split.stderr and not (tmp_path / "r2").exists()
