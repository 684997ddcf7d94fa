"""`nesinterp bench`: benchmarks that train several models with one budget and tabulate their scores
(registered on the `nesinterp` command by ``cli``, whose error handling covers it)."""

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
