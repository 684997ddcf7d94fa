from data_prep.dataset import Dataset
from nesinterp.evaluate import evaluate_music
from nesinterp.interpolate import TrainedModel


def test_evaluate_music_scores_a_split(tiny_model):
    model = TrainedModel.load(tiny_model)
    split = Dataset(tiny_model.parent / "data").split("train")
    report = evaluate_music(model, split, pairs=4, steps=5)
    assert report["songs"] == 2 and report["windows"] == 12  # 2 songs x 384 frames / 64
    assert set(report["reconstruction_accuracy"]) == {"P1", "P2", "TR", "NO"}
    assert 0 <= report["reconstruction_accuracy_mean"] <= 1
    assert all(0 <= v <= 1 for v in report["onset_f1"].values())
    assert report["interpolation"]["crossfade"]["monotonicity_violations"] == 0
    assert "step_smoothness" in report["interpolation"]["latent"]
