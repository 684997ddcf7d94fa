import struct

import mido
import numpy as np
import pytest

from nesinterp.io.midi_file import MidiError, MidiLimits, midi_bytes, parse_midi, track_chunk, vlq


def raw_track(body: bytes) -> bytes:
    return b"MTrk" + struct.pack(">I", len(body)) + body


def header(ntracks=1, division=480, fmt=1):
    return b"MThd" + struct.pack(">IHHH", 6, fmt, ntracks, division)


def test_parses_what_mido_writes(tmp_path):
    mid = mido.MidiFile(type=1, ticks_per_beat=96)
    t0 = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=400000, time=0),
                         mido.MetaMessage("set_tempo", tempo=800000, time=192)])
    t1 = mido.MidiTrack([mido.MetaMessage("track_name", name="lead", time=0),
                         mido.Message("note_on", note=60, velocity=90, time=10),
                         mido.Message("note_off", note=60, velocity=0, time=86),
                         mido.Message("control_change", control=7, value=100, time=0),
                         mido.Message("program_change", program=5, time=1),
                         mido.Message("pitchwheel", pitch=100, time=1),
                         mido.Message("sysex", data=[1, 2, 3], time=1),
                         mido.Message("note_on", channel=9, note=36, velocity=100, time=400)])
    mid.tracks += [t0, t1]
    mid.save(tmp_path / "x.mid")
    parsed = parse_midi((tmp_path / "x.mid").read_bytes())
    assert parsed.ticks_per_beat == 96 and len(parsed.tracks) == 2
    tr = parsed.tracks[1]
    assert tr.name == "lead"
    assert tr.ticks.tolist() == [10, 96, 96, 97, 98, 499]
    assert tr.kinds.tolist() == [0x9, 0x8, 0xB, 0xC, 0xE, 0x9]
    assert tr.channels.tolist()[-1] == 9
    assert parsed.tempos == [(0, 400000), (192, 800000)]
    # 192 ticks at 400000 us/beat = 0.8 s, then 96 ticks at 800000 us/beat = 0.8 s
    assert parsed.tick_to_seconds(np.array([0, 192, 288])) == pytest.approx([0, 0.8, 1.6])


def test_running_status_is_understood():
    body = b"\x00\x90\x3c\x40" + b"\x10\x3e\x40" + b"\x10\x3c\x00" + b"\x00\xff\x2f\x00"
    parsed = parse_midi(header() + raw_track(body))
    t = parsed.tracks[0]
    assert t.ticks.tolist() == [0, 16, 32] and t.data1.tolist() == [60, 62, 60]
    assert t.kinds.tolist() == [9, 9, 9] and t.data2.tolist() == [64, 64, 0]


def test_smpte_division_uses_fixed_seconds_per_tick():
    division = ((256 - 25) << 8) | 40  # 25 fps, 40 ticks per frame -> 1 ms per tick
    parsed = parse_midi(b"MThd" + struct.pack(">IHHH", 6, 0, 1, division) + raw_track(b"\x00\xff\x2f\x00"))
    assert parsed.tick_to_seconds(np.array([1000])) == pytest.approx([1.0])


@pytest.mark.parametrize("data, message", [
    (b"", "not a MIDI file"),
    (b"RIFF....WAVEfmt ", "not a MIDI file"),
    (header() + b"MTrk" + struct.pack(">I", 100) + b"\x00\x90", "truncated"),
    (header() + raw_track(b"\x00\x90\x3c"), "truncated"),
    (header() + raw_track(b"\x00\x3c\x40"), "running status unset"),
    (header() + raw_track(b"\x00\x90\x3c\x80"), "over 127"),
    (header() + raw_track(b"\xff\xff\xff\xff\x7f\x90\x3c\x40"), "longer than 4 bytes"),
    (header() + raw_track(b"\x00\xf4"), "unexpected system message"),
    (header(division=0) + raw_track(b"\x00\xff\x2f\x00"), "0 ticks per beat"),
    (header(ntracks=1), "no tracks"),
    (b"MThd" + struct.pack(">IHHH", 6, 7, 1, 96) + raw_track(b""), "unknown MIDI format"),
])
def test_malformed_files_give_clear_errors(data, message):
    with pytest.raises(MidiError, match=message):
        parse_midi(data)


def test_event_limit_bounds_work():
    body = b"".join(b"\x00\x90\x3c\x40" for _ in range(100))
    with pytest.raises(MidiError, match="too many events"):
        parse_midi(header() + raw_track(body), MidiLimits(max_events=50))


def test_writer_round_trips_through_mido(tmp_path):
    data = midi_bytes([track_chunk([(0, b"\xff\x03\x02ab"), (5, b"\x90\x3c\x40"), (2**27, b"\x90\x3c\x00")])], 480)
    (tmp_path / "w.mid").write_bytes(data)
    mid = mido.MidiFile(tmp_path / "w.mid")
    msgs = list(mid.tracks[0])
    assert msgs[0].name == "ab" and msgs[1].time == 5 and msgs[2].time == 2**27 - 5
    assert msgs[-1].type == "end_of_track" and msgs[-1].time == 1
    assert vlq(0) == b"\x00" and vlq(0x0FFFFFFF) == b"\xff\xff\xff\x7f"
    with pytest.raises(ValueError):
        vlq(2**28)


def _outcome(data: bytes):
    """What parse_midi makes of ``data``: the parsed columns, or the error message."""
    try:
        midi = parse_midi(data)
    except MidiError as exc:
        return ("error", str(exc))
    return (midi.tempos, midi.time_signatures,
            [(t.name, t.end_tick, *(getattr(t, k).tolist() for k in ("ticks", "kinds", "channels", "data1", "data2")))
             for t in midi.tracks])


def test_the_vectorized_track_reader_equals_the_careful_loop(midi_samples, monkeypatch):
    """The numpy reader takes well-formed tracks and hands anything else to the loop: on real files and
    on thousands of damaged copies of them, both routes give the same events or the same error."""
    import nesinterp.io.midi_file as midi_file
    from nesinterp.examples import example_path

    files = [p.read_bytes() for p in midi_samples[:2]] + [example_path("overworld").read_bytes()]
    rng = np.random.default_rng(16)
    cases = list(files)
    for data in files:
        for _ in range(250):
            damaged = bytearray(data)
            for at in rng.integers(14, len(data), size=rng.integers(1, 4)):
                damaged[at] = rng.integers(0, 256)
            cases.append(bytes(damaged))
        cases += [data[: rng.integers(20, len(data))] for _ in range(50)]
    fast = [_outcome(d) for d in cases]
    monkeypatch.setattr(midi_file, "_parse_track_fast", lambda *args: None)
    slow = [_outcome(d) for d in cases]
    assert fast[: len(files)] == slow[: len(files)] and fast[0][0] != "error"
    assert sum(f == s for f, s in zip(fast, slow)) == len(cases)
