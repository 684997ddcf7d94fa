"""Experiment configuration: small typed sections (data, model, acai, regularizer, optim, train) read
from YAML, with ``section.key=value`` overrides. Unknown keys and wrong types are errors, not surprises.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field, fields
from pathlib import Path

import yaml

from .errors import NesinterpError
from .losses import REGULARIZERS
from .models import ModelConfig

def _config_dir() -> Path:
    """The bundled configs: inside the installed package (a wheel ships the repository's configs/ as
    nesinterp/configs), else the repository's own configs/ (a checkout or an editable install)."""
    here = Path(__file__).resolve().parent
    installed = here / "configs"
    return installed if installed.is_dir() else here.parent / "configs"


CONFIG_DIR = _config_dir()
REGULARIZER_KINDS = ("none", *REGULARIZERS)  # regularizer.kind: none leaves the codes free


class ConfigError(NesinterpError):
    """A config file or override that cannot be used; the message names the key."""


@dataclass(frozen=True)
class DataConfig:
    kind: str = "nesmdb"  # nesmdb (a prepared dataset folder), mnist (IDX folder), lines (endless stream)
    path: str = "data/nesmdb"
    window: int = 128  # frames (128 = 5.3 s at 24 Hz: a phrase of two to four bars at NES tempos)
    transpose: int = 0  # music: random transposition within +-N semitones, kept inside each voice's range
    expressive: bool = False  # music: also model velocity and timbre
    onsets: bool = False  # music: an onset flag per voice in and out (notes re-triggered where it fires)
    notes: str = "frames"  # music: "frames" (a note class per frame) or "events" (rest / hold / onset at a pitch)
    swap_pulses: bool = False  # music: P1 and P2 swapped in a random half of each batch
    valid_split: str = "valid"

    def __post_init__(self):
        if self.kind not in ("nesmdb", "mnist", "lines"):
            raise ConfigError(f"data.kind must be nesmdb, mnist or lines, not {self.kind!r}")
        if self.window < 1 or self.transpose < 0:
            raise ConfigError("data.window must be positive and data.transpose not negative")
        if self.notes not in ("frames", "events"):
            raise ConfigError(f"data.notes must be frames or events, not {self.notes!r}")
        if self.notes == "events" and self.onsets:
            raise ConfigError("data.notes events carry their onsets: set data.onsets false")


@dataclass(frozen=True)
class AcaiConfig:
    enabled: bool = True
    weight: float = 0.5  # lambda: weight of the critic term in the autoencoder loss
    gamma: float = 0.2  # blend of real and reconstruction shown to the critic
    lr: float = 1e-4
    # music: weight of the decoded mixes' note loss on the cells both mixed windows share (the same note,
    # or both silent): what two songs share, their blend keeps (MusicTask.agreement_loss)
    agreement_weight: float = 0.0
    hard: bool = False  # music: the critic sees hard decodes (straight-through), not probabilities
    # the critic's first-scale width (doubling per scale up to 4x it); 0: the autoencoder's own widths.
    # The critic reads twice the batch and is back-propagated twice: at the model's width it is over half
    # of a CPU step's time
    critic_width: int = 0

    def __post_init__(self):
        if self.agreement_weight < 0:
            raise ConfigError("acai.agreement_weight must not be negative")
        if self.critic_width < 0:
            raise ConfigError("acai.critic_width must not be negative")


@dataclass(frozen=True)
class RegularizerConfig:
    kind: str = "wwae"
    weight: float = 1.0
    lr: float = 5e-4  # gan: the latent discriminator's learning rate

    def __post_init__(self):
        if self.kind not in REGULARIZER_KINDS:
            raise ConfigError(f"regularizer.kind must be one of {', '.join(REGULARIZER_KINDS)}, not {self.kind!r}")
        if self.weight < 0:
            raise ConfigError("regularizer.weight must not be negative")


@dataclass(frozen=True)
class OptimConfig:
    lr: float = 1e-4
    beta1: float = 0.9
    beta2: float = 0.999
    weight_decay: float = 0.0
    grad_clip: float = 0.0  # 0 = off
    # the autoencoder's learning rate over the run: "constant", or "cosine" (falls to 0 at train.steps);
    # either rises linearly over the first warmup_steps (a fresh Adam on fine-tuned weights needs it)
    schedule: str = "constant"
    warmup_steps: int = 0

    def __post_init__(self):
        if self.schedule not in ("constant", "cosine"):
            raise ConfigError(f"optim.schedule must be constant or cosine, not {self.schedule!r}")
        if self.warmup_steps < 0 or self.lr <= 0:
            raise ConfigError("optim.lr must be positive and optim.warmup_steps not negative")


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 20000
    batch: int = 64
    seed: int = 0
    log_every: int = 50
    checkpoint_every: int = 1000
    checkpoint_minutes: float = 5.0  # also checkpoint when this long has passed since the last (0 = off)
    sample_every: int = 5000  # interpolations written as MIDI/PNG at these steps
    eval_every: int = 0  # lines: benchmark scores logged to evaluations.jsonl at these steps (0 = off)
    device: str = "auto"  # auto = cuda when present, else cpu
    amp: str = "auto"  # auto = bf16 autocast on cuda, off on cpu; "off" or "bf16"
    # music: "ce" (summed per-head cross-entropy), "balanced" (each head over its uniform-guess loss, onsets
    # weighted for their rarity) or "mse" (the seed's squared error)
    recon_loss: str = "ce"
    # balanced: weights of the head groups (notes 4 keeps the note heads near cross-entropy's own scale,
    # log 77 = 4.3, so pitch is not outvoted by the easier expression heads)
    note_weight: float = 1.0
    onset_weight: float = 1.0
    expression_weight: float = 1.0
    # notes as events, balanced: "parts" divides the kind (rest / hold / onset) and the pitch each by its
    # own uniform guess (log 3, log 76), which weights timing about 4x pitch per unit of cross-entropy;
    # "decision" divides both by the whole decision's, log(2 + pitches), as frame notes' log 77 does
    events_norm: str = "parts"
    ema: float = 0.0  # decay of the weights' moving average that the run exports (0.999: about the last 1000 steps; 0 = off)
    threads: int = 0  # cpu threads, 0 = the cores not already busy when training starts (at least 1)
    # start the autoencoder from a trained model's weights (a run directory, model file, or "pretrained"
    # for the bundled model) instead of at random: fine-tuning; its model section must match this one's
    init_from: str = ""
    # "decoder": train the encoder alone against a fixed decoder (with init_from: distil what refining
    # codes finds into the encoder, so blends need no refinement); "" trains everything
    freeze: str = ""

    def __post_init__(self):
        if self.freeze not in ("", "decoder"):
            raise ConfigError(f"train.freeze must be empty or decoder, not {self.freeze!r}")
        if self.steps < 0 or self.batch < 2 or self.eval_every < 0:
            raise ConfigError("train.steps and train.eval_every must be >= 0 and train.batch >= 2 (ACAI mixes pairs)")
        if self.checkpoint_minutes < 0 or self.threads < 0:
            raise ConfigError("train.checkpoint_minutes and train.threads must be >= 0")
        if not 0 <= self.ema < 1:
            raise ConfigError("train.ema must be in [0, 1) (0 = no moving average)")
        if self.device not in ("auto", "cpu", "cuda", "mps") and not self.device.startswith("cuda:"):
            raise ConfigError(f"train.device must be auto, cpu, cuda, cuda:N or mps, not {self.device!r}")
        if self.amp not in ("auto", "off", "bf16"):
            raise ConfigError(f"train.amp must be auto, off or bf16, not {self.amp!r}")
        if min(self.note_weight, self.onset_weight, self.expression_weight) < 0:
            raise ConfigError("train.note_weight, onset_weight and expression_weight must not be negative")
        if self.events_norm not in ("parts", "decision"):
            raise ConfigError(f"train.events_norm must be parts or decision, not {self.events_norm!r}")
        if self.recon_loss not in ("ce", "balanced", "mse"):
            raise ConfigError(f"train.recon_loss must be ce, balanced or mse, not {self.recon_loss!r}")


@dataclass(frozen=True)
class Config:
    name: str = "nesmdb"
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    acai: AcaiConfig = field(default_factory=AcaiConfig)
    regularizer: RegularizerConfig = field(default_factory=RegularizerConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def __post_init__(self):
        if self.acai.agreement_weight > 0 and (not self.acai.enabled or self.data.kind != "nesmdb"):
            raise ConfigError("acai.agreement_weight needs ACAI's mixes (acai.enabled) of music (data.kind nesmdb)")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)


def _coerce(value, annotation, where: str):
    kind = {"int": int, "float": float, "bool": bool, "str": str}.get(
        annotation if isinstance(annotation, str) else getattr(annotation, "__name__", ""))
    if kind is None:
        return value
    if kind in (int, float) and isinstance(value, str):
        try:  # YAML 1.1 reads 1e-3 (no dot) as a string
            value = float(value) if kind is float else int(value)
        except ValueError:
            raise ConfigError(f"{where} must be {kind.__name__}, not {value!r}") from None
    if kind is str and isinstance(value, bool):  # YAML 1.1 reads off / on (and no / yes) as booleans:
        value = "on" if value else "off"        # `--set train.amp=off` means the word
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind is int and isinstance(value, float) and value.is_integer():
        return int(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ConfigError(f"{where} must be {kind.__name__}, not {value!r}")
    return value


def _section(cls, values, where: str):
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise ConfigError(f"{where} must be a mapping of keys to values")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in fields(cls)}
    unknown = set(values) - known
    if unknown:
        raise ConfigError(f"unknown key {where}.{sorted(unknown)[0]} (known: {', '.join(sorted(known))})")
    try:
        return cls(**{k: _coerce(v, hints[k], f"{where}.{k}") for k, v in values.items()})
    except ConfigError:
        raise
    except (ValueError, TypeError) as exc:
        raise ConfigError(str(exc)) from None


SECTIONS = {"data": DataConfig, "model": ModelConfig, "acai": AcaiConfig,
            "regularizer": RegularizerConfig, "optim": OptimConfig, "train": TrainConfig}


def config_from_dict(raw: dict) -> Config:
    if not isinstance(raw, dict):
        raise ConfigError("a config file must be a mapping of sections")
    unknown = set(raw) - set(SECTIONS) - {"name"}
    if unknown:
        raise ConfigError(f"unknown section {sorted(unknown)[0]!r} (known: name, {', '.join(SECTIONS)})")
    parts = {name: _section(cls, raw.get(name), name) for name, cls in SECTIONS.items()}
    return Config(name=str(raw.get("name", "run")), **parts)


def parse_override(text: str) -> tuple[str, str, object]:
    """``section.key=value`` -> (section, key, YAML-parsed value)."""
    if "=" not in text or "." not in text.split("=", 1)[0]:
        raise ConfigError(f"override {text!r} must look like section.key=value, e.g. train.steps=2000")
    path, value = text.split("=", 1)
    section, key = path.strip().split(".", 1)
    try:
        parsed = yaml.safe_load(value) if value.strip() else ""
    except yaml.YAMLError:
        parsed = value
    return section, key, parsed


# What `nesinterp train` trains with no --config: the bundled model's recipe (tests/test_config.py keeps
# the two the same when the bundled model changes).
DEFAULT_CONFIG = "nesmdb-v2"


def resolve_config_path(name_or_path: str | Path) -> Path:
    """A config file's path, or the name of a bundled config (``tiny`` -> configs/tiny.yaml). A folder is
    never a config: ``nesinterp train`` beside a data folder named ``nesmdb/`` takes the bundled
    nesmdb config. ``config_choice`` says which one a name that is both a file and a bundled name took."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    bundled = CONFIG_DIR / f"{name_or_path}.yaml"
    if bundled.is_file():
        return bundled
    known = ", ".join(sorted(p.stem for p in CONFIG_DIR.glob("*.yaml")))
    if path.is_dir():
        raise ConfigError(f"{name_or_path}: a folder, not a config file (bundled: {known})")
    raise ConfigError(f"{name_or_path}: no such config file (bundled: {known})")


def config_choice(name_or_path: str | Path) -> str | None:
    """A note when ``name_or_path`` names both a file here and a bundled config (the file is taken), or a
    folder here and a bundled config (the bundled one is taken); None when it is unambiguous."""
    path, bundled = Path(name_or_path), CONFIG_DIR / f"{name_or_path}.yaml"
    if not bundled.is_file() or not path.exists() or path.resolve() == bundled.resolve():
        return None
    if path.is_file():
        return f"config {name_or_path!s}: the file {path}, not the bundled {bundled.name}"
    return f"config {name_or_path!s}: the bundled {bundled.name} ({path} is a folder)"


VARIANT_HELP = ("baseline (a plain autoencoder), acai, a latent regularizer (" +
                ", ".join(REGULARIZERS) + "), or acai+<regularizer>")


def variant_overrides(name: str) -> list[str]:
    """Overrides that make a config the model variant named like ``acai+wwae``, ``acai``, ``wwae`` or
    ``baseline`` (alias ``ae``): which of ACAI and the latent regularizer are on. Other settings are kept."""
    parts = [p.strip().lower() for p in name.split("+") if p.strip()]
    if not parts:
        raise ConfigError(f"empty model name {name!r}: use {VARIANT_HELP}")
    if parts in (["baseline"], ["ae"]):
        return ["acai.enabled=false", "regularizer.kind=none"]
    acai = "acai" in parts
    rest = [p for p in parts if p != "acai"]
    if len(rest) > 1 or (rest and rest[0] not in REGULARIZERS) or len(parts) != len(set(parts)):
        raise ConfigError(f"unknown model {name!r}: use {VARIANT_HELP}")
    return [f"acai.enabled={'true' if acai else 'false'}", f"regularizer.kind={rest[0] if rest else 'none'}"]


def load_config(name_or_path: str | Path = DEFAULT_CONFIG, overrides: list[str] = ()) -> Config:
    path = resolve_config_path(name_or_path)
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: unreadable config ({exc})") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a config file must be a mapping of sections")
    raw.setdefault("name", path.stem)
    for text in overrides:
        section, key, value = parse_override(text)
        if section == "name":
            raise ConfigError("the run name is set with name: in the file")
        raw.setdefault(section, {})
        if not isinstance(raw[section], dict):
            raise ConfigError(f"{path}: section {section!r} is not a mapping")
        raw[section][key] = value
    try:
        return config_from_dict(raw)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
