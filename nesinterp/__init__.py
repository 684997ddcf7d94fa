"""nesinterp: learn a latent space of NES chiptune music and blend one song into another.

The public API (each name loads its module on first use, so ``import nesinterp`` stays light):

- ``Score``: a song at 24 frames per second, the one currency; ``Voice``, ``FRAME_RATE``.
- ``read_score(path)``: NES-MDB MIDI, any MIDI, ``.exprsco.pkl``/``.seprsco.pkl`` into a Score.
- ``write_nesmdb_midi``, ``write_score_pickle``, ``write_wav``, ``write_musicxml``: Scores out.
- ``TrainedModel``: a trained model (``TrainedModel.load()`` is the bundled one) that encodes, decodes,
  reconstructs, samples and interpolates Scores.
- ``blend(a, b, out, ...)``: what ``nesinterp blend`` does, files and all.
- ``NesinterpError``: the base of every error a user's input can cause.
"""

from . import score as _score
from .errors import NesinterpError
from .io import interop as _interop
from .score import FRAME_RATE, Score, ScoreError, Voice

_score.CONVERSIONS = _interop  # Score.to_pretty_midi and friends delegate to it (see score.CONVERSIONS)

__version__ = "0.1.0.dev0"

_LAZY = {
    "read_score": ("nesinterp.io.readers", "read_score"),
    "write_nesmdb_midi": ("nesinterp.io.nesmdb_midi", "write_nesmdb_midi"),
    "write_score_pickle": ("nesinterp.io.pickles", "write_score_pickle"),
    "write_musicxml": ("nesinterp.io.interop", "write_musicxml"),
    "write_wav": ("nesinterp.render", "render_wav"),
    "TrainedModel": ("nesinterp.trained_model", "TrainedModel"),
    "blend": ("nesinterp.blending", "blend"),
    "BlendOptions": ("nesinterp.blending", "BlendOptions"),
}


def __getattr__(name: str):
    if name in _LAZY:
        from importlib import import_module

        module, attribute = _LAZY[name]
        value = getattr(import_module(module), attribute)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'nesinterp' has no attribute {name!r}")


__all__ = ["FRAME_RATE", "BlendOptions", "NesinterpError", "Score", "ScoreError", "TrainedModel", "Voice",
           "__version__", "blend", "read_score", "write_musicxml", "write_nesmdb_midi", "write_score_pickle",
           "write_wav"]
