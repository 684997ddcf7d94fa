"""Scores to and from what other music code holds: ``pretty_midi.PrettyMIDI`` objects, music21 streams
and MusicXML files (``Score.from_pretty_midi``, ``Score.to_music21`` and friends call these).

pretty_midi goes through NES-MDB MIDI, so a Score survives the round trip exactly. music21 gets one
part per voice (P1, P2, TR as pitched parts, NO as a percussion part whose staff position is the noise
index), one note per onset (``nesinterp.score.note_events``), at 120 beats per minute so that a quarter
note is 12 frames. Notation has a volume per note, not per frame: reading such a stream back gives the
same notes and onsets with each note's volume held (envelopes and duty are not notation).
"""

from __future__ import annotations

import io
from fractions import Fraction

import numpy as np

from nesinterp.score import FRAME_RATE, MAX_VELOCITY, NOTE_RANGE, Field, Score, Voice, note_events

PART_NAMES = {Voice.P1: "Pulse 1", Voice.P2: "Pulse 2", Voice.TR: "Triangle", Voice.NO: "Noise"}
BPM = 120
FRAMES_PER_QUARTER = FRAME_RATE * 60 // BPM  # 12
NOISE_STEPS = "CDEFGAB"
DEFAULT_TIMBRE = {Voice.P1: 2, Voice.P2: 2, Voice.TR: 0, Voice.NO: 0}  # duty 50 %, noise not looped


# --- pretty_midi -------------------------------------------------------------------------------------

def score_from_pretty_midi(pm, name: str = "", source: str = "pretty_midi") -> Score:
    """A Score from a ``pretty_midi.PrettyMIDI``: NES-MDB MIDI exactly, any other MIDI reduced to the
    four voices as ``nesinterp prep`` does.

    Args:
        pm: the PrettyMIDI object.
        name, source: the Score's name and where it came from.
    Returns:
        The Score.
    """
    from .readers import score_from_midi_bytes

    buffer = io.BytesIO()
    pm.write(buffer)
    return score_from_midi_bytes(buffer.getvalue(), name, source)


def score_to_pretty_midi(score: Score):
    """The Score as a ``pretty_midi.PrettyMIDI`` in NES-MDB's MIDI layout (instruments p1, p2, tr, no;
    volume and timbre as control changes), which ``score_from_pretty_midi`` reads back exactly."""
    import pretty_midi

    from .nesmdb_midi import nesmdb_midi_bytes

    return pretty_midi.PrettyMIDI(io.BytesIO(nesmdb_midi_bytes(score)))


# --- music21 -----------------------------------------------------------------------------------------

def _noise_display(index: int) -> tuple[str, int]:
    """Staff position of noise index 1..16: C4, D4, ... upward, one diatonic step each."""
    step = index - 1
    return NOISE_STEPS[step % 7], 4 + step // 7


def _noise_index(step: str, octave: int) -> int:
    return (octave - 4) * 7 + NOISE_STEPS.index(step) + 1


def _notes_of(score: Score, voice: Voice) -> list[tuple[int, int, int, int]]:
    """(start, end, note, velocity) frames of each note of a voice: a note runs from its onset to the
    next onset or silence."""
    notes = score.notes[:, voice].astype(np.int64)
    onsets = note_events(score.array)[0][:, voice]
    sounding = notes > 0
    starts = np.flatnonzero(onsets)
    # a note ends at the next onset or the first silent frame after it
    boundary = onsets | ~sounding
    out = []
    for start in starts:
        later = np.flatnonzero(boundary[start + 1:])
        end = start + 1 + (int(later[0]) if len(later) else len(notes) - start - 1)
        velocity = int(score.velocities[start, voice]) if voice != Voice.TR else 0
        out.append((int(start), int(end), int(notes[start]), velocity))
    return out


def score_to_music21(score: Score, title: str | None = None):
    """The Score as a ``music21.stream.Score``: parts "Pulse 1", "Pulse 2", "Triangle" (pitched) and
    "Noise" (percussion, the noise index as staff position), one note per onset, 120 bpm (a quarter note
    is 12 frames), each note's MIDI velocity from its first frame's NES volume.

    Args:
        score: the Score.
        title: the stream's title (default the Score's name).
    Returns:
        A music21 Score that ``score_from_music21`` reads back to the same notes and onsets.
    """
    from music21 import instrument, metadata, note, stream, tempo

    out = stream.Score()
    out.metadata = metadata.Metadata(title=title or score.name or "nesinterp")
    for voice in Voice:
        part = stream.Part(id=voice.name)
        part.partName = PART_NAMES[voice]
        part.insert(0, instrument.UnpitchedPercussion() if voice == Voice.NO else instrument.Instrument())
        part.getInstrument().partName = PART_NAMES[voice]
        part.append(tempo.MetronomeMark(number=BPM))
        at = 0
        for start, end, pitch, velocity in _notes_of(score, voice):
            if start > at:
                part.append(note.Rest(quarterLength=Fraction(start - at, FRAMES_PER_QUARTER)))
            length = Fraction(end - start, FRAMES_PER_QUARTER)
            if voice == Voice.NO:
                n = note.Unpitched(quarterLength=length)
                n.displayStep, n.displayOctave = _noise_display(pitch)
            else:
                n = note.Note(pitch, quarterLength=length)
            if voice != Voice.TR:
                n.volume.velocity = min(127, velocity * 8 + 7)
            part.append(n)
            at = end
        if at < score.frames:
            part.append(note.Rest(quarterLength=Fraction(score.frames - at, FRAMES_PER_QUARTER)))
        out.insert(0, part)
    return out


def _ours(parsed) -> bool:
    from music21 import stream

    if not isinstance(parsed, stream.Score):
        return False
    names = [(p.partName or "") for p in parsed.parts]
    return names == [PART_NAMES[v] for v in Voice]


def score_from_music21(parsed, name: str = "", source: str = "music21") -> Score:
    """A Score from a music21 stream. A stream made by ``score_to_music21`` (or MusicXML written from
    one) maps back part by part: the same notes and onsets, each note at its one volume; any other
    stream is reduced to four voices as ``nesinterp prep music21:...`` does.

    Args:
        parsed: a music21 Score, Part or Opus.
        name, source: the Score's name and where it came from.
    Returns:
        The Score.
    """
    if not _ours(parsed):
        from .music21 import score_from_music21 as reduce_music21

        return reduce_music21(parsed, name, source)
    from music21 import note

    parts = list(parsed.parts)
    events = []
    for voice, part in zip(Voice, parts):
        for n in part.flatten().notes:
            start = int(round(float(n.offset) * FRAMES_PER_QUARTER))
            end = start + int(round(float(n.quarterLength) * FRAMES_PER_QUARTER))
            if isinstance(n, note.Unpitched):
                pitch = _noise_index(n.displayStep, n.displayOctave)
            else:
                pitch = int(n.pitch.midi)
            velocity = n.volume.velocity
            level = 0 if voice == Voice.TR else max(1, min(MAX_VELOCITY, (int(velocity or 64) - 7) // 8))
            events.append((voice, start, end, pitch, level))
    frames = max((e[2] for e in events), default=0)
    frames = max(frames, int(round(float(parsed.highestTime) * FRAMES_PER_QUARTER)))
    array = np.zeros((frames, 4, 3), np.uint8)
    for voice in Voice:
        array[:, voice, Field.TIMBRE] = DEFAULT_TIMBRE[voice]
    for voice, start, end, pitch, level in sorted(events, key=lambda e: (e[0], e[1])):
        lo, hi = NOTE_RANGE[voice]
        if not lo <= pitch <= hi:
            continue
        array[start:end, voice, Field.NOTE] = pitch
        array[start:end, voice, Field.VELOCITY] = level
        # a note straight after one of the same pitch is a re-attack: a volume rise marks it
        if start > 0 and voice != Voice.TR and array[start - 1, voice, Field.NOTE] == pitch:
            array[start - 1, voice, Field.VELOCITY] = max(1, min(level, array[start - 1, voice, Field.VELOCITY]) - 1)
            if array[start - 1, voice, Field.VELOCITY] >= level:
                array[start:end, voice, Field.VELOCITY] = min(MAX_VELOCITY, level + 1)
    return Score(array, name, source)


def write_musicxml(score: Score, path, title: str | None = None) -> None:
    """The Score as a MusicXML file (``score_to_music21``), which notation programs open."""
    score_to_music21(score, title).write("musicxml", fp=str(path))
