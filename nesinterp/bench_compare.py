"""`nesinterp bench compare music|mnist`: which model variant is best? Several variants (plain AE, ACAI,
WWAE, ACAI + WWAE, ...) trained with one budget (``bench.train_variants``) and scored by ``nesinterp
eval``'s functions, as a Markdown table with the baselines. Runs go to OUT/<variant>; finished runs are
reused and interrupted ones resumed, so running it again only re-scores; each run's report folder is
RUN/eval, and the table and its numbers are written to OUT as results.md and results.json.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .bench import VariantRun, train_variants
from .config import load_config, variant_overrides
from .jsonio import dumps


@dataclass(frozen=True)
class CompareOptions:
    task: str = "music"  # or "mnist"
    models: tuple[str, ...] = ("baseline", "acai", "wwae", "acai+wwae", "acai+mmd_imq")
    steps: int = 2000
    seed: int = 0
    config: str | None = None  # default: DEFAULT_CONFIG[task]
    data: str | None = None
    out: str | None = None  # default: runs/compare-<task>
    jobs: int = 1
    device: str = "cpu"
    overrides: tuple[str, ...] = ()


DEFAULT_CONFIG = {"music": "nesmdb-bundled", "mnist": "mnist"}


def run_configs(args: CompareOptions) -> list[VariantRun]:
    plan = []
    for name in args.models:
        overrides = variant_overrides(name) + [
            f"train.steps={args.steps}", f"train.seed={args.seed}", f"train.checkpoint_every={max(1, args.steps // 4)}",
            f"train.sample_every={args.steps}", "train.log_every=50",
        ] + ([f"data.path={args.data}"] if args.data else []) + list(args.overrides)
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


def music_table(rows: list[dict], args: CompareOptions) -> str:
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


def mnist_table(rows: list[dict], args: CompareOptions) -> str:
    out = [f"MNIST, {args.steps} steps x batch 64 per model (config {args.config or 'mnist'}); test-set accuracy of a "
           "single linear layer on the frozen latent, and of k-means (k = 10, whitened latents, Hungarian matching).",
           "", "| model | d_z | linear probe | k-means |", "|---|---|---|---|"]
    out += [f"| {r['model']} | {r['latent_dim']} | {100 * r['probe_accuracy']:.2f} % | "
            f"{100 * r['clustering_accuracy']:.2f} % |" for r in rows]
    out.append("| paper at 2^24 samples: ACAI / baseline AE | 32 | 98.25 % / 94.90 % | - |")
    return "\n".join(out) + "\n"


def compare_models(options: CompareOptions, log: Callable[[str], None] = print) -> tuple[str, Path]:
    """Train the variants, score them, and write results.md and results.json; (the table, the folder)."""
    from .evaluate import evaluate_run

    out = Path(options.out or f"runs/compare-{options.task}")
    options = CompareOptions(**{**options.__dict__, "out": str(out)})
    plan = run_configs(options)
    train_variants(plan, options.jobs, log=log)
    rows = []
    for run in plan:
        split = run.config.data.valid_split if options.task == "music" else "valid"  # the split it was tuned on
        _kind, report, _folder = evaluate_run(run.run_dir, data=options.data, split=split, device=options.device,
                                              force=True)
        rows.append(music_row(run.label, report) if options.task == "music" else mnist_row(run.label, report))
    table = music_table(rows, options) if options.task == "music" else mnist_table(rows, options)
    (out / "results.json").write_text(dumps({"task": options.task, "steps": options.steps, "seed": options.seed,
                                             "config": options.config, "rows": rows}, indent=2))
    (out / "results.md").write_text(table)
    return table, out
