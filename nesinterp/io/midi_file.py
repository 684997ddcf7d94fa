"""Standard MIDI File bytes <-> a compact event table, with bounded resources and clear errors.

mido builds one Python object per message, which dominates the cost of reading NES-MDB MIDI; this
reader keeps one tight loop over the bytes and returns numpy columns, and it refuses files that would
need unbounded memory (see ``MidiLimits``).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

import numpy as np

from nesinterp.errors import NesinterpError

NOTE_OFF, NOTE_ON, POLY_AFTERTOUCH, CONTROL_CHANGE, PROGRAM_CHANGE, CHANNEL_PRESSURE, PITCH_BEND = (
    0x8, 0x9, 0xA, 0xB, 0xC, 0xD, 0xE
)

META_TRACK_NAME = 0x03
META_END_OF_TRACK = 0x2F
META_SET_TEMPO = 0x51
META_TIME_SIGNATURE = 0x58

DEFAULT_TEMPO = 500000  # microseconds per beat (120 bpm), the SMF default


class MidiError(NesinterpError):
    """Bytes that are not a readable Standard MIDI File, or one past the resource limits."""


@dataclass(frozen=True)
class MidiLimits:
    max_bytes: int = 64 << 20
    max_events: int = 4_000_000
    max_tracks: int = 1024


@dataclass
class MidiTrack:
    """One track: its name and its channel events as parallel columns (absolute ticks)."""

    name: str = ""
    ticks: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    kinds: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint8))  # status >> 4
    channels: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint8))
    data1: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint8))
    data2: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint8))
    end_tick: int = 0


@dataclass
class MidiFile:
    format: int
    ticks_per_beat: int  # > 0; SMPTE files are converted to an equivalent (see _parse_header)
    tracks: list[MidiTrack]
    tempos: list[tuple[int, int]]  # (tick, microseconds per beat), from any track
    time_signatures: list[tuple[int, int, int]]  # (tick, numerator, denominator)
    seconds_per_tick_fixed: float | None = None  # SMPTE timing: constant seconds per tick

    @property
    def end_tick(self) -> int:
        return max((t.end_tick for t in self.tracks), default=0)

    def tick_to_seconds(self, ticks: np.ndarray) -> np.ndarray:
        """Absolute ticks -> seconds through the tempo map (vectorised)."""
        ticks = np.asarray(ticks, dtype=np.float64)
        if self.seconds_per_tick_fixed is not None:
            return ticks * self.seconds_per_tick_fixed
        change_ticks, change_tempi = tempo_map(self.tempos)
        per_tick = change_tempi / 1e6 / self.ticks_per_beat
        starts = np.concatenate([[0.0], np.cumsum(np.diff(change_ticks) * per_tick[:-1])])
        i = np.searchsorted(change_ticks, ticks, side="right") - 1
        return starts[i] + (ticks - change_ticks[i]) * per_tick[i]


def tempo_map(tempos: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
    """Sorted change ticks (starting at 0) and tempi; the last change at a tick wins."""
    last: dict[int, int] = {0: DEFAULT_TEMPO}
    for tick, tempo in sorted(tempos, key=lambda x: x[0]):
        if tempo > 0:
            last[tick] = tempo
    ticks = np.array(sorted(last), dtype=np.float64)
    return ticks, np.array([last[int(t)] for t in ticks], dtype=np.float64)


def _parse_header(data: bytes) -> tuple[int, int, int, float | None, int]:
    if len(data) < 14 or data[:4] != b"MThd":
        raise MidiError("not a MIDI file (no MThd header)")
    length = struct.unpack(">I", data[4:8])[0]
    if length < 6 or 8 + length > len(data):
        raise MidiError("corrupt MIDI header")
    fmt, ntracks, division = struct.unpack(">HHH", data[8:14])
    if fmt > 2:
        raise MidiError(f"unknown MIDI format {fmt}")
    fixed = None
    if division & 0x8000:
        fps = 256 - (division >> 8)
        sub = division & 0xFF
        if fps not in (24, 25, 29, 30) or sub == 0:
            raise MidiError("corrupt SMPTE time division")
        fixed = 1.0 / ((29.97 if fps == 29 else fps) * sub)
        division = 1
    elif division == 0:
        raise MidiError("time division of 0 ticks per beat")
    return fmt, ntracks, division, fixed, 8 + length


def parse_midi(data: bytes, limits: MidiLimits = MidiLimits()) -> MidiFile:
    """Parse SMF bytes (format 0, 1 or 2) into a MidiFile. Raises MidiError on anything malformed."""
    if len(data) > limits.max_bytes:
        raise MidiError(f"file is {len(data)} bytes, over the limit of {limits.max_bytes}")
    fmt, ntracks, division, fixed, pos = _parse_header(data)
    if ntracks > limits.max_tracks:
        raise MidiError(f"{ntracks} tracks, over the limit of {limits.max_tracks}")
    tracks: list[MidiTrack] = []
    tempos: list[tuple[int, int]] = []
    time_sigs: list[tuple[int, int, int]] = []
    budget = limits.max_events
    size = len(data)
    while pos + 8 <= size and len(tracks) < ntracks:
        chunk, length = data[pos : pos + 4], struct.unpack(">I", data[pos + 4 : pos + 8])[0]
        pos += 8
        if chunk != b"MTrk":
            pos += length  # unknown chunks are skipped, as the standard asks
            continue
        end = pos + length
        if end > size:
            raise MidiError(f"track {len(tracks)} is truncated ({length} bytes announced, {size - pos} present)")
        fast = _parse_track_fast(data, pos, end, budget)
        if fast is None:  # anything unusual: the careful loop, which also words the errors
            track, budget = _parse_track(data, pos, end, budget, tempos, time_sigs, len(tracks))
        else:
            track, budget, track_tempos, track_sigs = fast
            tempos += track_tempos
            time_sigs += track_sigs
        tracks.append(track)
        pos = end
    if not tracks:
        raise MidiError("no tracks")
    return MidiFile(fmt, division, tracks, tempos, time_sigs, fixed)


def _vlq_at(a: np.ndarray, at: np.ndarray):
    """(length 1..4, or 5 if longer, value) of the variable-length quantity starting at each of ``at``."""
    length = np.full(len(at), 5)
    value = np.zeros(len(at), np.int64)
    done = np.zeros(len(at), bool)
    for k in range(4):
        byte = a[at + k]
        value = np.where(done, value, (value << 7) | (byte & 0x7F))
        ends = ~done & (byte < 0x80)
        length[ends] = k + 1
        done |= ends
    return length, value


def _parse_track_fast(data, pos, end, budget):
    """The track's events found with numpy, for well-formed tracks: every byte position's event length
    is computed at once (running status assumed to carry two data bytes), then one short walk follows
    the chain of event starts. Returns None for anything the careful loop must see (running status
    after a one-data-byte status, system messages, oversized values, truncation), so results and
    errors are the loop's. Returns (track, budget left, tempos, time signatures)."""
    n = end - pos
    a = np.zeros(n + 16, np.int64)  # padded: lookahead past the end reads zeros
    a[:n] = np.frombuffer(data, np.uint8, count=n, offset=pos)
    cont = a >= 0x80
    c0, c1, c2, c3 = cont[:n], cont[1:n + 1], cont[2:n + 2], cont[3:n + 3]
    c01 = c0 & c1
    c012 = c01 & c2
    delta_length = 1 + c0.astype(np.int64) + c01 + c012 + (c012 & c3)  # 5: longer than 4 bytes
    status_at = np.arange(n) + np.minimum(delta_length, 4)
    b = a[status_at]
    meta, sysex = b == 0xFF, (b == 0xF0) | (b == 0xF7)
    one_byte = (b >= 0xC0) & (b < 0xE0)
    following = status_at + np.where(b >= 0x80, 1 + np.where(one_byte, 1, 2), 2)
    length_at = np.where(meta, status_at + 2, status_at + 1)
    size_length = np.ones(n, np.int64)
    size = np.zeros(n, np.int64)
    long = np.flatnonzero(meta | sysex)
    size_length[long], size[long] = _vlq_at(a, length_at[long])
    following[long] = length_at[long] + np.minimum(size_length[long], 4) + size[long]
    following[meta & (a[status_at + 1] == META_END_OF_TRACK)] = n  # the track ends there
    chain, p, step = [], 0, following.tolist()
    append = chain.append
    while p < n:
        append(p)
        p = step[p]
    if p != n or not chain:
        return None
    c = np.array(chain)
    if (delta_length[c] > 4).any():
        return None
    ticks = np.cumsum(_vlq_at(a, c)[1])
    bc = b[c]
    if ((bc >= 0xF0) & ~meta[c] & ~sysex[c]).any() or ((meta[c] | sysex[c]) & (size_length[c] > 4)).any():
        return None
    channel = bc < 0xF0
    explicit = channel & (bc >= 0x80)
    last = np.maximum.accumulate(np.where(explicit, np.arange(len(c)), -1))
    status = np.where(last >= 0, bc[np.maximum(last, 0)], 0)
    if (channel & ((last < 0) | (~explicit & (status >= 0xC0) & (status < 0xE0)))).any():
        return None
    first_data = status_at[c] + explicit
    d1 = a[first_data]
    d2 = np.where((status >= 0xC0) & (status < 0xE0), 0, a[first_data + 1])
    events = int(channel.sum())
    if ((d1 | d2)[channel] >= 0x80).any() or events > budget:
        return None
    name, tempos, time_sigs = "", [], []
    for i in np.flatnonzero(meta[c]).tolist():
        at = chain[i]
        mtype, length = int(a[status_at[at] + 1]), int(size[at])
        start = pos + int(length_at[at] + size_length[at])
        payload = data[start: start + length]
        if mtype == META_SET_TEMPO and length == 3:
            tempos.append((int(ticks[i]), (payload[0] << 16) | (payload[1] << 8) | payload[2]))
        elif mtype == META_TIME_SIGNATURE and length >= 2:
            time_sigs.append((int(ticks[i]), payload[0], 1 << min(payload[1], 16)))
        elif mtype == META_TRACK_NAME and not name:
            name = payload.decode("latin1")
    status = status[channel]
    track = MidiTrack(name=name, ticks=ticks[channel], kinds=(status >> 4).astype(np.uint8),
                      channels=(status & 0xF).astype(np.uint8), data1=d1[channel].astype(np.uint8),
                      data2=d2[channel].astype(np.uint8), end_tick=int(ticks[-1]))
    return track, budget - events, tempos, time_sigs


def _parse_track(data, pos, end, budget, tempos, time_sigs, index):
    # Hot loop: one flat list of (tick, status, data1, data2) and single-byte fast paths, because
    # this loop is most of the cost of reading a file.
    events: list[int] = []
    name = ""
    tick = 0
    status = 0
    limit = budget
    try:
        while pos < end:
            b = data[pos]
            pos += 1
            if b < 0x80:
                tick += b
            else:
                delta = b & 0x7F
                for _ in range(3):
                    b = data[pos]
                    pos += 1
                    delta = (delta << 7) | (b & 0x7F)
                    if b < 0x80:
                        break
                else:
                    raise MidiError(f"track {index}: delta time longer than 4 bytes")
                tick += delta
            b = data[pos]
            if b >= 0x80:
                pos += 1
                if b < 0xF0:
                    status = b
                elif b == 0xFF:
                    mtype = data[pos]
                    length, pos = _read_vlq(data, pos + 1, index)
                    if pos + length > end:
                        raise MidiError(f"track {index}: meta event runs past the end of the track")
                    payload = data[pos : pos + length]
                    pos += length
                    if mtype == META_SET_TEMPO and length == 3:
                        tempos.append((tick, (payload[0] << 16) | (payload[1] << 8) | payload[2]))
                    elif mtype == META_TIME_SIGNATURE and length >= 2:
                        time_sigs.append((tick, payload[0], 1 << min(payload[1], 16)))
                    elif mtype == META_TRACK_NAME and not name:
                        name = payload.decode("latin1")
                    elif mtype == META_END_OF_TRACK:
                        break
                    continue
                elif b == 0xF0 or b == 0xF7:
                    length, pos = _read_vlq(data, pos, index)
                    pos += length
                    continue
                else:
                    raise MidiError(f"track {index}: unexpected system message 0x{b:02X}")
            elif status == 0:
                raise MidiError(f"track {index}: data byte without a status (running status unset)")
            if 0xC0 <= status < 0xE0:  # program change and channel pressure carry one data byte
                d1 = data[pos]
                d2 = 0
                pos += 1
            else:
                d1 = data[pos]
                d2 = data[pos + 1]
                pos += 2
            if (d1 | d2) & 0x80:
                raise MidiError(f"track {index}: data byte over 127 at tick {tick}")
            events += (tick, status, d1, d2)
            limit -= 1
            if limit < 0:
                raise MidiError("too many events (over the limit of MidiLimits.max_events)")
    except IndexError:
        raise MidiError(f"track {index} is truncated mid-event") from None
    if pos > end:
        raise MidiError(f"track {index} is truncated mid-event")
    table = np.array(events, dtype=np.int64).reshape(-1, 4)
    status_col = table[:, 1]
    track = MidiTrack(
        name=name,
        ticks=table[:, 0].copy(),
        kinds=(status_col >> 4).astype(np.uint8),
        channels=(status_col & 0xF).astype(np.uint8),
        data1=table[:, 2].astype(np.uint8),
        data2=table[:, 3].astype(np.uint8),
        end_tick=tick,
    )
    return track, limit


def _read_vlq(data, pos, index):
    value = 0
    for _ in range(4):
        b = data[pos]
        pos += 1
        value = (value << 7) | (b & 0x7F)
        if b < 0x80:
            return value, pos
    raise MidiError(f"track {index}: variable-length quantity longer than 4 bytes")


# --- writing ----------------------------------------------------------------------------------------

def vlq(value: int) -> bytes:
    if value < 0 or value > 0x0FFFFFFF:
        raise ValueError(f"delta time {value} does not fit in a MIDI variable-length quantity")
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


def track_chunk(events: list[tuple[int, bytes]]) -> bytes:
    """An MTrk chunk from (absolute tick, event bytes) in order; end_of_track is added one tick later,
    as pretty_midi writes it."""
    body = bytearray()
    last = 0
    for tick, event in events:
        body += vlq(tick - last)
        body += event
        last = tick
    body += vlq(1) + b"\xff\x2f\x00"
    return b"MTrk" + struct.pack(">I", len(body)) + bytes(body)


def midi_bytes(tracks: list[bytes], ticks_per_beat: int, fmt: int = 1) -> bytes:
    return b"MThd" + struct.pack(">IHHH", 6, fmt, len(tracks), ticks_per_beat) + b"".join(tracks)


def meta(mtype: int, payload: bytes) -> bytes:
    return bytes([0xFF, mtype]) + vlq(len(payload)) + payload
