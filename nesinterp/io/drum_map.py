"""General MIDI drums on the NES noise channel: the table ``nesinterp.io.reduce`` plays drum hits through
(its docstring says the rules: kicks low and short, snares mid, closed hats the highest and 1 frame,
metallic hand percussion on the short LFSR's tonal ring, priorities for hits on the same frame)."""

from __future__ import annotations

# GM (and GM2) drum note -> (noise note 1..16, length in frames, loop mode, priority).
DRUM_MAP: dict[int, tuple[int, int, int, int]] = {
    27: (14, 1, 1, 1),   # high Q
    28: (12, 1, 0, 1),   # slap
    29: (11, 2, 0, 1),   # scratch push
    30: (10, 2, 0, 1),   # scratch pull
    31: (14, 1, 0, 1),   # sticks
    32: (15, 1, 0, 1),   # square click
    33: (15, 1, 1, 1),   # metronome click
    34: (14, 2, 1, 1),   # metronome bell
    35: (4, 3, 0, 4),    # acoustic bass drum
    36: (5, 3, 0, 4),    # bass drum 1
    37: (12, 1, 0, 2),   # side stick
    38: (10, 5, 0, 4),   # acoustic snare
    39: (11, 4, 0, 3),   # hand clap
    40: (11, 5, 0, 4),   # electric snare
    41: (5, 4, 0, 3),    # low floor tom
    42: (15, 1, 0, 1),   # closed hi-hat
    43: (6, 4, 0, 3),    # high floor tom
    44: (14, 1, 0, 1),   # pedal hi-hat
    45: (7, 4, 0, 3),    # low tom
    46: (15, 6, 0, 2),   # open hi-hat
    47: (8, 4, 0, 3),    # low-mid tom
    48: (9, 4, 0, 3),    # hi-mid tom
    49: (14, 16, 0, 3),  # crash cymbal 1
    50: (10, 4, 0, 3),   # high tom
    51: (16, 6, 0, 2),   # ride cymbal 1
    52: (13, 12, 0, 3),  # chinese cymbal
    53: (14, 4, 1, 2),   # ride bell
    54: (16, 3, 0, 2),   # tambourine
    55: (15, 8, 0, 3),   # splash cymbal
    56: (12, 3, 1, 2),   # cowbell
    57: (13, 16, 0, 3),  # crash cymbal 2
    58: (13, 10, 0, 2),  # vibraslap
    59: (15, 6, 0, 2),   # ride cymbal 2
    60: (10, 2, 0, 2),   # hi bongo
    61: (9, 2, 0, 2),    # low bongo
    62: (9, 1, 0, 2),    # mute hi conga
    63: (8, 3, 0, 2),    # open hi conga
    64: (7, 3, 0, 2),    # low conga
    65: (11, 3, 0, 2),   # high timbale
    66: (10, 3, 0, 2),   # low timbale
    67: (13, 3, 1, 2),   # high agogo
    68: (12, 3, 1, 2),   # low agogo
    69: (16, 2, 0, 1),   # cabasa
    70: (16, 1, 0, 1),   # maracas
    71: (15, 3, 1, 1),   # short whistle
    72: (15, 8, 1, 1),   # long whistle
    73: (13, 2, 0, 1),   # short guiro
    74: (13, 6, 0, 1),   # long guiro
    75: (14, 1, 1, 2),   # claves
    76: (13, 1, 1, 2),   # hi wood block
    77: (12, 1, 1, 2),   # low wood block
    78: (11, 2, 1, 1),   # mute cuica
    79: (10, 4, 1, 1),   # open cuica
    80: (16, 2, 1, 1),   # mute triangle
    81: (16, 8, 1, 1),   # open triangle
    82: (16, 2, 0, 1),   # shaker
    83: (16, 4, 1, 1),   # jingle bell
    84: (15, 8, 1, 1),   # bell tree
    85: (13, 1, 0, 1),   # castanets
    86: (4, 3, 0, 3),    # mute surdo
    87: (4, 6, 0, 3),    # open surdo
}
DEFAULT_DRUM = (10, 2, 0, 1)
