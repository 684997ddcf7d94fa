"""A longer fuzz run of the readers than the test suite's: damaged MIDI files, random bytes behind a MIDI
header, damaged score pickles and random tar archives, each class for a time budget. Prints a Markdown
table: inputs tried, read as a Score, refused with a clear error, anything else (a bug), the slowest
input and the peak memory. Failing inputs are saved to --save for reproduction.

    python scripts/fuzz.py [--seconds 60] [--seed 0] [--save fuzz-failures/]
"""

from __future__ import annotations

import argparse
import io
import os
import random
import resource
import sys
import tarfile
import tempfile
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nesinterp.io.readers import ReadError, score_from_bytes  # noqa: E402
from data_prep.sources import SourceError, expand_sources  # noqa: E402
from tests.fuzzing import mutate, seed_midis, seed_pickles  # noqa: E402


def midi_case(rng: random.Random) -> tuple[bytes, str]:
    return mutate(rng.choice(seed_midis()), rng.getrandbits(32)), "x.mid"


def header_case(rng: random.Random) -> tuple[bytes, str]:
    tail = bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 600)))
    return b"MThd\x00\x00\x00\x06\x00\x01\x00\x02\x00\x60" + tail, "x.mid"


def pickle_case(rng: random.Random) -> tuple[bytes, str]:
    return mutate(rng.choice(seed_pickles()), rng.getrandbits(32)), "x.exprsco.pkl"


def archive_case(rng: random.Random) -> tuple[bytes, str]:
    buf = io.BytesIO()
    names = ["a.mid", "../up.mid", "/abs/x.exprsco.pkl", "train/001_G_00_01x.mid", "deep/" * 30 + "z.mid",
             "nested.tar.gz", "valid/ü.mid"]
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for _ in range(rng.randint(0, 6)):
            info = tarfile.TarInfo(rng.choice(names))
            info.type = rng.choice([tarfile.REGTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.DIRTYPE, tarfile.FIFOTYPE])
            if info.type in (tarfile.SYMTYPE, tarfile.LNKTYPE):
                info.linkname = "/etc/passwd"
            payload = rng.choice(seed_midis() + seed_pickles() + (b"",))
            if info.type == tarfile.REGTYPE:
                info.size = len(payload)
                tf.addfile(info, io.BytesIO(payload))
            else:
                tf.addfile(info)
    data = buf.getvalue()
    return (mutate(data, rng.getrandbits(32)) if rng.random() < 0.5 else data), "x.tar.gz"


def run_reader(data: bytes, filename: str, scratch: Path) -> str:
    if filename.endswith(".tar.gz"):
        archive = scratch / "x.tar.gz"
        archive.write_bytes(data)
        try:
            list(expand_sources([str(archive)]))
            return "read"
        except SourceError:
            return "refused"
    try:
        score_from_bytes(data, filename, max_seconds=600)
        return "read"
    except ReadError as exc:
        if "\n" in str(exc):
            raise AssertionError(f"multi-line error: {exc!r}") from None
        return "refused"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="time budget per input class")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save", type=Path, default=Path("fuzz-failures"))
    args = parser.parse_args()
    classes = [("MIDI, damaged (NES-MDB and general)", midi_case), ("random bytes after a MIDI header", header_case),
               ("score pickles, damaged", pickle_case), ("tar.gz archives, random and damaged", archive_case)]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        for label, make in classes:
            rng = random.Random(args.seed)
            counts = {"read": 0, "refused": 0, "bug": 0}
            slowest = 0.0
            deadline = time.perf_counter() + args.seconds
            while time.perf_counter() < deadline:
                data, filename = make(rng)
                start = time.perf_counter()
                try:
                    counts[run_reader(data, filename, scratch)] += 1
                except Exception:  # anything but the reader's own error is a bug to fix
                    counts["bug"] += 1
                    args.save.mkdir(parents=True, exist_ok=True)
                    stem = args.save / f"{make.__name__}-{counts['bug']}"
                    stem.with_suffix(".bin").write_bytes(data)
                    stem.with_suffix(".txt").write_text(traceback.format_exc())
                slowest = max(slowest, time.perf_counter() - start)
                leftovers = [p for p in scratch.iterdir() if p.name != "x.tar.gz"]
                if leftovers or os.path.exists("/abs"):
                    raise SystemExit(f"the archive reader wrote files: {leftovers}")
            rows.append((label, sum(counts.values()), counts["read"], counts["refused"], counts["bug"], slowest))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"## Fuzz run: {args.seconds:g} s per class, seed {args.seed}\n")
    print("| input class | tried | read as a Score | clear error | other (bugs) | slowest input |")
    print("|---|---:|---:|---:|---:|---:|")
    for label, tried, read, refused, bugs, slowest in rows:
        print(f"| {label} | {tried} | {read} | {refused} | {bugs} | {slowest * 1e3:.0f} ms |")
    print(f"\npeak memory of the whole run: {peak:.0f} MB")
    if any(r[4] for r in rows):
        print(f"failing inputs saved in {args.save}/")
        sys.exit(1)


if __name__ == "__main__":
    main()
