"""The commands beyond two songs: ``sample``, ``grid``, ``attributes`` and ``shift``, a thin layer over
``nesinterp.gallery`` and ``nesinterp.attributes`` (``cli`` registers them; errors end as one line,
exit status 2, as for every command)."""

from __future__ import annotations

import click

MODEL_HELP = "Run directory or model folder (default: the bundled model)."


def _outputs(force: bool, no_wav: bool, no_html: bool):
    from .outputs import Outputs

    return Outputs(wav=not no_wav, plot=False, html=not no_html, force=force)


def _common(command):
    """The options every folder-writing command here shares."""
    for option in reversed([
        click.option("-o", "--out", required=True, type=click.Path(), help="Output folder."),
        click.option("--model", type=click.Path(), default=None, help=MODEL_HELP),
        click.option("--temperature", type=float, default=0.0, show_default=True,
                     help="0 decodes the most likely notes; above 0 samples them."),
        click.option("--seed", type=int, default=0, show_default=True, help="Seed for sampling."),
        click.option("--force", is_flag=True, help="Replace existing files in the output folder, and remove "
                     "those an earlier run of the command wrote there that this one does not."),
        click.option("--no-wav", is_flag=True, help="MIDI only, no WAV rendering."),
        click.option("--no-html", is_flag=True, help="No index.html page (nor the pictures it shows)."),
        click.option("-q", "--quiet", is_flag=True, help="No progress bar."),
    ]):
        command = option(command)
    return command


@click.command()
@click.option("-n", "count", type=int, default=8, show_default=True, help="How many samples.")
@click.option("--seconds", type=float, default=None,
              help="Each sample a song this long, decoded as one sequence (default: one model window).")
@_common
def sample(count, seconds, out, model, temperature, seed, force, no_wav, no_html, quiet):
    """Draw codes from the model's prior and hear what they decode to: N samples as NES-MDB MIDI and
    WAV, sample.json with each one's realism, and index.html.

    \b
    Examples:
      nesinterp sample -n 8 -o samples/
      nesinterp sample -n 4 --seconds 20 --seed 3 -o songs/
    """
    from .cli_common import progress_bar, report_folder
    from .gallery import SampleOptions, sample_files

    options = SampleOptions(n=count, seconds=seconds, temperature=temperature, seed=seed,
                            outputs=_outputs(force, no_wav, no_html))
    with progress_bar(quiet) as progress:
        report_folder(sample_files(out, model, options, progress))


@click.command()
@click.argument("songs", nargs=-1, required=True, metavar="A B C D")
@click.option("--size", type=int, default=5, show_default=True, help="Cells a side.")
@click.option("--start", "starts", type=float, multiple=True, metavar="SECONDS",
              help="Where each song's window starts: once for all four, or once per song.")
@click.option("--whole", is_flag=True, help="Blend whole songs window by window (the shorter ones repeat).")
@click.option("--refine", type=int, default=None, metavar="STEPS", help="Code refinement steps (default: the model's).")
@_common
def grid(songs, size, starts, whole, refine, out, model, temperature, seed, force, no_wav, no_html, quiet):
    """Blend four songs on a board: A top left, B top right, C bottom left, D bottom right, SIZE x SIZE
    cells bilinear in the latent space between them, each as MIDI and WAV, grid.json with every cell's
    distance to the corners and realism, and index.html showing the board.

    \b
    Example:
      nesinterp grid a.mid b.mid c.mid d.mid --size 5 -o grid/
    """
    from .cli_common import UserError, progress_bar, report_folder
    from .gallery import GridOptions, grid_files

    if whole and starts:
        raise UserError("--whole blends whole songs; it takes no --start")
    options = GridOptions(size=size, starts=tuple(starts), whole=whole, temperature=temperature, seed=seed,
                          refine=refine, outputs=_outputs(force, no_wav, no_html))
    with progress_bar(quiet) as progress:
        report_folder(grid_files(list(songs), out, model, options, progress))


@click.command()
@click.argument("song")
@click.option("--attribute", "shift", required=True, metavar="NAME=X",
              help="The attribute and how far to go each way, e.g. density=+1.5 (nesinterp attributes lists them).")
@click.option("--steps", type=int, default=5, show_default=True, help="Versions from -X to +X, both included.")
@click.option("--start", type=float, default=None, metavar="SECONDS", help="Where the window starts.")
@click.option("--whole", is_flag=True, help="Shift the whole song, window by window.")
@click.option("--refine", type=int, default=None, metavar="STEPS", help="Code refinement steps (default: the model's).")
@_common
def shift(song, shift, steps, start, whole, refine, out, model, temperature, seed, force, no_wav, no_html, quiet):
    """Move a song along one musical attribute (note density, pitch, drums, loudness, re-attacks): STEPS
    versions from -X to +X along the model's attribute vector, shift.json with every version's measured
    attributes and realism, and index.html.

    \b
    Examples:
      nesinterp shift song.mid --attribute density=+1.5 --steps 5 -o denser/
      nesinterp shift song.mid --attribute pitch=2 --whole -o higher/
    """
    from .attributes import parse_shift
    from .cli_common import UserError, progress_bar, report_folder
    from .gallery import ShiftOptions, shift_files

    if whole and start is not None:
        raise UserError("--whole shifts the whole song; it takes no --start")
    name, amount = parse_shift(shift)
    options = ShiftOptions(attribute=name, amount=abs(amount), steps=steps, start=start, whole=whole,
                           temperature=temperature, seed=seed, refine=refine, outputs=_outputs(force, no_wav, no_html))
    with progress_bar(quiet) as progress:
        report_folder(shift_files(song, out, model, options, progress))


@click.command()
@click.argument("run_dir", type=click.Path())
@click.option("--data", type=click.Path(), default=None, help="Prepared dataset (default: the run's data.path).")
@click.option("--windows", type=click.IntRange(min=64), default=2048, show_default=True,
              help="Training windows to compute the directions from, evenly spread.")
@click.option("--method", type=click.Choice(["quarters", "joint"]), default="quarters", show_default=True,
              help="quarters: top minus bottom quarter's mean code; joint: each direction holds the other "
                   "attributes still (codes regressed on all at once; benchmarks/RESULTS.md 2j compares them).")
@click.option("--force", is_flag=True, help="Replace the model's attributes.json.")
def attributes(run_dir, data, windows, method, force):
    """Compute the model's attribute vectors from its training windows (mean code of the top quarter
    minus the bottom quarter, per attribute) and store them beside it as attributes.json, for
    `nesinterp shift` and `TrainedModel.shift`.

    \b
    Example:
      nesinterp attributes runs/nesmdb-v3 --data data/nesmdb
    """
    from .gallery import write_attribute_vectors

    for line in write_attribute_vectors(run_dir, data, windows, force, method=method):
        click.echo(line)


COMMANDS = (sample, grid, shift, attributes)
