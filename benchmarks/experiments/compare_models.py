"""Which model interpolates best? Train several variants (plain AE, ACAI, WWAE, ACAI + WWAE, ...) with one
budget and score each with ``nesinterp eval``'s functions; print a Markdown table.

    python benchmarks/experiments/compare_models.py music --data data/nesmdb --steps 2000 \
        --models baseline,acai,wwae,acai+wwae,acai+mmd_imq
    python benchmarks/experiments/compare_models.py mnist --steps 1500 --models baseline,acai,acai+wwae

Runs go to --out (default runs/compare-<task>/<variant>); finished runs are reused and interrupted ones
resumed, so rerunning only re-scores. Each run's report folder is RUN/eval; the table and all numbers
are written to --out as results.md and results.json. Not part of the test run.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

from nesinterp.bench import VariantRun, train_variants
from nesinterp.config import load_config, variant_overrides
from nesinterp.evaluate import evaluate_run
from nesinterp.jsonio import dumps

DEFAULT_CONFIG = {"music": "nesmdb-bundled", "mnist": "mnist"}


def run_configs(args) -> list[VariantRun]:
    plan = []
    for name in args.models.split(","):
        overrides = variant_overrides(name) + [
            f"train.steps={args.steps}", f"train.seed={args.seed}", f"train.checkpoint_every={max(1, args.steps // 4)}",
            f"train.sample_every={args.steps}", "train.log_every=50",
        ] + ([f"data.path={args.data}"] if args.data else []) + list(args.set)
        cfg = load_config(args.config or DEFAULT_CONFIG[args.task], overrides)
        plan.append(VariantRun(name, cfg, Path(args.out) / name.replace("+", "-")))
    return plan


VOICES = ("P1", "P2", "TR", "NO")


def music_row(name: str, report: dict) -> dict:
    """One model's figures from its report.json, and (identical for every model: same windows, same
    pairs) the baselines' and the crossfade's."""
    lat, fade = report["interpolation"]["latent"], report["interpolation"]["crossfade"]
    model = report["rows"][0]
    real = report["realism"]

    def recon(row):
        return {"f1_tol1": [row["voices"][v]["onset_f1_tol1"] for v in VOICES],
                "pitch": row["voices"]["mean"]["pitch_accuracy_sounding"],
                "onset_ratio": row["voices"]["mean"]["onset_ratio"], "realism": row["realism"],
                "cost": row["cost_numbers"]}

    return {"model": name, **recon(model),
            "violations": lat["monotonicity_violations"], "smoothness": lat["step_smoothness"],
            "mid_realism": lat["realism"], "pitch_class_morph": lat["pitch_class_morph"],
            "baselines": {r["name"]: recon(r) for r in report["rows"][1:]},
            "crossfade": {"violations": fade["monotonicity_violations"], "smoothness": fade["step_smoothness"],
                          "mid_realism": fade["realism"], "pitch_class_morph": fade["pitch_class_morph"]},
            "real_heldout_realism": real["real_heldout"]["score"]}


def music_table(rows: list[dict], args) -> str:
    def f1(r):
        return " | ".join(f"{x:.3f}" for x in r["f1_tol1"])

    out = [f"NES-MDB valid split, {args.steps} steps x batch 64 per model (config {args.config or 'nesmdb-bundled'}), "
           "64 pairs x 8 steps between windows of different songs, slerp. Baselines on the same windows. Realism: "
           "overlap of per-voice feature distributions with the train corpus (1 = like real music).", "",
           "| model | numbers per window | onset F1 +-1 P1 | P2 | TR | NO | pitch acc. sounding | onsets pred/true "
           "| realism of reconstructions |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        out.append(f"| {r['model']} | {r['cost']} | {f1(r)} | {r['pitch']:.3f} | {r['onset_ratio']:.3f} | {r['realism']:.3f} |")
    for name, b in rows[0]["baselines"].items():
        out.append(f"| *{name.replace('_', ' ')}* | {b['cost']} | {f1(b)} | {b['pitch']:.3f} | {b['onset_ratio']:.3f} "
                   f"| {b['realism']:.3f} |")
    out += ["", "| interpolation (inner steps) | realism | monotonicity violations | step smoothness | pitch-class morph |",
            "|---|---:|---:|---:|---:|"]
    for r in rows + [{"model": "*data-space crossfade*", **rows[0]["crossfade"]}]:
        out.append(f"| {r['model']} | {r['mid_realism']:.3f} | {r['violations']:.2f} | {r['smoothness']:.3f} "
                   f"| {r['pitch_class_morph']:.3f} |")
    out.append(f"| *real held-out windows* | {rows[0]['real_heldout_realism']:.3f} | - | - | - |")
    return "\n".join(out) + "\n"


def mnist_row(name: str, report: dict) -> dict:
    return {"model": name, "probe_accuracy": report["probe"]["test_accuracy"],
            "clustering_accuracy": report["clustering"]["test_accuracy"], "latent_dim": report["latent_dim"]}


def mnist_table(rows: list[dict], args) -> str:
    out = [f"MNIST, {args.steps} steps x batch 64 per model (config {args.config or 'mnist'}); test-set accuracy of a "
           "single linear layer on the frozen latent, and of k-means (k = 10, whitened latents, Hungarian matching).",
           "", "| model | d_z | linear probe | k-means |", "|---|---|---|---|"]
    out += [f"| {r['model']} | {r['latent_dim']} | {100 * r['probe_accuracy']:.2f} % | "
            f"{100 * r['clustering_accuracy']:.2f} % |" for r in rows]
    out.append("| paper at 2^24 samples: ACAI / baseline AE | 32 | 98.25 % / 94.90 % | - |")
    return "\n".join(out) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("task", choices=["music", "mnist"])
    parser.add_argument("--models", default="baseline,acai,wwae,acai+wwae,acai+mmd_imq")
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--config", default=None, help="base config (default: nesmdb-bundled / mnist)")
    parser.add_argument("--data", default=None, help="dataset (default: the config's data.path)")
    parser.add_argument("--out", default=None, help="default runs/compare-<task>")
    parser.add_argument("--jobs", type=int, default=1, help="runs trained at once")
    parser.add_argument("--device", default="cpu", help="where scoring runs")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE")
    args = parser.parse_args()
    args.out = args.out or f"runs/compare-{args.task}"

    plan = run_configs(args)
    train_variants(plan, args.jobs, log=lambda text: print(text, file=sys.stderr, flush=True))
    rows = []
    for run in plan:
        _kind, report, _folder = evaluate_run(run.run_dir, data=args.data, device=args.device, force=True)
        rows.append(music_row(run.label, report) if args.task == "music" else mnist_row(run.label, report))
    table = music_table(rows, args) if args.task == "music" else mnist_table(rows, args)
    out = Path(args.out)
    (out / "results.json").write_text(dumps({"task": args.task, "steps": args.steps, "seed": args.seed,
                                                  "config": args.config, "rows": rows}, indent=2))
    (out / "results.md").write_text(table)
    print(table, end="")


if __name__ == "__main__":
    main()
