"""The errors a user can cause - a missing or unreadable file, a bad config or option, a run that
cannot start - all derive from ``NesinterpError``; the command line prints any of them as one line
``nesinterp: error: ...`` with exit status 2, never a traceback. Each stage defines its own next to the
code that raises it (``ConfigError`` in config, ``ReadError`` in nesinterp.io.readers, ...).

No imports: data_prep, which never imports torch, uses it too.
"""

from __future__ import annotations


class NesinterpError(ValueError):
    """A problem with the user's input, files or settings, whose message says what is wrong (and,
    where it can, what to do). A ValueError, as every such error was before it had a common base."""


class TrainError(NesinterpError):
    """Training cannot start or go on: missing data, an existing run dir, an incompatible checkpoint.
    Here rather than in one module of nesinterp.train, because every module of it raises it."""


__all__ = ["NesinterpError", "TrainError"]
