"""What every command of the CLI shares: the one-line user error, the progress bar, the fast exit."""

from __future__ import annotations

import contextlib
import os
import sys

import click


class UserError(click.ClickException):
    """A problem with the user's input or files: one line, exit status 2."""

    exit_code = 2

    def show(self, file=None) -> None:
        message = " ".join(self.format_message().split())  # always one line
        click.echo(f"nesinterp: error: {message}", err=True)


PROGRESS_DELAY_S = 2.0  # a blend shorter than this shows no bar


@contextlib.contextmanager
def progress_bar(quiet: bool, unit: str = "track", desc: str = "writing"):
    """A ``progress(done, total)`` that draws a bar on stderr when stderr is a terminal and the work
    takes longer than PROGRESS_DELAY_S (TQDM_DELAY overrides it, as it would tqdm's own default)."""
    if quiet or not sys.stderr.isatty():
        yield None
        return
    from tqdm import tqdm

    bar = tqdm(total=None, unit=unit, desc=desc, file=sys.stderr, leave=False,
               delay=float(os.environ.get("TQDM_DELAY", PROGRESS_DELAY_S)))

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.update(done - bar.n)

    try:
        yield progress
    finally:
        bar.close()


def exit_now() -> None:
    """End the process without the interpreter's teardown.

    With torch loaded, tearing the interpreter down costs about half a second, a sixth of blend's
    budget from a cold start; every output file is already written and closed by now, so nothing is
    lost by skipping it. Only when run as the command (not when ``main`` is called in-process).
    """
    if not FAST_EXIT:
        return
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


FAST_EXIT = False  # set by cli.run, the console-script entry point


def report_folder(result, what: str = "run") -> None:
    """Print every file a folder-writing command wrote (one per line), what it replaced of an earlier
    ``what``, and its warnings on stderr; then end as ``exit_now`` does."""
    for path in result.files:
        click.echo(str(path))
    if result.removed:
        click.echo(f"nesinterp: removed {len(result.removed)} files of the earlier {what} in {result.out} "
                   "that this one does not write", err=True)
    for warning in result.record.get("warnings", []):
        click.echo(f"nesinterp: warning: {warning}", err=True)
    exit_now()
