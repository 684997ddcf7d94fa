"""Every file format and music library <-> Score, one module per format (numpy only, never torch):

- ``readers``: any supported file -> Score (``read_score``), by its type: NES-MDB MIDI, any MIDI,
  exprsco / seprsco pickles, ``music21:<piece>`` names.
- ``midi_file``: Standard MIDI Files parsed (tracks, tempo map, limits on what a file may claim).
- ``nesmdb_midi``: NES-MDB's MIDI layout, read exactly and written (``write_nesmdb_midi``).
- ``pickles``: NES-MDB's exprsco / seprsco score pickles, read without unpickling, and written.
- ``reduce`` (with ``drum_map``): any MIDI reduced to the four NES voices by documented rules.
- ``music21``: music21 streams and the music21 corpus (pieces by name) reduced to the four voices.
- ``interop``: pretty_midi and music21 conversions and MusicXML, which ``Score.to_pretty_midi`` and
  friends delegate to.

``data_prep`` builds the datasets on top of these; WAV is written by ``nesinterp.render``.
"""
