"""The music model v3 ablation at equal samples: from v2's design to v3's, one change at a time, each run
trained on the same number of windows and scored by `nesinterp eval` with the encoder's codes (no
refinement), every figure with its 95 % interval.

    python benchmarks/experiments/ablation_v3.py [--windows 300000] [--data data/nesmdb] [--out runs/ablation-v3]

Variants (all at v3's CPU-sized widths, so that only the named change differs):
  v2               frame notes + onset head (v2's representation), no causal head, probabilities to the critic
  +events          notes as decisions (rest / hold / onset at a pitch), still decoded in one pass
  +causal head     the head that hears what it played, the critic on hard decodes
  +recipe (v3)     transposition +-6, P1/P2 swap, warmup + cosine, moving average of the weights
  v2 +recipe       the recipe on v2's representation (frame notes + onset head, one-pass decoder)
  +events decision-norm   +events with its kind and pitch losses normalised as one decision
Runs are resumed when interrupted and reused when finished, so running it again only re-scores. Prints
Markdown; each run's report is RUN/eval. Not part of the test run.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

BASE = ["acai.critic_width=32", "model.max_width=192", "model.head_width=64"]
PLAIN = ["data.transpose=0", "data.swap_pulses=false", "optim.schedule=constant", "optim.warmup_steps=0",
         "train.ema=0"]
VARIANTS = {
    "v2": ["data.notes=frames", "data.onsets=true", "model.head=none", "acai.hard=false", *PLAIN],
    "+events": ["model.head=none", "acai.hard=false", *PLAIN],
    "+causal head": PLAIN,
    "+recipe (v3)": [],
    # and +events with kind and pitch normalised as one decision (train.events_norm), which weights
    # pitch as frame notes do: +events lost pitch, not timing
    "+events decision-norm": ["model.head=none", "acai.hard=false", "train.events_norm=decision", *PLAIN],
    # and the recipe alone on v2's representation: is the recipe or the representation what helps?
    "v2 +recipe": ["data.notes=frames", "data.onsets=true", "model.head=none", "acai.hard=false"],
}
FIGURES = (("onset_f1_tol1", "onset F1 (+-1)"), ("pitch_onset_f1_tol1", "pitch-onset F1"),
           ("pitch_onset_ratio", "pitch onsets pred./true"), ("pitch_accuracy_sounding", "pitch on sounding"),
           ("volume_error", "volume error"))
PATHS = (("linearity_error", "linearity"), ("backward_movement", "backward"), ("first_step_share", "first step"),
         ("realism", "mid-path realism"))


def cell(entry: dict, key: str) -> str:
    value, ci = entry.get(key), entry.get(f"{key}_ci95") or [None, None]
    if value is None:
        return "n/a"
    return f"{value:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]" if ci[0] is not None else f"{value:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, default=300_000, help="training windows per variant")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--data", default="data/nesmdb")
    parser.add_argument("--out", default="runs/ablation-v3")
    parser.add_argument("--pairs", type=int, default=256)
    args = parser.parse_args()
    exe = Path(sys.executable).parent / "nesinterp"
    steps = args.windows // args.batch
    reports = {}
    for name, overrides in VARIANTS.items():
        run = Path(args.out) / name.replace(" ", "-").replace("(", "").replace(")", "").replace("+", "plus-")
        sets = [f"train.steps={steps}", f"train.batch={args.batch}", f"train.checkpoint_every={max(1, steps // 4)}",
                f"train.sample_every={steps}", *BASE, *overrides]
        if (run / "config.yaml").exists():
            cmd = [str(exe), "train", "--run-dir", str(run), "--resume", "-q"]
        else:
            cmd = [str(exe), "train", "--config", "nesmdb-v3", "--data", args.data, "--run-dir", str(run), "-q"]
            cmd += [x for s in sets for x in ("--set", s)]
        subprocess.run(cmd, check=True)
        report = run / "eval" / "report.json"
        if not report.exists():
            subprocess.run([str(exe), "eval", str(run), "--data", args.data, "--windows", "0", "--pairs",
                            str(args.pairs), "--refine", "0", "-o", str(run / "eval"), "--quiet"],
                           check=True, capture_output=True)
        reports[name] = json.loads(report.read_text())
    print(f"## Music model v3 ablation: {args.windows} training windows each, valid split, encoder codes\n")
    print("| variant | " + " | ".join(t for _, t in FIGURES) + " | " + " | ".join(t for _, t in PATHS) + " |")
    print("|---|" + "---:|" * (len(FIGURES) + len(PATHS)))
    for name, report in reports.items():
        mean, lat = report["rows"][0]["voices"]["mean"], report["interpolation"]["latent"]
        print(f"| {name} | " + " | ".join(cell(mean, k) for k, _ in FIGURES) + " | "
              + " | ".join(cell(lat, k) for k, _ in PATHS) + " |")
    base = next(iter(reports.values()))
    for row in base["rows"]:
        if row["name"] in ("hold_every_2", "hold_every_4"):
            mean = row["voices"]["mean"]
            print(f"| {row['name'].replace('_', ' ')} (baseline) | " + " | ".join(cell(mean, k) for k, _ in FIGURES)
                  + " |" + " |" * len(PATHS))
    fade = base["interpolation"]["crossfade"]
    print("| crossfade (baseline) |" + " |" * len(FIGURES) + " " + " | ".join(cell(fade, k) for k, _ in PATHS) + " |")


if __name__ == "__main__":
    main()
