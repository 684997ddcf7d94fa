"""Seeds and mutations shared by the fuzz tests and scripts/fuzz.py: real-format files made by the
project itself, and byte-level damage of the kinds files suffer (flips, truncation, splices)."""

from __future__ import annotations

import io
import pickle
import random
from functools import lru_cache

import mido
import numpy as np

from nesinterp.io.nesmdb_midi import nesmdb_midi_bytes
from nesinterp.io.pickles import score_to_pickle_bytes
from nesinterp.examples import compose_dungeon, compose_overworld


@lru_cache(maxsize=None)
def seed_midis() -> tuple[bytes, ...]:
    """NES-MDB MIDI of the bundled songs, and a general type-1 file with tempo changes and drums."""
    general = mido.MidiFile(type=1, ticks_per_beat=480)
    conductor = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=500000, time=0),
                                mido.MetaMessage("set_tempo", tempo=350000, time=960)])
    lead = mido.MidiTrack([mido.Message("program_change", program=5, time=0)])
    drums = mido.MidiTrack()
    for i, pitch in enumerate([60, 64, 67, 72, 67, 64, 60, 55]):
        lead += [mido.Message("note_on", note=pitch, velocity=90, time=0 if i == 0 else 10),
                 mido.Message("note_off", note=pitch, velocity=0, time=230)]
        drums += [mido.Message("note_on", channel=9, note=36 if i % 2 == 0 else 38, velocity=100, time=0 if i == 0 else 200),
                  mido.Message("note_off", channel=9, note=36 if i % 2 == 0 else 38, velocity=0, time=40)]
    general.tracks += [conductor, lead, drums]
    buf = io.BytesIO()
    general.save(file=buf)
    return (nesmdb_midi_bytes(compose_overworld()[:96]), nesmdb_midi_bytes(compose_dungeon()[:96]), buf.getvalue())


@lru_cache(maxsize=None)
def seed_pickles() -> tuple[bytes, ...]:
    """exprsco and seprsco pickles as NES-MDB writes them (protocol 0), and a protocol-2 exprsco."""
    score = compose_overworld()[:48]
    return (score_to_pickle_bytes(score), score_to_pickle_bytes(score, "seprsco"),
            pickle.dumps((24.0, 88200, np.ascontiguousarray(score.array)), protocol=2))


def mutate(data: bytes, seed: int) -> bytes:
    """1-4 random damages: bit flips, byte overwrites, truncation, deletion, insertion, duplication,
    and numbers pushed to extremes (0xFF/0x7F runs, as in lengths, deltas and tempos)."""
    rng = random.Random(seed)
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        if not out:
            out += bytes([rng.randrange(256)])
        kind = rng.randrange(7)
        pos = rng.randrange(len(out))
        if kind == 0:
            out[pos] ^= 1 << rng.randrange(8)
        elif kind == 1:
            out[pos] = rng.randrange(256)
        elif kind == 2:
            del out[pos:]
        elif kind == 3:
            del out[pos : pos + rng.randint(1, 16)]
        elif kind == 4:
            out[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
        elif kind == 5:
            end = min(len(out), pos + rng.randint(1, 64))
            out[pos:pos] = out[pos:end]
        else:
            out[pos : pos + 4] = bytes([rng.choice([0xFF, 0x7F, 0x80, 0x00])] * 4)
    return bytes(out)
