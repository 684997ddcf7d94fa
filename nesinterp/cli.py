"""The `nesinterp` command: a thin layer that parses arguments and calls the library.

Errors a user can cause end as one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import os
import sys

import click

from . import __version__


class UserError(click.ClickException):
    """A problem with the user's input or files: one line, exit status 2."""

    exit_code = 2

    def show(self, file=None) -> None:
        click.echo(f"nesinterp: error: {self.format_message()}", err=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="nesinterp")
def main() -> None:
    """Learn a latent space of NES chiptune music and blend one song into another."""


@main.command()
@click.argument("sources", nargs=-1, required=True)
@click.option("-o", "--out", default="data/nesmdb", show_default=True, type=click.Path(),
              help="Dataset folder to create.")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Parallel processes (default: all cores).")
@click.option("--strict", is_flag=True, help="Fail if any input has to be skipped.")
@click.option("--force", is_flag=True, help="Replace OUT if it exists.")
@click.option("--valid-fraction", type=click.FloatRange(0, 0.5), default=0.05, show_default=True,
              help="Share of games/sources held out for valid, where the input has no official split.")
@click.option("--test-fraction", type=click.FloatRange(0, 0.5), default=0.05, show_default=True,
              help="Share of games/sources held out for test, likewise.")
@click.option("--max-seconds", type=click.FloatRange(min=1), default=None,
              help="Longest song accepted (default 3600 s); longer ones are skipped.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar or summary table.")
def prep(sources, out, workers, strict, force, valid_fraction, test_fraction, max_seconds, quiet):
    """Turn NES-MDB (folders, .tar.gz archives, MIDI, exprsco/seprsco), any MIDI, and music21:<name>
    corpus pieces into a dataset folder with train/valid/test splits.

    \b
    Examples:
      nesinterp prep nesmdb24_exprsco.tar.gz -o data/nesmdb
      nesinterp prep my_midis/ music21:bach -o data/mixed
    """
    from data_prep.prep import PrepError, PrepOptions, run_prep

    options = PrepOptions(
        workers=workers or os.cpu_count() or 1,
        strict=strict,
        force=force,
        valid_fraction=valid_fraction,
        test_fraction=test_fraction,
        **({"max_seconds": max_seconds} if max_seconds else {}),
    )
    try:
        run_prep(list(sources), out, options, progress=not quiet and sys.stderr.isatty(),
                 summary=not quiet)
    except PrepError as exc:
        raise UserError(str(exc)) from None


@main.command()
@click.argument("inputs", nargs=-1, required=True)
@click.option("-o", "--out", required=True, type=click.Path(),
              help="WAV file (one input) or folder for <name>.wav per input.")
@click.option("--force", is_flag=True, help="Replace existing WAV (and PNG) files.")
@click.option("--plot", is_flag=True, help="Also write a piano-roll <name>.png of the four voices.")
@click.option("--rate", type=click.IntRange(8000, 192000), default=44100, show_default=True,
              help="Sample rate in Hz.")
@click.option("--normalize", is_flag=True,
              help="Peak-normalise each WAV (default: a fixed scale, comparable between files).")
def render(inputs, out, force, plot, rate, normalize):
    """Render songs (.mid, .exprsco.pkl, .seprsco.pkl) to 16-bit WAV through the NES sound chip.

    \b
    Examples:
      nesinterp render song.mid -o song.wav
      nesinterp render a.mid b.exprsco.pkl -o out/ --plot
    """
    from data_prep.readers import ReadError

    from .render import RenderError, render_files

    try:
        for path in render_files(list(inputs), out, force=force, plot=plot, sample_rate=rate,
                                 normalize=normalize):
            click.echo(str(path))
    except (ReadError, RenderError) as exc:
        raise UserError(str(exc)) from None
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        raise UserError(f"{where}{exc.strerror or exc}") from None


if __name__ == "__main__":  # pragma: no cover
    main()
