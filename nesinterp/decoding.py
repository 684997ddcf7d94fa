"""A model's decode settings, in one typed object and one model.json section ("decoding"): how its
logits become notes (per-voice onset thresholds, sounding biases and volume tilts, chosen on the valid
split by training's calibration or ``nesinterp calibrate``) and which codes it decodes (the encoder's
codes refined ``refine_steps`` steps of ``refine_lr``, and with ``expression_codes`` a second code per
window for volumes and timbres; ``nesinterp.refine``).

Model files from before this section (thresholds inside "representation", the refinement at the top
level) load as they always did; a model written now has them here only. Models whose notes are
decisions (``notes: events``, music model v3) need none of it: their settings stay at these defaults.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

from .refine import REFINE_LR

THRESHOLDS = ("onset_threshold", "sounding_bias", "volume_tilt")  # the Representation's decode-time fields
LEGACY_TOP_LEVEL = ("refine_steps", "refine_lr", "expression_codes")


@dataclass(frozen=True)
class Decoding:
    onset_threshold: tuple = (0.5, 0.5, 0.5, 0.5)
    sounding_bias: tuple = (0.0, 0.0, 0.0, 0.0)
    volume_tilt: tuple = (0.0, 0.0, 0.0, 0.0)
    refine_steps: int = 0
    refine_lr: float = REFINE_LR
    expression_codes: bool = False

    def __post_init__(self):
        for name in THRESHOLDS:
            object.__setattr__(self, name, tuple(float(x) for x in getattr(self, name)))  # JSON gives lists
        object.__setattr__(self, "refine_steps", max(0, int(self.refine_steps or 0)))
        object.__setattr__(self, "refine_lr", float(self.refine_lr or REFINE_LR))
        object.__setattr__(self, "expression_codes", bool(self.expression_codes))

    @classmethod
    def from_meta(cls, meta: dict) -> Decoding:
        """The settings of a model.json: its "decoding" section, or where older files kept them."""
        section = meta.get("decoding")
        if isinstance(section, dict):
            known = {f.name for f in fields(cls)}
            return cls(**{k: v for k, v in section.items() if k in known})
        rep = meta.get("representation") or {}
        return cls(**{k: rep[k] for k in THRESHOLDS if k in rep},
                   **{k: meta[k] for k in LEGACY_TOP_LEVEL if meta.get(k) is not None})

    @classmethod
    def of(cls, representation, **rest) -> Decoding:
        """The thresholds a Representation decodes with, and ``rest`` (refine_steps, ...)."""
        return cls(**{k: getattr(representation, k) for k in THRESHOLDS}, **rest)

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    def applied(self, representation):
        """``representation`` decoding with these thresholds."""
        return replace(representation, **{k: getattr(self, k) for k in THRESHOLDS})

    def written(self, meta: dict) -> dict:
        """A copy of model.json's ``meta`` with these settings as its "decoding" section, and nowhere else."""
        out = {k: v for k, v in meta.items() if k not in LEGACY_TOP_LEVEL}
        if isinstance(out.get("representation"), dict):
            out["representation"] = {k: v for k, v in out["representation"].items() if k not in THRESHOLDS}
        out["decoding"] = self.to_dict()
        return out


def representation_from_meta(meta: dict):
    """The Representation a model.json describes, decoding with its settings (``Decoding.from_meta``)."""
    from .representation import Representation

    rep = Representation(**{k: v for k, v in meta["representation"].items() if k not in THRESHOLDS})
    return Decoding.from_meta(meta).applied(rep)
