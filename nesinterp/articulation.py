"""Onsets in and out of the networks: the onset flags of uint8 windows as a torch tensor (the same rule
as ``score.note_events``, computed on the training device), and ``articulate``, which makes a decoded
score start its notes exactly where the model's onset head says.

In a Score a note starts where the pitch changes, after silence, or where the volume rises again on the
same pitch (a re-attack). A decoder that predicts pitch, volume and onsets per frame can disagree with
itself: an onset on a held pitch with a flat volume, or a volume bump where no onset was meant.
``articulate`` settles it in the onset head's favour, changing as little as it can:

- an onset on a silent frame sounds the voice (the most likely note but silence), so short drum hits and
  staccato notes that an uncertain argmax would drop are kept;
- an onset on a held pitch becomes a re-attack: the volume of the frame before is lowered below this
  frame's (pulse and noise), or the triangle, which has no volume, gets a one-frame gap before it;
- a re-attack the onset head did not ask for is flattened: from the frame before it to the next onset the
  volume never rises (it holds or decays, as NES envelopes do).
"""

from __future__ import annotations

import numpy as np
import torch

from .score import Field, Voice, note_events

PASSES = 3  # flattening one volume bump can expose the next one; three passes settle real decodes
THRESHOLDS = np.round(np.arange(0.15, 0.951, 0.05), 2)  # onset thresholds tried by choose_onset_thresholds
BIAS_LIMIT = 4.0  # sounding biases are chosen within +-this (logits)
TILT_LIMIT = 1.0  # volume tilts within +-this (logits per volume step: 15 at the loudest step)


def onset_flags(windows: torch.Tensor) -> torch.Tensor:
    """Boolean (B, 4, T) onsets of uint8 windows (B, T, 4, 3), by the rule of ``score.note_events``."""
    notes = windows[..., Field.NOTE].long()
    volume = windows[..., Field.VELOCITY].long()
    before = torch.nn.functional.pad(notes, (0, 0, 1, 0))[:, :-1]
    sounding = notes > 0
    new = sounding & (notes != before)
    rise = torch.zeros_like(new)
    rise[:, 1:] = volume[:, 1:] > volume[:, :-1]
    rising_before = torch.zeros_like(new)
    rising_before[:, 1:] = rise[:, :-1] | new[:, :-1]
    reattack = sounding & ~new & rise & ~rising_before
    return (new | reattack).permute(0, 2, 1)


def onset_decisions(logits: torch.Tensor, thresholds, temperature: float = 0.0,
                    generator: torch.Generator | None = None) -> torch.Tensor:
    """Where the onset head fires, (B, 4, T) from its logits (B, 4, T): above each voice's threshold, or,
    at ``temperature`` > 0, drawn with probability sigmoid((logit - logit(threshold)) / temperature), which
    tends to the thresholded decision as the temperature falls (a plain draw from the head's probability
    would fire far more often than the calibrated threshold does)."""
    t = torch.tensor(thresholds, dtype=torch.float32).view(1, -1, 1)
    shifted = logits.float() - torch.log(t / (1 - t))
    if temperature <= 0:
        return shifted > 0
    return torch.bernoulli(torch.sigmoid(shifted / temperature), generator=generator).bool()


def silence_margin(logits: torch.Tensor) -> torch.Tensor:
    """(B, T): how far silence's logit (class 0 of logits (B, classes, T)) is above the best note's; a
    frame sounds where this is below the voice's sounding bias (0: where silence is not the argmax)."""
    return logits[:, 0].float() - logits[:, 1:].float().amax(dim=1)


def note_level_classes(logits: torch.Tensor, fire: torch.Tensor, temperature: float = 0.0,
                       generator: torch.Generator | None = None, bias: float = 0.0) -> torch.Tensor:
    """Class indices (B, T) of one voice decoded note by note: logits (B, classes, T) with class 0 silent,
    ``fire`` (B, T) the onset head's decisions. A frame sounds where silence's logit is less than ``bias``
    above the best note's (``silence_margin``; bias 0: silence is not the most likely class) or an onset
    fires; a note runs from an onset (or a start after silence) to the next, and gets the one
    pitch most likely over all its frames (summed log-probabilities), so the pitch cannot flicker inside
    a note and make onsets the head did not ask for. At ``temperature`` > 0 each note's pitch is drawn
    from softmax(mean log-probability over its frames / temperature)."""
    b, _, t = logits.shape
    sound = (silence_margin(logits) < bias) | fire
    before = torch.zeros_like(sound)
    before[:, 1:] = sound[:, :-1]
    start = fire | (sound & ~before)
    note = torch.cumsum(start.long(), dim=1) + torch.arange(b, device=logits.device).view(-1, 1) * (t + 1)
    logp = logits[:, 1:].float().log_softmax(dim=1).permute(0, 2, 1)  # (B, T, pitches), given it sounds
    sums = torch.zeros(b * (t + 1), logp.shape[-1], device=logits.device).index_add_(0, note[sound], logp[sound])
    if temperature <= 0:
        pitch = sums.argmax(dim=1) + 1
    else:
        length = torch.zeros(b * (t + 1), device=logits.device).index_add_(
            0, note[sound], torch.ones_like(note[sound], dtype=torch.float32))
        used = length > 0
        pitch = torch.ones(b * (t + 1), dtype=torch.long, device=logits.device)
        weights = (sums[used] / length[used, None] / temperature).softmax(dim=1)
        pitch[used] = torch.multinomial(weights, 1, generator=generator).squeeze(1) + 1
    return torch.where(sound, pitch[note], torch.zeros_like(note))


def articulate(array: np.ndarray, onsets: np.ndarray) -> np.ndarray:
    """Scores (B, T, 4, 3) whose onsets follow ``onsets`` (B, T, 4) wherever a Score can express it
    (module docstring). ``array`` must already sound the voices at the onsets (the decoder does that);
    a changed copy is returned."""
    out = np.array(array, copy=True)
    fire = np.asarray(onsets, bool)
    notes = out[..., Field.NOTE]
    volume = out[..., Field.VELOCITY]
    # Triangle: a one-frame gap before an onset on a held pitch, unless that note began the frame before.
    tr = notes[:, :, Voice.TR]
    held = np.zeros_like(fire[:, :, Voice.TR])
    held[:, 2:] = (tr[:, 2:] > 0) & (tr[:, 2:] == tr[:, 1:-1]) & (tr[:, 1:-1] == tr[:, :-2])
    gap = np.zeros_like(held)
    gap[:, :-1] = held[:, 1:] & fire[:, 1:, Voice.TR]
    tr[gap] = 0
    pulse_noise = [Voice.P1, Voice.P2, Voice.NO]
    for _ in range(PASSES):
        found, reattack = note_events(out)
        want = fire[:, :, pulse_noise] & ~found[:, :, pulse_noise]
        extra = reattack[:, :, pulse_noise] & ~fire[:, :, pulse_noise]
        if not want.any() and not extra.any():
            break
        v = volume[:, :, pulse_noise].astype(np.int16)
        if extra.any():
            v = _hold_down(v, extra, found[:, :, pulse_noise] | fire[:, :, pulse_noise])
        n = notes[:, :, pulse_noise]
        # Missing re-attack at t: the frame before holds the same note (and did not start it); lower it
        # below this frame's volume and not above the frame before it (no rise there either).
        can = np.zeros_like(want)
        can[:, 1:] = want[:, 1:] & (n[:, :-1] == n[:, 1:]) & ~found[:, :-1, pulse_noise]
        v = np.where(can & (v <= 1), 2, v)  # the quietest volume cannot rise from below: lift this frame
        prev = np.zeros_like(can)
        prev[:, :-1] = can[:, 1:]
        two_before = np.full_like(v, 99)
        two_before[:, 1:] = v[:, :-1]
        lowered = np.minimum(np.minimum(v[:, :-1], v[:, 1:] - 1), two_before[:, :-1])
        v[:, :-1] = np.where(prev[:, :-1], np.maximum(lowered, 1), v[:, :-1])
        volume[:, :, pulse_noise] = v.astype(np.uint8)
    return out


def _hold_down(v: np.ndarray, extra: np.ndarray, onsets: np.ndarray) -> np.ndarray:
    """Volumes (B, T, V) where each unwanted re-attack (``extra``) starts a stretch, up to the next onset,
    whose volume never rises: the running minimum from the frame before the bump."""
    frames = v.shape[1]
    boundary = extra | onsets
    segment = np.cumsum(boundary, axis=1)
    t = np.arange(frames).reshape(1, -1, 1)
    start = np.maximum.accumulate(np.where(boundary, t, 0), axis=1)  # first frame of each frame's stretch
    clamped = np.take_along_axis(extra, start, axis=1)
    before = np.zeros_like(v)
    before[:, 1:] = v[:, :-1]
    w = np.where(extra, np.minimum(v, before), v).astype(np.int32)
    running = np.minimum.accumulate(w - 100 * segment, axis=1) + 100 * segment  # resets at each stretch
    return np.where(clamped, running, v).astype(v.dtype)


def choose_onset_thresholds(rep, logits: torch.Tensor, truth: np.ndarray) -> tuple:
    """Per voice, the onset threshold (of ``THRESHOLDS``) whose decoding of ``logits`` (B, channels, T)
    by ``rep`` gives the best onset F1 (+-1 frame) against the real windows ``truth`` (B, T, 4, 3)."""
    from dataclasses import replace

    from .metrics.music import onset_matches

    f1 = []
    for threshold in THRESHOLDS:
        decoded = replace(rep, onset_threshold=(float(threshold),) * 4).decode(logits)
        tp, n_pred, n_true = onset_matches(decoded, truth, tolerance=1)
        f1.append(2 * tp / np.maximum(n_pred + n_true, 1))
    return tuple(float(THRESHOLDS[i]) for i in np.argmax(np.array(f1), axis=0))


def choose_sounding_bias(rep, logits: torch.Tensor, truth: np.ndarray, rounds: int = 2) -> tuple:
    """Per voice, the sounding bias (``note_level_classes``) under which the decoding of ``logits``
    (B, channels, T) by ``rep`` sounds the voice in as many frames as the real windows ``truth``
    (B, T, 4, 3) do: a decoder unsure between a quiet note and silence tends to drop it (the triangle
    sounded in 59 % of valid frames against 64 %), and the notes it drops are lost to every score and
    to the ear. Each round finds the bias exactly from the sorted silence margins of the frames where
    no onset fires, then decodes to see how many frames articulation silenced (the triangle's gaps
    before re-attacks) and asks for that many more. Within +-BIAS_LIMIT, rounded to 0.01."""
    from dataclasses import replace

    heads = rep.split_logits(logits.float())
    fire = onset_decisions(heads["onsets"], rep.onset_threshold)
    wanted = (np.asarray(truth)[..., Field.NOTE] > 0).sum(axis=(0, 1))
    margins = [silence_margin(heads["notes"][v])[~fire[:, v]].sort().values for v in Voice]
    need = wanted - fire.sum(dim=(0, 2)).numpy()  # frames that must sound without an onset
    chosen = rep.sounding_bias
    for _ in range(rounds):
        chosen = tuple(_bias_for(margins[v], int(need[v])) for v in Voice)
        decoded = replace(rep, sounding_bias=chosen).decode(logits)
        need = need + wanted - (decoded[..., Field.NOTE] > 0).sum(axis=(0, 1))
    return chosen


def choose_volume_tilt(rep, logits: torch.Tensor, truth: np.ndarray, rounds: int = 8) -> tuple:
    """Per voice, the volume tilt (``Representation.volume_tilt``) under which the decoding of ``logits``
    (B, channels, T) by ``rep`` plays P1, P2 and the noise as loud on average, over the frames each
    sounds, as the real windows ``truth`` (B, T, 4, 3) do. The volume head is unsure (its most likely
    volume has about 0.3 probability) and that volume runs quiet: the bundled model's pulses came out at
    5.8 against 8.5. Adding tilt x step to the logits of volume step 1..15 leans each frame's choice
    towards louder steps, more where the head is unsure, and the average volume rises with the tilt,
    so bisection finds it (``rounds`` halvings of +-TILT_LIMIT, to within 0.01). The triangle has no
    volume: its tilt stays as it is."""
    from dataclasses import replace

    from .metrics.music import loudness

    if not rep.expressive:
        return rep.volume_tilt
    pulse_noise = [Voice.P1, Voice.P2, Voice.NO]
    wanted = loudness(truth)[pulse_noise]

    def tilted(values) -> tuple:  # rep's tilts with P1, P2 and NO's replaced
        tilt = np.array(rep.volume_tilt)
        tilt[pulse_noise] = values
        return tuple(float(x) for x in tilt)

    lo, hi = np.full(3, -TILT_LIMIT), np.full(3, TILT_LIMIT)
    for _ in range(rounds):
        mid = (lo + hi) / 2
        louder = ~(loudness(replace(rep, volume_tilt=tilted(mid)).decode(logits))[pulse_noise] >= wanted)
        lo, hi = np.where(louder, mid, lo), np.where(louder, hi, mid)
    # a voice the real windows never sound keeps its tilt
    kept = np.array(rep.volume_tilt)[pulse_noise]
    return tilted(np.where(np.isfinite(wanted), np.round((lo + hi) / 2, 2), kept))


def calibrated(rep, logits: torch.Tensor, truth: np.ndarray):
    """``rep`` with the decoding chosen for ``logits`` (B, channels, T) of the real windows ``truth``:
    each voice's onset threshold for the best onset F1 (+-1 frame), then, given those, its sounding bias
    so it sounds as often as the real windows do, and (expressive models) its volume tilt so it plays as
    loud."""
    from dataclasses import replace

    rep = replace(rep, onset_threshold=choose_onset_thresholds(rep, logits, truth))
    rep = replace(rep, sounding_bias=choose_sounding_bias(rep, logits, truth))
    return replace(rep, volume_tilt=choose_volume_tilt(rep, logits, truth))


def _bias_for(sorted_margins: torch.Tensor, need: int) -> float:
    """The bias under which exactly ``need`` of the frames with these (sorted) margins sound: midway
    between the need-th smallest margin and the next, within +-BIAS_LIMIT."""
    if need <= 0:
        return -BIAS_LIMIT
    if need >= len(sorted_margins):
        return BIAS_LIMIT
    bias = float(sorted_margins[need - 1] + sorted_margins[need]) / 2
    return round(min(max(bias, -BIAS_LIMIT), BIAS_LIMIT), 2)
