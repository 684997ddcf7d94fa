"""Music models side by side on the same held-out windows and interpolation pairs, each difference from
the first model with a paired 95 % bootstrap interval over songs (``nesinterp.evaluate.paired``): the
measure for "is B better than A", where each model's own interval is too wide to tell. Tune on valid;
the test split is for a final table only.

    python benchmarks/experiments/paired_compare.py MODEL MODEL [MODEL ...] [--data data/nesmdb]
        [--split valid] [--windows 0] [--pairs 256] [--json FILE]

A MODEL is [NAME=]PATH[:REFINE]: a run directory, model folder or "pretrained" (the bundled model), and
optionally the refinement steps its codes get (default: the model's own), e.g.
    python benchmarks/experiments/paired_compare.py bundled=pretrained enc=pretrained:0 runs/new:0
Prints Markdown.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from data_prep.dataset import Dataset
from nesinterp import TrainedModel
from nesinterp.evaluate.paired import comparison_markdown, paired_comparison


def parse_model(text: str) -> tuple[str, str | None, int | None]:
    """[NAME=]PATH[:REFINE] -> (name, path, refine); "pretrained" is the bundled model (path None)."""
    name, _, rest = text.rpartition("=")
    path, sep, refine = rest.rpartition(":")
    if not sep or not refine.isdigit():
        path, refine = rest, ""
    name = name or (Path(path).name + (f":{refine}" if refine else ""))
    return name, None if path == "pretrained" else path, int(refine) if refine else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", metavar="MODEL")
    parser.add_argument("--data", default="data/nesmdb")
    parser.add_argument("--split", default="valid")
    parser.add_argument("--windows", type=int, default=0, help="held-out windows, evenly spread (0: all)")
    parser.add_argument("--pairs", type=int, default=256)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    if len(args.models) < 2:
        parser.error("give at least two models")
    models = {}
    for text in args.models:
        name, path, refine = parse_model(text)
        models[name] = (TrainedModel.load(path), refine)
    split = Dataset(args.data).split(args.split)
    start = time.perf_counter()
    result = paired_comparison(models, split, pairs=args.pairs, steps=args.steps, seed=args.seed,
                               windows=args.windows or None)
    print(f"## Paired comparison on {args.split} ({time.perf_counter() - start:.0f} s)\n")
    print(comparison_markdown(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
