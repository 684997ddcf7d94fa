"""The `nesinterp` command: a thin layer that parses arguments and calls the library.

Errors a user can cause end as one line on stderr and exit status 2, never a traceback: the library
raises them as ``NesinterpError`` (or ``OSError`` for files), and ``Commands`` turns both into that
line for every command in one place.
"""

from __future__ import annotations

import errno
import os
import sys

import click

from . import __version__
from .cli_common import UserError, progress_bar, report_folder
from .errors import NesinterpError


def _os_error(exc: OSError) -> str:
    """'path: reason' for a file-system error, the way the rest of the tool words its errors."""
    where = f"{exc.filename}: " if exc.filename else ""
    return f"{where}{exc.strerror or exc}"


class Commands(click.Group):
    """The command group, which reports the errors users cause the same way for every command."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except NesinterpError as exc:
            raise UserError(str(exc)) from None
        except OSError as exc:
            if exc.errno == errno.EPIPE:  # output closed early (| head): click's own quiet exit
                raise
            raise UserError(_os_error(exc)) from None


@click.group(cls=Commands, context_settings={"help_option_names": ["-h", "--help"]})
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
              help="Longest song accepted (default 3600 s, or $NESINTERP_MAX_SECONDS); longer ones are skipped.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar or summary table.")
def prep(sources, out, workers, strict, force, valid_fraction, test_fraction, max_seconds, quiet):
    """Turn NES-MDB (folders, .tar.gz archives, MIDI, exprsco/seprsco), any MIDI, and music21:<name>
    corpus pieces into a dataset folder with train/valid/test splits.

    \b
    Examples:
      nesinterp prep nesmdb24_exprsco.tar.gz -o data/nesmdb
      nesinterp prep my_midis/ music21:bach -o data/mixed
    """
    from data_prep.prep import PrepOptions, run_prep
    from nesinterp.score import length_limit

    max_seconds = length_limit(max_seconds)
    options = PrepOptions(
        workers=workers or os.cpu_count() or 1,
        strict=strict,
        force=force,
        valid_fraction=valid_fraction,
        test_fraction=test_fraction,
        max_seconds=max_seconds,
    )
    run_prep(list(sources), out, options, progress=not quiet and sys.stderr.isatty(), summary=not quiet)


@main.command()
@click.option("-c", "--config", "config_name", default="nesmdb-v2", show_default=True,
              help="Config file, or the name of one in configs/ (default: the bundled model's recipe).")
@click.option("--set", "overrides", multiple=True, metavar="SECTION.KEY=VALUE",
              help="Override a config value; repeatable (e.g. --set train.steps=2000).")
@click.option("--data", type=click.Path(), default=None, help="Dataset folder (sets data.path).")
@click.option("--run-dir", type=click.Path(), default=None,
              help="Where checkpoints and logs go (default: runs/<config name>).")
@click.option("--resume", is_flag=True, help="Continue the run in --run-dir from its last checkpoint.")
@click.option("--force", is_flag=True, help="Start the run in --run-dir over, removing its checkpoints.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda", "mps"]), default=None,
              help="Where to train (sets train.device; default: the config's, auto = cuda when present).")
@click.option("--threads", type=click.IntRange(min=0), default=None,
              help="CPU threads (sets train.threads; 0 = the cores not already busy).")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def train(config_name, overrides, data, run_dir, resume, force, device, threads, quiet):
    """Train an autoencoder (ACAI and/or a latent regularizer) from a config.

    Ctrl-C (or SIGTERM) stops after the step under way and saves a checkpoint there; the same command
    with --resume continues. A run that failed to start, or stopped before its first checkpoint, is
    started over by the same command.

    \b
    Examples:
      nesinterp train                                   # configs/nesmdb-v2.yaml on data/nesmdb
      nesinterp train --config tiny --data data/tiny --set train.steps=300
      nesinterp train --run-dir runs/nesmdb-v2 --resume # continue a stopped run
      nesinterp train --run-dir runs/nesmdb-v2 --force  # start it over
      torchrun --nproc_per_node 2 -m nesinterp train    # several GPUs or processes
    """
    from .config import config_choice, load_config
    from .train import is_main_process
    from .train import train as run_training

    if resume and force:
        raise UserError("--resume continues a run and --force starts it over: give one of them")
    overrides = list(overrides) + ([f"data.path={data}"] if data else []) + \
        ([f"train.device={device}"] if device else []) + ([f"train.threads={threads}"] if threads is not None else [])
    try:
        if resume:
            # A run continues with the config it was started with (plus allowed overrides such as
            # train.steps); the run dir is required, a --config is not.
            if run_dir is None:
                raise UserError("--resume needs --run-dir (the run to continue)")
            saved = os.path.join(run_dir, "config.yaml")
            if not os.path.isfile(saved):
                raise UserError(f"{run_dir}: no such run directory to resume (no config.yaml)")
            cfg = load_config(saved, overrides)
        else:
            note = config_choice(config_name)
            if note:
                click.echo(f"nesinterp: {note}", err=True)
            cfg = load_config(config_name, overrides)
            run_dir = run_dir or os.path.join("runs", cfg.name)
        last = run_training(cfg, run_dir, resume=resume, progress=not quiet, force=force)
    except KeyboardInterrupt:
        if is_main_process():
            click.echo(f"interrupted; continue with: nesinterp train --run-dir {run_dir} --resume", err=True)
        sys.exit(130)
    if not is_main_process():  # rank 0 reports for every process of a torchrun launch
        return
    if last:
        shown = ", ".join(f"{k} {v:.4g}" for k, v in last.items() if k not in ("step",))
        click.echo(f"{run_dir}: step {last['step']}: {shown}")
    else:
        click.echo(f"{run_dir}: already trained to train.steps")


@main.command()
@click.argument("songs", nargs=-1, required=True, metavar="A B [C ...]")
@click.option("-o", "--out", required=True, type=click.Path(), help="Output folder.")
@click.option("--steps", type=int, default=8, show_default=True,
              help="Number of songs in the morph (in each leg of a medley), both endpoints included.")
@click.option("--model", type=click.Path(), default=None,
              help="Run directory or model.safetensors (default: the bundled model).")
@click.option("--mode", type=click.Choice(["slerp", "lerp"]), default="slerp", show_default=True,
              help="Path through the latent space.")
@click.option("--temperature", type=float, default=0.0, show_default=True,
              help="0 decodes the most likely notes; above 0 samples them.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for sampling.")
@click.option("--refine", type=int, default=None, metavar="STEPS", help="Refine each code by "
              "this many gradient steps towards its window (default: the model's, 40 for the bundled; 0: off).")
@click.option("--start", "starts", type=float, multiple=True, metavar="SECONDS",
              help="Where the blended window starts: once for every song, or once per song in order.")
@click.option("--whole", is_flag=True, help="Blend whole songs window by window (the shorter repeats).")
@click.option("--force", is_flag=True, help="Replace existing files in the output folder, and remove those "
              "an earlier blend wrote there that this one does not.")
@click.option("--no-wav", is_flag=True, help="MIDI only, no WAV rendering.")
@click.option("--no-plot", is_flag=True, help="No piano-rolls.png.")
@click.option("--no-html", is_flag=True, help="No index.html page (nor the pictures it shows).")
@click.option("--musicxml", is_flag=True, help="Also write each step as MusicXML (one part per voice, noise as "
              "percussion) for notation programs.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def blend(songs, out, steps, model, mode, temperature, seed, refine, starts, whole, force, no_wav, no_plot,
          no_html, musicxml, quiet):
    """Morph song A into song B: STEPS songs from A to B as NES-MDB MIDI and WAV, and index.html to
    hear and see them all in a browser. More songs make a medley: A to B to C ..., STEPS a leg, one
    morph.wav and one page.

    \b
    Examples:
      nesinterp blend a.mid b.mid --steps 8 -o out/
      nesinterp blend a.mid b.exprsco.pkl -o out/ --start 10 --start 30 --mode lerp
      nesinterp blend a.mid b.mid -o out/ --whole --model runs/nesmdb
      nesinterp blend a.mid b.mid c.mid --steps 6 -o medley/
    """
    from .blending import BlendOptions, blend_songs

    if len(songs) < 2:
        raise UserError("blend needs at least two songs (A B [C ...])")
    if len(starts) not in (0, 1, len(songs)):
        raise UserError(f"--start is given once (every song) or once per song ({len(songs)} times)")
    if whole and starts:
        raise UserError("--whole blends whole songs; it takes no --start")
    options = BlendOptions(steps=steps, mode=mode, temperature=temperature, seed=seed,
                           start_a=starts[0] if starts else None, start_b=starts[-1] if starts else None,
                           starts=tuple(starts) if len(starts) > 1 else (), whole=whole, force=force,
                           wav=not no_wav, plot=not no_plot, html=not no_html, musicxml=musicxml, refine=refine)
    with progress_bar(quiet) as progress:
        result = blend_songs(list(songs), out, model, options, progress)
    report_folder(result, "blend")


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
@click.option("--split", type=click.Choice(["train", "valid", "test"]), default=None,
              help="Folders and archives: only this split (of a prepared dataset, or NES-MDB's folders).")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Folders and archives: parallel processes (default: all cores).")
@click.option("--manifest", is_flag=True, help="Folders and archives: also write OUT/manifest.json.")
@click.option("-q", "--quiet", is_flag=True, help="Folders and archives: no progress bar or summary.")
def render(inputs, out, force, plot, rate, normalize, split, workers, manifest, quiet):
    """Render songs (.mid, .exprsco.pkl, .seprsco.pkl) to 16-bit WAV through the NES sound chip.

    A folder (a prepared dataset, or any folder of songs) or an archive renders every song in it to
    OUT/[<split>/]<name>.wav, in parallel. Interrupted, the same command again renders only the songs
    still missing.

    \b
    Examples:
      nesinterp render song.mid -o song.wav
      nesinterp render a.mid b.exprsco.pkl -o out/ --plot
      nesinterp render data/nesmdb --split valid -o audio/valid --manifest
      nesinterp render nesmdb24_exprsco.tar.gz -o audio/nesmdb --workers 8
    """
    from .render_dataset import is_collection, render_command

    if any(is_collection(str(i)) for i in inputs):
        if plot:
            raise UserError("--plot draws single songs; it is not available for folders and archives")
        click.echo(render_command(list(inputs), out, split, workers, force, rate, normalize, manifest, quiet))
        return
    if split or workers or manifest:
        raise UserError("--split, --workers and --manifest apply to folders and archives, not single files")
    from .render import render_files

    # every file written: each WAV, and its PNG with --plot
    for path in render_files(list(inputs), out, force=force, plot=plot, sample_rate=rate, normalize=normalize):
        click.echo(str(path))


@main.command("eval")
@click.argument("run_dir", type=click.Path())
@click.option("--data", type=click.Path(), default=None,
              help="Dataset: a prepared folder (music) or the MNIST IDX folder (default: the run's data.path).")
@click.option("-o", "--out", type=click.Path(), default=None, help="Report folder (default: RUN_DIR/eval).")
@click.option("--split", default="valid", show_default=True, help="Music: the held-out split to score.")
@click.option("--pairs", type=click.IntRange(min=1), default=64, show_default=True,
              help="Music: interpolations between windows of different songs (1024 and more for tight intervals).")
@click.option("--windows", type=click.IntRange(min=0), default=384, show_default=True,
              help="Music: held-out windows scored, evenly spread over the split (0: all of them).")
@click.option("--steps", type=click.IntRange(min=2), default=8, show_default=True,
              help="Music: steps per interpolation, both endpoints included.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for choosing pairs.")
@click.option("--mode", type=click.Choice(["slerp", "lerp"]), default="slerp", show_default=True,
              help="Music: the interpolation path (slerp, as blend's default, or lerp, the critic's).")
@click.option("--refine", type=click.IntRange(min=0), default=None, metavar="STEPS",
              help="Music: code refinement steps, as blend's --refine (default: the model's).")
@click.option("--device", default="auto", show_default=True, help="auto (cuda when present), cpu or cuda.")
@click.option("--force", is_flag=True, help="Replace an existing report.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def eval_command(run_dir, data, out, split, pairs, windows, steps, seed, mode, refine, device, force, quiet):
    """Score a trained model with the benchmark of its kind and write a report folder: report.json,
    summary.md and PNG plots. Music: reconstruction, endpoint curves, smoothness, realism and pitch-class
    morph beside the data-space crossfade; lines: Mean Distance and Smoothness; MNIST: linear probe and
    k-means accuracy of the latent.

    \b
    Examples:
      nesinterp eval runs/nesmdb --data data/nesmdb
      nesinterp eval runs/lines
    """
    from .evaluate import evaluate_run

    if device == "auto":
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
    with progress_bar(quiet, unit="window", desc="coding") as progress:
        _kind, _report, folder = evaluate_run(run_dir, out, data, split=split, pairs=pairs, steps=steps, seed=seed,
                                              device=device, force=force, mode=mode, refine=refine,
                                              windows=windows, progress=progress)
    summary = folder / "summary.md"
    if summary.exists():
        click.echo(summary.read_text(), nl=False)
    click.echo(str(folder))


@main.command()
@click.argument("run_dir", type=click.Path())
@click.option("-o", "--out", type=click.Path(), required=True, help="Folder for model.safetensors and model.json.")
@click.option("--full-precision", is_flag=True, help="Keep float32 weights (default: float16, half the size).")
@click.option("--force", is_flag=True, help="Replace model files already in --out.")
def export(run_dir, out, full_precision, force):
    """Write a run's model as a small self-contained model folder, as the bundled model ships
    (``blend --model DIR`` and ``eval DIR`` take it).

    \b
    Example:
      nesinterp export runs/nesmdb-v3 -o my-model
    """
    from pathlib import Path

    from .checkpoint import export_model, model_files, read_model_meta

    _weights, meta_path = model_files(Path(run_dir))
    read_model_meta(meta_path)  # a run with no readable model: one line, before anything is written
    for name in ("model.safetensors", "model.json"):
        if (Path(out) / name).exists() and not force:
            raise UserError(f"{Path(out) / name} exists (use --force to replace it)")
    click.echo(str(export_model(run_dir, out, half=not full_precision)))


@main.command()
@click.argument("run_dir", type=click.Path())
@click.option("--data", type=click.Path(), default="data/nesmdb", show_default=True,
              help="Prepared dataset whose valid split the settings are chosen on.")
@click.option("--refine", type=click.IntRange(min=0), default=40, show_default=True, metavar="STEPS",
              help="Choose them for codes refined this many steps, as blend and eval decode (0: the encoder's).")
@click.option("--refine-lr", type=float, default=0.08, show_default=True, help="The refinement's step size.")
@click.option("--expression-codes/--no-expression-codes", default=None,
              help="Read volumes and timbres from a second code per window (default: as the model does).")
@click.option("--split", default="valid", show_default=True, help="The split they are chosen on.")
@click.option("--write", is_flag=True, help="Store the settings in the model's model.json.")
def calibrate(run_dir, data, refine, refine_lr, expression_codes, split, write):
    """Choose a model's onset thresholds, sounding biases and volume tilts again on the valid split, for
    the codes blend and eval decode; print the before/after table, and with --write store them.

    \b
    Example:
      nesinterp calibrate runs/nesmdb-v2 --data data/nesmdb --refine 40 --expression-codes --write
    """
    from .calibration import calibrate as run

    result = run(run_dir, data, refine, refine_lr, expression_codes, write, split=split)
    click.echo("\n".join(result.table))
    if result.written:
        click.echo(f"written to {result.written}")


from .cli_bench import bench  # noqa: E402  (the bench group lives in its own module,
from .cli_explore import COMMANDS  # noqa: E402  and the verbs beyond two songs in theirs)

for _command in (bench, *COMMANDS):
    main.add_command(_command)


def run() -> None:
    """The console script: the CLI, allowed to skip interpreter teardown after a finished blend."""
    from . import cli_common

    cli_common.FAST_EXIT = True
    main()


if __name__ == "__main__":  # pragma: no cover
    run()
