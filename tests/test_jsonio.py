"""Every JSON file the project writes is strict JSON: no NaN or Infinity, which strict parsers refuse."""

import json
import math
from pathlib import Path

import numpy as np
import pytest

from nesinterp.jsonio import dumps, plain


def strict_loads(text: str):
    def refuse(name):
        raise ValueError(f"not strict JSON: {name}")

    return json.loads(text, parse_constant=refuse)


def test_dumps_writes_null_for_numbers_that_are_not():
    data = {"nan": float("nan"), "inf": math.inf, "np": np.float32("nan"), "arr": np.array([1.5, np.inf]),
            "ok": np.int64(3), "path": Path("a/b"), "tuple": (1, float("-inf"))}
    assert strict_loads(dumps(data)) == {"nan": None, "inf": None, "np": None, "arr": [1.5, None], "ok": 3,
                                         "path": "a/b", "tuple": [1, None]}
    assert plain({1: 2.0}) == {"1": 2.0}
    with pytest.raises(ValueError):
        strict_loads('{"x": NaN}')  # the parser used here is strict


def test_files_of_a_trained_run_and_its_dataset_are_strict_json(tiny_model):
    files = [tiny_model / "model.json", *tiny_model.glob("checkpoints/*/model.json"),
             *tiny_model.glob("checkpoints/*/train_state.json"), tiny_model.parent / "data" / "manifest.json",
             *(tiny_model.parent / "data").glob("*.songs.json")]
    assert len(files) >= 4
    for path in files:
        strict_loads(path.read_text())
    lines = (tiny_model / "metrics.jsonl").read_text().splitlines()
    assert lines and all(isinstance(strict_loads(line), dict) for line in lines)
