"""Image sanity datasets for the ACAI benchmarks: MNIST from IDX files and the synthetic 32x32 lines.

Matched to the official code (brain-research/acai): MNIST is scaled as x * 2/255 - 1 and padded 28 -> 32
with -1 (lib/data.py, ``pad=(2, 2)``); the default line renderer reproduces ``lib/data.draw_line``
pixel for pixel (see ``render_lines``), and ``lines_reference`` the 10000 angles of ``lib/eval.py``.
"""

from __future__ import annotations

import gzip
import math
import os
import zlib
from pathlib import Path

import numpy as np
import torch

from .errors import NesinterpError

__all__ = [
    "IdxError", "read_idx", "load_mnist", "render_lines", "lines_reference", "LinesStream",
    "LINE_SIZE", "LINE_LENGTH", "LINE_WIDTH",
]

# --- IDX files ----------------------------------------------------------------------------------


class IdxError(NesinterpError):
    """A file that is not a valid IDX file (or not the one expected); the message names it, in one line."""


# IDX type codes -> big-endian numpy dtypes (http://yann.lecun.com/exdb/mnist/, "THE IDX FILE FORMAT").
_IDX_DTYPES = {
    0x08: np.dtype(">u1"), 0x09: np.dtype(">i1"), 0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8"),
}
_CHUNK = 1 << 20


def _read_exact(f, n: int, path: Path, what: str) -> bytes:
    data = f.read(n)
    if len(data) != n:
        raise IdxError(f"{path}: truncated IDX file (ends inside the {what})")
    return data


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """The array stored in an IDX file, gzip-compressed or plain (told apart by content, not name).

    Returns a native-endian array of the file's dtype and shape. Raises ``IdxError`` naming the file for a
    wrong magic number, an unknown type code, truncated data or trailing bytes. The data is read in
    chunks up to the size the header announces, so a corrupt header cannot make us allocate more than
    the file actually holds.
    """
    path = Path(path)
    with open(path, "rb") as raw:  # OSError (missing, unreadable) propagates as is: it names the file
        is_gzip = raw.read(2) == b"\x1f\x8b"
    if not is_gzip:
        disk_size = path.stat().st_size
    f = gzip.open(path, "rb") if is_gzip else open(path, "rb")
    try:
        with f:
            magic = _read_exact(f, 4, path, "magic number")
            if magic[0] != 0 or magic[1] != 0 or magic[2] not in _IDX_DTYPES or magic[3] == 0:
                raise IdxError(f"{path}: not an IDX file (magic number {magic.hex()}; expected 0000 + "
                               "type code 08/09/0b/0c/0d/0e + number of dimensions)")
            dtype, ndim = _IDX_DTYPES[magic[2]], magic[3]
            shape = tuple(int(d) for d in np.frombuffer(_read_exact(f, 4 * ndim, path, "dimensions"), ">u4"))
            expected = math.prod(shape) * dtype.itemsize  # Python int: no overflow on absurd headers
            header = 4 + 4 * ndim
            if not is_gzip and disk_size - header != expected:
                kind = "truncated" if disk_size - header < expected else "size mismatch"
                raise IdxError(f"{path}: {kind}: header announces shape {shape} ({expected} data bytes) but "
                               f"the file holds {disk_size - header}")
            # Grow the buffer only as data actually arrives (a gzip stream's size is unknown up front).
            buf = bytearray()
            while len(buf) <= expected:
                chunk = f.read(min(_CHUNK, expected + 1 - len(buf)))
                if not chunk:
                    break
                buf += chunk
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise IdxError(f"{path}: corrupt gzip stream ({exc})") from exc
    if len(buf) != expected:
        kind = "truncated" if len(buf) < expected else "size mismatch"
        more = "" if len(buf) < expected else " or more"
        raise IdxError(f"{path}: {kind}: header announces shape {shape} ({expected} data bytes) but the "
                       f"file holds {len(buf)}{more}")
    return np.frombuffer(buf, dtype=dtype).astype(dtype.newbyteorder("="), copy=False).reshape(shape)


# --- MNIST --------------------------------------------------------------------------------------

_MNIST_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
                "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


def _find_idx(folder: Path, stem: str) -> Path:
    for name in (stem + ".gz", stem):
        if (folder / name).is_file():
            return folder / name
    raise FileNotFoundError(f"MNIST file {folder / (stem + '.gz')} not found (nor {stem} uncompressed)")


def load_mnist(folder: str | os.PathLike, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """MNIST as the ACAI code feeds it: images float32 (n, 1, 32, 32) in [-1, 1], labels int64 (n,).

    Pixels are scaled as x / 127.5 - 1 (the official x * 2/255 - 1, but exactly -1 and +1 at 0 and 255)
    and the 28x28 digits padded with -1 by 2 pixels on each side. Reads ``{train,t10k}-{images-idx3,
    labels-idx1}-ubyte[.gz]`` from ``folder``.
    """
    if split not in _MNIST_FILES:
        raise ValueError(f"split must be 'train' or 'test', not {split!r}")
    folder = Path(folder)
    image_path, label_path = (_find_idx(folder, stem) for stem in _MNIST_FILES[split])
    raw = read_idx(image_path)
    if raw.dtype != np.uint8 or raw.ndim != 3 or raw.shape[1:] != (28, 28):
        raise IdxError(f"{image_path}: expected uint8 images of shape (n, 28, 28), got {raw.dtype} {raw.shape}")
    labels = read_idx(label_path)
    if labels.dtype != np.uint8 or labels.shape != raw.shape[:1]:
        raise IdxError(f"{label_path}: expected {raw.shape[0]} uint8 labels, got {labels.dtype} {labels.shape}")
    if labels.size and labels.max() > 9:
        raise IdxError(f"{label_path}: label {int(labels.max())} outside 0..9")
    images = np.full((raw.shape[0], 1, 32, 32), -1.0, dtype=np.float32)
    inner = images[:, 0, 2:30, 2:30]
    inner[...] = raw  # scale in place: no float64 temporary of the whole set
    inner /= np.float32(127.5)
    inner -= np.float32(1.0)
    return images, labels.astype(np.int64)


# --- lines --------------------------------------------------------------------------------------

LINE_SIZE = 32      # image side
LINE_LENGTH = 15.0  # centre to far end: size / 2 - 1 in the official code
LINE_WIDTH = 2.0
_CENTRE = LINE_SIZE / 2
_CHUNK_LINES = 2048  # lines rendered per pass: bounds the (chunk, 32, 32) float64 temporaries


def _official(theta: torch.Tensor) -> torch.Tensor:
    """lib/data.draw_line of the ACAI code for a batch: a scanline drawing along the line's major axis.

    Per scanline i of the major axis (the one the line spans more of) the official code inks an
    interval of length w = 2 on the minor axis, centred at the line's minor coordinate evaluated at
    i - 0.5 (its ``y - y0 - .5``; one scanline before the pixel centre i + 0.5 - so lines off the axes
    sit up to 0.71 px to one side), weighted by the scanline's overlap with the segment. Its
    last-scanline weight branch can never trigger, so the scanline holding the far end of a line
    that runs towards larger indices gets full weight. All of that is reproduced here.
    """
    n = theta.shape[0]
    dev, dt = theta.device, theta.dtype
    c = torch.full_like(theta, _CENTRE)
    end_col = c + LINE_LENGTH * torch.cos(-theta)  # the official x
    end_row = c + LINE_LENGTH * torch.sin(-theta)  # the official y
    flip = (end_row - c).abs() < (end_col - c).abs()  # major axis = columns
    a_end = torch.where(flip, end_col, end_row)  # major coordinate of the far end
    b_end = torch.where(flip, end_row, end_col)  # minor coordinate
    down = a_end < c  # the official swaps the endpoints so the major coordinate increases
    a0, a1 = torch.where(down, a_end, c), torch.where(down, c, a_end)
    b0, b1 = torch.where(down, b_end, c), torch.where(down, c, b_end)
    da = a1 - a0
    ds = torch.where(da != 0, (b1 - b0) / torch.where(da != 0, da, torch.ones_like(da)), torch.zeros_like(da))
    i = torch.arange(LINE_SIZE, device=dev, dtype=dt).view(1, -1)  # scanline index along the major axis
    a0_, a1_ = a0.view(n, 1), a1.view(n, 1)
    on = (i >= torch.floor(a0_)) & (i < torch.ceil(a1_))
    weight = torch.where(on, (i + 1 - torch.maximum(i, a0_)).clamp(0, 1), torch.zeros_like(i))
    start = (b0.view(n, 1) - LINE_WIDTH / 2) + (i - a0_ - 0.5) * ds.view(n, 1)  # (n, scanlines)
    j = torch.arange(LINE_SIZE, device=dev, dtype=dt).view(1, 1, -1)  # minor-axis pixel index
    s = start.unsqueeze(-1)
    cover = (torch.minimum(j + 1, s + LINE_WIDTH) - torch.maximum(j, s)).clamp(min=0)  # interval overlap
    v = 2 * weight.unsqueeze(-1) * cover - 1  # [scanline, minor]
    return torch.where(flip.view(n, 1, 1), v.transpose(1, 2), v).clamp(-1, 1)


def _area(theta: torch.Tensor) -> torch.Tensor:
    """Exact area coverage of the 15 x 2 rectangle, per pixel (the idealized line of evaluation.md).

    With F(x, y) = area(R and {X <= x, Y <= y}) a pixel's coverage is F at its four corners combined.
    F by Green's theorem (area = closed integral of X dY): the parts of R's counter-clockwise edges
    inside the quadrant, plus the quadrant's right side X = x over its stretch inside R (x times that
    length; the top side adds nothing to the integral of X dY). Closed form, no sampling error.
    """
    n = theta.shape[0]
    dev, dt = theta.device, theta.dtype
    ux, uy = torch.cos(-theta), torch.sin(-theta)  # direction in (X = column, Y = row)
    # Snap near-axis directions onto the axis (moves the far end by < 1.5e-6 px): otherwise an edge
    # within float noise of a grid line (sin(pi) = 1.2e-16) makes the divisions below blow up.
    tiny_y, tiny_x = uy.abs() < 1e-7, ux.abs() < 1e-7
    ux, uy = (torch.where(tiny_y, torch.sign(ux), torch.where(tiny_x, torch.zeros_like(ux), ux)),
              torch.where(tiny_x, torch.sign(uy), torch.where(tiny_y, torch.zeros_like(uy), uy)))
    vx, vy = -uy, ux  # normal: (u, v) positively oriented, so the corner order below is CCW
    c, L, h = _CENTRE, LINE_LENGTH, LINE_WIDTH / 2
    corners = [(c - h * vx, c - h * vy), (c + L * ux - h * vx, c + L * uy - h * vy),
               (c + L * ux + h * vx, c + L * uy + h * vy), (c + h * vx, c + h * vy)]
    g = torch.arange(LINE_SIZE + 1, device=dev, dtype=dt)
    x = g.view(1, 1, -1)  # corner grid: F[:, y, x]
    y = g.view(1, -1, 1)
    inf = torch.tensor(math.inf, device=dev, dtype=dt)

    def limit(d, start, bound):
        """t-range of start + t d <= bound, as (lo, hi)."""
        safe = torch.where(d != 0, d, torch.ones_like(d))
        t = (bound - start) / safe
        lo = torch.where(d < 0, t, torch.where((d == 0) & (start > bound), inf, -inf))
        hi = torch.where(d > 0, t, torch.where((d == 0) & (start > bound), -inf, inf))
        return lo, hi

    f = torch.zeros(n, LINE_SIZE + 1, LINE_SIZE + 1, device=dev, dtype=dt)
    for k in range(4):  # the four edges (a loop over edges, not over lines or pixels)
        (px, py), (qx, qy) = corners[k], corners[(k + 1) % 4]
        px, py, qx, qy = (t.view(n, 1, 1) for t in (px, py, qx, qy))
        dx, dy = qx - px, qy - py
        lo_x, hi_x = limit(dx, px, x)
        lo_y, hi_y = limit(dy, py, y)
        t0 = torch.maximum(torch.maximum(lo_x, lo_y), torch.zeros_like(lo_x)).clamp(max=1)
        t1 = torch.minimum(torch.minimum(hi_x, hi_y), torch.ones_like(hi_x)).clamp(min=0)
        t1 = torch.maximum(t0, t1)
        f = f + (2 * px + (t0 + t1) * dx) / 2 * dy * (t1 - t0)
    # The right side X = x: R's cross-section there is an interval of Y from the two slabs.
    xx = x.expand(n, 1, LINE_SIZE + 1)
    lo = torch.full_like(xx, -math.inf)
    hi = torch.full_like(xx, math.inf)
    for (ax, ay), (low, high) in (((ux, uy), (0.0, L)), ((vx, vy), (-h, h))):
        ax, ay = ax.view(n, 1, 1), ay.view(n, 1, 1)
        base = (xx - c) * ax  # slab: low <= base + (Y - c) ay <= high
        safe = torch.where(ay != 0, ay, torch.ones_like(ay))
        y1, y2 = c + (low - base) / safe, c + (high - base) / safe
        inside = (base >= low) & (base <= high)
        slab_lo = torch.where(ay != 0, torch.minimum(y1, y2), torch.where(inside, -inf, inf))
        slab_hi = torch.where(ay != 0, torch.maximum(y1, y2), torch.where(inside, inf, -inf))
        lo, hi = torch.maximum(lo, slab_lo), torch.minimum(hi, slab_hi)
    length = (torch.minimum(hi, y) - lo).clamp(min=0)  # (n, 33, 33)
    f = f + x * length
    cover = f[:, 1:, 1:] - f[:, :-1, 1:] - f[:, 1:, :-1] + f[:, :-1, :-1]
    return (2 * cover - 1).clamp(-1, 1)


_MODES = {"official": _official, "area": _area}


def render_lines(theta, mode: str = "official"):
    """Lines at angles ``theta`` (radians): float32 (n, 1, 32, 32), background -1, ink up to +1.

    A tensor ``theta`` gives a tensor on its device (vectorized torch, no loop per line or pixel);
    anything else gives a numpy array. Geometry (both modes): pixel [r, c] covers the square
    [c, c+1] x [r, r+1] of continuous (X = column, Y = row) coordinates, rows counting downwards; the line
    runs from the image centre (16, 16) - the corner shared by pixels 15 and 16 - to X = 16 + 15 cos(-theta),
    Y = 16 + 15 sin(-theta). So theta = 0 points right, pi/2 up (towards row 0), and theta + pi/2 is the
    image turned by np.rot90. Ink = (pixel + 1) / 2.

    ``mode="official"`` (default) is brain-research/acai ``lib/data.draw_line`` reproduced exactly (within
    1.5e-14 in float64 of a transcription of it, over 12000 angles): a 2 px wide band along the minor axis,
    so the ink is 2 x the major-axis extent - 30 at theta = 0, 21.2 at 45 degrees, 27.4 on average;
    30 to 45 pixels touched; see ``_official`` for its half-pixel offset and far-end rounding.
    ``mode="area"`` is the idealized line of evaluation.md: the exact area coverage of a 15 x 2
    rectangle (closed form, no supersampling): ink 30 at every angle, 30 to 57 pixels touched (52 on
    average, counting thin slivers), rotation-exact; 4x slower than the official drawing. Computed in float64 (float32 on MPS), returned as float32.
    """
    if mode not in _MODES:
        raise ValueError(f"mode must be one of {sorted(_MODES)}, not {mode!r}")
    as_tensor = isinstance(theta, torch.Tensor)
    t = theta if as_tensor else torch.as_tensor(np.asarray(theta, dtype=np.float64))
    t = t.reshape(-1)
    work = torch.float32 if t.device.type == "mps" else torch.float64
    t = t.to(work)
    parts = [_MODES[mode](t[k:k + _CHUNK_LINES]) for k in range(0, t.shape[0], _CHUNK_LINES)]
    out = (torch.cat(parts) if parts else torch.empty(0, LINE_SIZE, LINE_SIZE, dtype=work, device=t.device))
    out = out.to(torch.float32).unsqueeze(1)
    return out if as_tensor else out.numpy()


def lines_reference(n: int = 10000, device=None, mode: str = "official"):
    """The evaluation reference set: (images (n, 1, 32, 32) float32, theta (n,) float64).

    theta = linspace(0, 2 pi, n, endpoint=False), as the official lib/eval.closest_line. numpy
    arrays, or tensors on ``device`` when one is given.
    """
    theta = np.linspace(0.0, 2 * np.pi, n, endpoint=False)
    if device is None:
        return render_lines(theta, mode=mode), theta
    t = torch.as_tensor(theta, device=device)
    return render_lines(t, mode=mode), t


class LinesStream:
    """The endless training stream: ``sample(batch)`` -> (images, theta) with theta ~ U[0, 2 pi).

    Everything is drawn and rendered on ``device`` (no host copies). ``generator`` is a torch.Generator
    (ideally on that device; one elsewhere draws the angles there and moves just those), an int seed
    for a new one on the device, or None for a fresh randomly seeded one.
    """

    def __init__(self, device="cpu", generator: torch.Generator | int | None = None, mode: str = "official"):
        self.device = torch.device(device)
        if mode not in _MODES:
            raise ValueError(f"mode must be one of {sorted(_MODES)}, not {mode!r}")
        self.mode = mode
        if isinstance(generator, torch.Generator):
            self.generator = generator
        else:
            self.generator = torch.Generator(device=self.device)
            if generator is None:
                self.generator.seed()
            else:
                self.generator.manual_seed(int(generator))

    def sample(self, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
        # torch.rand refuses a generator from another device; draw where it lives (batch floats only).
        theta = torch.rand(batch, generator=self.generator, device=self.generator.device, dtype=torch.float64)
        theta = theta.to(self.device) * (2 * math.pi)
        return render_lines(theta, mode=self.mode), theta
