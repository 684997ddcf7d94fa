"""`nesinterp bench`: benchmarks that train several models with one budget and tabulate their scores,
`lines` (ACAI's lines benchmark) and `compare` (music or MNIST variants), registered on the `nesinterp`
command by ``cli``, whose error handling covers them."""

from __future__ import annotations

import sys

import click


@click.group()
def bench() -> None:
    """Benchmarks that train several models with one budget and tabulate their scores."""


@bench.command("lines")
@click.option("--models", default="baseline,acai", show_default=True,
              help="Comma-separated: baseline, acai, a regularizer (wwae, mmd_imq, ...), or acai+<regularizer>.")
@click.option("--samples", type=click.IntRange(min=64), default=1 << 18, show_default=True,
              help="Training samples per run (the paper used 2^24 = 16777216).")
@click.option("--seeds", type=click.IntRange(min=1), default=1, show_default=True, help="Runs per model.")
@click.option("--evaluations", type=click.IntRange(min=3), default=16, show_default=True,
              help="Evaluations per run; a run scores the median of the last three.")
@click.option("-o", "--out", default="runs/bench-lines", show_default=True, type=click.Path(),
              help="Folder for the runs, results.json and results.md (finished runs are reused).")
@click.option("--jobs", type=click.IntRange(min=1), default=1, show_default=True, help="Runs trained at once.")
@click.option("--set", "overrides", multiple=True, metavar="SECTION.KEY=VALUE",
              help="Config override for every run (e.g. train.device=cuda); repeatable.")
def bench_lines_command(models, samples, seeds, evaluations, out, jobs, overrides):
    """ACAI's lines benchmark: Mean Distance and Smoothness of interpolations (lower is better).

    \b
    Examples:
      nesinterp bench lines --models baseline,acai --samples 262144 --seeds 2
      nesinterp bench lines --models baseline,acai,acai+wwae --samples 16777216 --set train.device=cuda
    """
    from .bench import BenchOptions, bench_lines, markdown_table
    from .config import variant_overrides

    names = tuple(m.strip() for m in models.split(",") if m.strip())
    try:
        for name in names:
            variant_overrides(name)
        options = BenchOptions(models=names, samples=samples, seeds=seeds, evaluations=evaluations, out=out,
                               overrides=tuple(overrides), jobs=jobs)
        results = bench_lines(options, log=lambda text: click.echo(text, err=True))
    except KeyboardInterrupt:
        click.echo("interrupted; the same command resumes the unfinished runs", err=True)
        sys.exit(130)
    click.echo(markdown_table(results), nl=False)
    click.echo(f"{out}/results.json")


@bench.command("compare")
@click.argument("task", type=click.Choice(["music", "mnist"]))
@click.option("--models", default="baseline,acai,wwae,acai+wwae,acai+mmd_imq", show_default=True,
              help="Comma-separated: baseline, acai, a regularizer (wwae, mmd_imq, ...), or acai+<regularizer>.")
@click.option("--steps", type=click.IntRange(min=1), default=2000, show_default=True, help="Training steps per model.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--config", default=None, help="Base config (default: nesmdb-bundled for music, mnist for mnist).")
@click.option("--data", type=click.Path(), default=None, help="Dataset (default: the config's data.path).")
@click.option("-o", "--out", default=None, type=click.Path(), help="Folder for the runs (default: runs/compare-TASK).")
@click.option("--jobs", type=click.IntRange(min=1), default=1, show_default=True, help="Runs trained at once.")
@click.option("--device", default="cpu", show_default=True, help="Where scoring runs.")
@click.option("--set", "overrides", multiple=True, metavar="SECTION.KEY=VALUE",
              help="Config override for every run; repeatable.")
def bench_compare_command(task, models, steps, seed, config, data, out, jobs, device, overrides):
    """Which model variant is best: train each with one budget, score it as `nesinterp eval` does, and
    print one table with the baselines (results.md and results.json in the output folder).

    \b
    Examples:
      nesinterp bench compare music --data data/nesmdb --steps 2000 --models baseline,acai,acai+wwae
      nesinterp bench compare mnist --steps 2000 --models baseline,acai,acai+wwae --set train.threads=1
    """
    from .bench_compare import CompareOptions, compare_models
    from .config import variant_overrides

    names = tuple(m.strip() for m in models.split(",") if m.strip())
    try:
        for name in names:
            variant_overrides(name)
        options = CompareOptions(task=task, models=names, steps=steps, seed=seed, config=config, data=data,
                                 out=out, jobs=jobs, device=device, overrides=tuple(overrides))
        table, folder = compare_models(options, log=lambda text: click.echo(text, err=True))
    except KeyboardInterrupt:
        click.echo("interrupted; the same command resumes the unfinished runs", err=True)
        sys.exit(130)
    click.echo(table, nl=False)
    click.echo(f"{folder}/results.json")
