"""``python -m nesinterp`` (and ``torchrun -m nesinterp train``) run the command-line interface."""

from .cli import run

run()
