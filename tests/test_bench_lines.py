"""`nesinterp bench lines`: model names, run scoring, and one real (tiny) benchmark through the CLI."""

from __future__ import annotations

import json

import pytest

from nesinterp.config import ConfigError, variant_overrides
from nesinterp.evaluate.lines import read_evaluations, run_score


def test_model_names_map_to_config_overrides():
    assert variant_overrides("baseline") == ["acai.enabled=false", "regularizer.kind=none"]
    assert variant_overrides("acai") == ["acai.enabled=true", "regularizer.kind=none"]
    assert variant_overrides("ACAI+wwae") == ["acai.enabled=true", "regularizer.kind=wwae"]
    assert variant_overrides("mmd_imq") == ["acai.enabled=false", "regularizer.kind=mmd_imq"]
    for bad in ("acai+acai", "wwae+swae", "acai+none", "vae", "+"):
        with pytest.raises(ConfigError):
            variant_overrides(bad)


def test_a_run_scores_the_median_of_its_last_three_evaluations(tmp_path):
    records = [{"step": s, "lines_distance": d, "lines_smoothness": m, "lines_undefined": 0}
               for s, d, m in [(10, 9.0, 0.9), (20, 3.0, 0.5), (30, 1.0, 0.1), (40, 2.0, 0.3), (40, 5.0, 0.2)]]
    (tmp_path / "evaluations.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    evaluations = read_evaluations(tmp_path)  # step 40 logged twice (a resumed run): the last one counts
    assert [e["step"] for e in evaluations] == [10, 20, 30, 40] and evaluations[-1]["lines_distance"] == 5.0
    assert run_score(evaluations) == {"lines_distance": 3.0, "lines_smoothness": 0.2, "lines_undefined": 0}


def test_bench_lines_trains_scores_and_reuses_finished_runs(cli, tmp_path):
    out = tmp_path / "bench"
    args = ("bench", "lines", "--models", "baseline", "--samples", "192", "--evaluations", "3", "-o", out,
            "--set", "train.threads=1", "--set", "model.width=4")
    first = cli(*args)
    assert first.returncode == 0, first.stderr
    assert "| baseline |" in first.stdout and "to train" in first.stderr
    results = json.loads((out / "results.json").read_text())
    run = results["runs"][0]
    assert run["steps"] == 3 and run["samples"] == 192
    assert [e["step"] for e in read_evaluations(run["run_dir"])] == [1, 2, 3]
    assert 0 < run["lines_distance"] < 2
    second = cli(*args)  # finished: scored again without training
    assert second.returncode == 0 and "done" in second.stderr and "trained" not in second.stderr
    assert json.loads((out / "results.json").read_text())["runs"] == results["runs"]


def test_bench_lines_rejects_an_unknown_model_in_one_line(cli, tmp_path):
    result = cli("bench", "lines", "--models", "baseline,vae", "-o", tmp_path / "b")
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "vae" in result.stderr
    assert not (tmp_path / "b").exists()


def test_eval_scores_a_bench_run_and_keeps_an_existing_report(cli, tmp_path):
    out = tmp_path / "bench"
    assert cli("bench", "lines", "--models", "acai", "--samples", "128", "--evaluations", "3", "-o", out,
               "--set", "train.threads=1", "--set", "model.width=4").returncode == 0
    run_dir = out / "acai-seed0-n128"
    result = cli("eval", run_dir)
    assert result.returncode == 0, result.stderr
    assert "| this model |" in result.stdout
    for name in ("report.json", "summary.md", "interpolation_grid.png"):
        assert (run_dir / "eval" / name).stat().st_size > 0
    report = json.loads((run_dir / "eval" / "report.json").read_text())
    assert report["benchmark"] == "lines" and report["now"]["pairs"] == 256 and report["step"] == 2
    again = cli("eval", run_dir)
    assert again.returncode == 2 and "exists" in again.stderr and again.stderr.count("\n") == 1
    assert not [p for p in (run_dir / "eval").iterdir() if p.name.startswith(".")]


def test_bench_compare_music_trains_scores_and_tabulates_the_variants(tiny_data, tmp_path, cli):
    """`nesinterp bench compare music`: the music comparison is a command beside `bench lines`."""
    out = tmp_path / "compare"
    args = ["bench", "compare", "music", "--config", "tiny", "--data", tiny_data, "--steps", "6",
            "--models", "baseline,acai", "-o", out, "--set", "data.valid_split=train", "--set", "train.log_every=3"]
    r = cli(*args)
    assert r.returncode == 0, r.stderr
    results = json.loads((out / "results.json").read_text())
    assert [row["model"] for row in results["rows"]] == ["baseline", "acai"] and results["steps"] == 6
    assert "| baseline |" in r.stdout and "| acai |" in r.stdout and "*data-space crossfade*" in r.stdout
    assert (out / "results.md").read_text() == r.stdout[: -len(f"{out}/results.json\n")]
    again = cli(*args)  # finished runs are reused: only scored again
    assert again.returncode == 0 and "done" in again.stderr
    bad = cli("bench", "compare", "music", "--models", "acai+nothing", "-o", out)
    assert bad.returncode == 2 and "unknown model" in bad.stderr and bad.stderr.count("\n") == 1
