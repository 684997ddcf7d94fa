"""Attribute vectors (nesinterp.attributes): the attributes of hand-built windows, the top-minus-bottom-
quarter vectors of constructed codes, attributes.json beside a model, and the shift's parsing and codes."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from nesinterp.attributes import (
    ATTRIBUTES, NAMES, AttributeVectorError, AttributeVectors, attribute_vectors_from_codes, attributes_path,
    compute_attribute_vectors, load_attribute_vectors, measure_attributes, parse_shift, shift_codes, vectors_for,
)
from nesinterp.checkpoint import model_files

FRAMES = 64
SECONDS = FRAMES / 24  # the frame rate is 24 per second


def window() -> np.ndarray:
    return np.zeros((FRAMES, 4, 3), np.uint8)


def test_four_p1_notes_give_their_density_pitch_and_loudness():
    w = window()
    for i, note in enumerate((60, 62, 64, 65)):  # four notes of 16 frames each
        w[16 * i:16 * (i + 1), 0] = (note, 10, 2)
    a = measure_attributes(w[None])
    assert set(a) == set(NAMES) == set(ATTRIBUTES) | {"density"}
    assert all(v.shape == (1,) for v in a.values())
    assert a["density_p1"][0] == pytest.approx(4 / SECONDS)
    assert a["density_p2"][0] == a["density_tr"][0] == a["drums"][0] == a["reattacks"][0] == 0
    assert a["density"][0] == pytest.approx(4 / SECONDS / 3)
    assert a["pitch"][0] == pytest.approx((60 + 62 + 64 + 65) / 4)
    assert a["loudness"][0] == pytest.approx(10)


def test_a_reattack_counts_as_an_onset_and_as_a_reattack():
    w = window()
    w[:32, 1] = (67, 5, 1)
    w[16:32, 1, 1] = 12  # the same note, louder: a re-attack at frame 16
    w[40:48, 1] = (67, 5, 1)  # after a rest: a new onset, not a re-attack
    a = measure_attributes(w[None])
    assert a["density_p2"][0] == pytest.approx(3 / SECONDS)
    assert a["reattacks"][0] == pytest.approx(1 / SECONDS)
    assert a["loudness"][0] == pytest.approx((16 * 5 + 16 * 12 + 8 * 5) / 40)


def test_drums_pitch_and_loudness_read_the_voices_they_describe():
    w = window()
    w[:16, 0] = (60, 10, 2)
    w[:16, 2] = (48, 0, 0)  # the triangle: a pitch, no volume
    for i, index in enumerate((3, 7, 3)):  # three noise hits, different from the frame before
        w[20 * i:20 * i + 4, 3] = (index, 4, 0)
    a = measure_attributes(w[None])
    assert a["drums"][0] == pytest.approx(3 / SECONDS)
    assert a["pitch"][0] == pytest.approx(54)  # P1 and TR, not the noise index
    assert a["loudness"][0] == pytest.approx((16 * 10 + 12 * 4) / 28)  # P1 and NO, not the triangle
    assert a["density_tr"][0] == pytest.approx(1 / SECONDS)


def test_a_silent_window_has_no_pitch_or_loudness_and_leading_axes_are_kept():
    w = np.zeros((2, 3, FRAMES, 4, 3), np.uint8)
    w[1, 2, :8, 0] = (70, 9, 0)
    a = measure_attributes(w)
    assert a["pitch"].shape == (2, 3)
    assert np.isnan(a["pitch"][0, 0]) and np.isnan(a["loudness"][0, 0]) and a["density"][0, 0] == 0
    assert a["pitch"][1, 2] == 70 and a["loudness"][1, 2] == 9
    with pytest.raises(ValueError, match="frames, 4, 3"):
        measure_attributes(np.zeros((4, 4), np.uint8))


def test_the_vector_is_the_top_quarter_mean_code_minus_the_bottom_quarter_mean_code():
    codes = torch.arange(9 * 3, dtype=torch.float32).reshape(9, 3) ** 2
    values = np.array([5.0, 0.0, 7.0, 1.0, np.nan, 6.0, 2.0, 4.0, 3.0])  # window 4 undefined: left out
    v = attribute_vectors_from_codes(codes, {"pitch": values})
    z = codes.numpy().astype(np.float64)
    np.testing.assert_allclose(v.vectors["pitch"], z[[5, 2]].mean(0) - z[[1, 3]].mean(0), rtol=1e-6)
    assert v.vectors["pitch"].dtype == np.float32 and v.windows == 9 and v.latent_dim == 3
    s = v.stats["pitch"]
    assert (s["bottom_mean"], s["top_mean"], s["quarter"], s["defined"]) == (0.5, 6.5, 2, 8)
    assert s["norm"] == pytest.approx(float(np.linalg.norm(v.vectors["pitch"])))
    with pytest.raises(AttributeVectorError, match="defined in 3 window"):
        attribute_vectors_from_codes(codes[:3], {"pitch": values[:3]})


def test_joint_vectors_hold_the_other_attributes_still():
    """Two correlated attributes, each written into its own code axis: the quarters' vector of one
    picks up the other's axis, the joint one does not, and it moves its own by the quarter gap."""
    rng = np.random.default_rng(0)
    a = rng.normal(size=4000)
    b = 0.8 * a + 0.6 * rng.normal(size=4000)  # correlated with a (0.8)
    codes = np.stack([2 * a, 3 * b, rng.normal(size=4000) * 0.01], axis=1)
    attributes = {"pitch": a, "drums": b}
    quarters = attribute_vectors_from_codes(torch.from_numpy(codes), attributes)
    joint = attribute_vectors_from_codes(torch.from_numpy(codes), attributes, method="joint")
    assert abs(quarters.vectors["pitch"][1]) > 0.5 * abs(quarters.vectors["pitch"][0])  # entangled
    gap = joint.stats["pitch"]["top_mean"] - joint.stats["pitch"]["bottom_mean"]
    np.testing.assert_allclose(joint.vectors["pitch"], [2 * gap, 0, 0], atol=0.02 * gap)
    assert AttributeVectors.from_dict(joint.to_dict()).method == "joint"
    old_file = {**quarters.to_dict(), "method": "a sentence, as files before the joint method said"}
    assert AttributeVectors.from_dict(old_file).method == "quarters"
    with pytest.raises(ValueError, match="quarters or joint"):
        attribute_vectors_from_codes(torch.from_numpy(codes), attributes, method="pca")


def test_shift_codes_adds_each_amount_times_the_vector():
    codes = torch.tensor([[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]])
    out = shift_codes(codes, np.array([1.0, -2.0]), [-1.5, 0.0, 2.0])
    assert out.shape == (3, 3, 2) and out.dtype == torch.float32
    assert torch.equal(out[1], codes)
    assert torch.allclose(out[0], codes + torch.tensor([-1.5, 3.0]))
    assert torch.allclose(out[2, 1], torch.tensor([4.0, -1.0]))
    with pytest.raises(ValueError, match="vector"):
        shift_codes(codes, np.ones(3), [1.0])


def test_parse_shift_reads_name_and_amount_and_says_what_is_wrong():
    assert parse_shift("density=+1.5") == ("density", 1.5)
    assert parse_shift(" pitch = -2 ") == ("pitch", -2.0)
    with pytest.raises(AttributeVectorError, match=r"unknown attribute 'tempo'.*known: density_p1, density_p2"):
        parse_shift("tempo=1")
    for bad in ("density=abc", "density=", "density=nan", "density=inf"):
        with pytest.raises(AttributeVectorError, match="not a number"):
            parse_shift(bad)
    with pytest.raises(AttributeVectorError, match="NAME=AMOUNT"):
        parse_shift("density")
    with pytest.raises(AttributeVectorError) as info:
        parse_shift("loud=x")
    assert "\n" not in str(info.value) and str(info.value).startswith("'loud=x': unknown attribute 'loud'")


@pytest.fixture
def model_copy(tiny_model, tmp_path):
    """The tiny model's two files in a folder of their own (the session's run dir stays untouched)."""
    folder = tmp_path / "model"
    folder.mkdir()
    for path in model_files(tiny_model):
        shutil.copy(path, folder / path.name)
    return folder


def test_vectors_of_a_model_round_trip_through_attributes_json(model_copy, tiny_model):
    from data_prep.dataset import Dataset
    from nesinterp import TrainedModel
    from nesinterp.evaluate.music import corpus_windows

    model = TrainedModel.load(model_copy)
    assert load_attribute_vectors(model_copy) is None and vectors_for(model) is None
    windows = corpus_windows(Dataset(tiny_model.parent / "data").split("train"), model.window, 16)
    seen = []
    vectors = compute_attribute_vectors(model, windows, batch=8, progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (len(windows), len(windows)) and vectors.windows == len(windows)
    assert set(vectors.vectors) == set(NAMES)
    assert all(v.shape == (model.latent_dim,) and v.dtype == np.float32 for v in vectors.vectors.values())
    path = vectors.save(model_copy)
    assert path == attributes_path(model_copy) == model_copy / "attributes.json"
    text = path.read_text()
    json.loads(text, parse_constant=lambda c: pytest.fail(f"not strict JSON: {c}"))
    for source in (model_copy, model_copy / "model.json", model_copy / "model.safetensors"):
        again = load_attribute_vectors(source)
        assert again.windows == vectors.windows and again.latent_dim == model.latent_dim
        for name in NAMES:
            np.testing.assert_allclose(again.vectors[name], vectors.vectors[name], atol=1e-6)
            assert again.stats[name]["quarter"] == vectors.stats[name]["quarter"]
    assert vectors_for(model).vector("density").shape == (model.latent_dim,)
    with pytest.raises(AttributeVectorError, match="no vector for attribute 'tempo'"):
        vectors_for(model).vector("tempo")


def _write(folder, data) -> str:
    (folder / "attributes.json").write_text(data if isinstance(data, str) else json.dumps(data))
    with pytest.raises(AttributeVectorError) as info:
        load_attribute_vectors(folder)
    message = str(info.value)
    assert "\n" not in message and str(folder / "attributes.json") in message
    return message


def test_a_malformed_or_wrong_size_file_is_refused_with_one_line_naming_it(model_copy):
    good = AttributeVectors({"pitch": np.ones(16, np.float32)}, {}, 10, 16).to_dict()
    assert "not readable JSON" in _write(model_copy, "{not json")
    assert "not a nesinterp attributes file" in _write(model_copy, {"vectors": {}})
    assert "has 3 numbers, latent_dim is 16" in _write(model_copy, {**good, "vectors": {"pitch": [1.0, 2.0, 3.0]}})
    assert "not a list of numbers" in _write(model_copy, {**good, "vectors": {"pitch": ["1"] * 16}})
    assert "unknown attribute 'tempo'" in _write(model_copy, {**good, "vectors": {"tempo": [1.0] * 16}})
    assert "version 99" in _write(model_copy, {**good, "version": 99})
    from nesinterp import TrainedModel

    model = TrainedModel.load(model_copy)
    wrong = AttributeVectors({"pitch": np.ones(model.latent_dim + 1, np.float32)}, {}, 10, model.latent_dim + 1)
    wrong.save(model_copy)
    with pytest.raises(AttributeVectorError, match=f"vectors of {model.latent_dim + 1} numbers, the model's codes "
                                                   f"have {model.latent_dim}"):
        vectors_for(model)
