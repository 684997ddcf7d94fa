"""``python -m nesinterp.examples``: rewrite the bundled example MIDI files from their code."""

from . import write_examples

for path in write_examples():
    print(path)
