"""The ingestion pipeline: NES-MDB (MIDI, exprsco, seprsco, .tar.gz), any MIDI and the music21 corpus
into Scores and piano-roll datasets. Uses numpy, never torch."""

from nesinterp.io.nesmdb_midi import nesmdb_midi_bytes, write_nesmdb_midi
from nesinterp.io.pickles import score_to_pickle_bytes, write_score_pickle
from nesinterp.io.readers import ReadError, read_score, score_from_bytes

__all__ = [
    "ReadError",
    "nesmdb_midi_bytes",
    "read_score",
    "score_from_bytes",
    "score_to_pickle_bytes",
    "write_nesmdb_midi",
    "write_score_pickle",
]
