"""Paired comparison of music models: each model's figures as nesinterp eval gives them, differences
with paired intervals (the same songs drawn for every model in each replicate)."""

import pytest

from data_prep.dataset import Dataset
from nesinterp.evaluate import evaluate_music
from nesinterp.evaluate.paired import comparison_markdown, paired_comparison
from nesinterp.evaluate.report import EvalError
from nesinterp.trained_model import TrainedModel


def test_a_model_against_itself_differs_by_exactly_nothing(tiny_model):
    model = TrainedModel.load(tiny_model)
    split = Dataset(tiny_model.parent / "data").split("train")
    result = paired_comparison({"a": (model, 0), "b": (model, 0)}, split, pairs=4, steps=4)
    cell = result["reconstruction"]["pitch_onset_f1_tol1"]["mean"]
    assert cell["b_minus_first"] == 0 and cell["b_minus_first_ci95"] == [0, 0]
    assert cell["a"] == cell["b"] and cell["a_ci95"] == cell["b_ci95"]
    assert result["paths"]["linearity_error"]["b_minus_first_ci95"] == [0, 0]
    assert "| pitch_onset_f1_tol1 |" in comparison_markdown(result)


def test_each_models_figures_are_its_eval_reports_and_the_difference_is_theirs(tiny_model):
    model = TrainedModel.load(tiny_model)
    split = Dataset(tiny_model.parent / "data").split("train")
    result = paired_comparison({"plain": (model, 0), "refined": (model, 3)}, split, pairs=4, steps=4)
    for name, refine in (("plain", 0), ("refined", 3)):
        report = evaluate_music(model, split, pairs=4, steps=4, refine=refine, windows=None)
        voices = report["rows"][0]["voices"]
        for key in ("pitch_onset_f1_tol1", "pitch_accuracy_sounding"):
            for voice in ("P1", "mean"):
                cell = result["reconstruction"][key][voice]
                assert cell[name] == pytest.approx(voices[voice][key], abs=6e-5)
                assert cell[f"{name}_ci95"] == pytest.approx(voices[voice][f"{key}_ci95"], abs=6e-5)
        path = report["interpolation"]["latent"]["linearity_error"]
        assert result["paths"]["linearity_error"][name] == pytest.approx(path, abs=6e-5)
    cell = result["reconstruction"]["pitch_accuracy_sounding"]["mean"]
    assert cell["refined_minus_first"] == pytest.approx(cell["refined"] - cell["plain"], abs=6e-5)
    low, high = cell["refined_minus_first_ci95"]
    assert low <= cell["refined_minus_first"] <= high


def test_a_comparison_needs_two_models(tiny_model):
    model = TrainedModel.load(tiny_model)
    split = Dataset(tiny_model.parent / "data").split("train")
    with pytest.raises(EvalError, match="two models"):
        paired_comparison({"a": (model, 0)}, split)
