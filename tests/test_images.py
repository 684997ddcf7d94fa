"""Image sanity datasets: IDX reading, MNIST as ACAI feeds it, and the ACAI lines renderer."""

from __future__ import annotations

import gzip
import math
import struct

import numpy as np
import pytest
import torch

from nesinterp.images import IdxError, LinesStream, lines_reference, load_mnist, read_idx, render_lines

from .conftest import shared_data_dir

# --- IDX ----------------------------------------------------------------------------------------

CODES = {np.uint8: 0x08, np.int8: 0x09, np.int16: 0x0B, np.int32: 0x0C, np.float32: 0x0D, np.float64: 0x0E}


def idx_bytes(array: np.ndarray) -> bytes:
    """An IDX file's bytes, written independently of the reader under test."""
    header = bytes([0, 0, CODES[array.dtype.type], array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write(path, data: bytes, gz: bool):
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gz"])
@pytest.mark.parametrize("dtype", [np.uint8, np.int32, np.int16, np.float64])
def test_idx_round_trip(tmp_path, dtype, gz):
    rng = np.random.default_rng(0)
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        array = rng.integers(info.min, info.max, size=(5, 3, 4), endpoint=True).astype(dtype)
    else:
        array = rng.normal(size=(5, 3, 4)).astype(dtype)
    out = read_idx(write(tmp_path / ("a.idx.gz" if gz else "a.idx"), idx_bytes(array), gz))
    assert out.dtype == np.dtype(dtype) and out.dtype.isnative
    np.testing.assert_array_equal(out, array)


def test_idx_detects_gzip_by_content_and_reads_1d_and_empty(tmp_path):
    labels = np.arange(10, dtype=np.uint8)
    np.testing.assert_array_equal(read_idx(write(tmp_path / "labels", idx_bytes(labels), gz=True)), labels)
    empty = read_idx(write(tmp_path / "empty", idx_bytes(np.zeros((0, 28, 28), np.uint8)), gz=False))
    assert empty.shape == (0, 28, 28)


def assert_idx_error(path, *words):
    with pytest.raises(IdxError) as info:
        read_idx(path)
    message = str(info.value)
    assert str(path) in message and "\n" not in message
    for word in words:
        assert word in message, message


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gz"])
def test_idx_errors_name_the_file(tmp_path, gz):
    good = idx_bytes(np.arange(24, dtype=np.int32).reshape(2, 3, 4))
    assert_idx_error(write(tmp_path / "magic", b"\x12\x34" + good[2:], gz), "magic")
    assert_idx_error(write(tmp_path / "code", good[:2] + b"\x07" + good[3:], gz), "magic")
    assert_idx_error(write(tmp_path / "header", good[:9], gz), "truncated")
    assert_idx_error(write(tmp_path / "short", good[:-5], gz), "truncated")
    assert_idx_error(write(tmp_path / "long", good + b"\0\0\0\0", gz), "size mismatch")
    assert_idx_error(write(tmp_path / "empty", b"", gz), "truncated")


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gz"])
def test_idx_absurd_header_allocates_nothing(tmp_path, gz):
    # 2^32-1 cubed float64: an allocation would fail loudly; the check against the data must come first.
    absurd = bytes([0, 0, 0x0E, 3]) + struct.pack(">3I", *(2**32 - 1,) * 3) + b"\0" * 64
    assert_idx_error(write(tmp_path / "absurd", absurd, gz), "truncated")


def test_idx_corrupt_gzip(tmp_path):
    data = gzip.compress(idx_bytes(np.arange(1000, dtype=np.int32)))
    broken = tmp_path / "broken.gz"
    broken.write_bytes(data[:-30])  # cut inside the deflate stream
    assert_idx_error(broken)
    flipped = bytearray(data)
    flipped[-8] ^= 0xFF  # CRC
    (tmp_path / "crc.gz").write_bytes(bytes(flipped))
    assert_idx_error(tmp_path / "crc.gz")


def fake_mnist(folder, n=6, gz=True, labels=None):
    images = np.zeros((n, 28, 28), np.uint8)
    images[:, 0, 0], images[:, 27, 27], images[:, 10, 10] = 255, 255, 51
    labels = np.arange(n, dtype=np.uint8) % 10 if labels is None else labels
    for prefix in ("train", "t10k"):
        suffix = ".gz" if gz else ""
        write(folder / f"{prefix}-images-idx3-ubyte{suffix}", idx_bytes(images), gz)
        write(folder / f"{prefix}-labels-idx1-ubyte{suffix}", idx_bytes(labels), gz)


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gz"])
def test_load_mnist_scaling_and_padding(tmp_path, gz):
    fake_mnist(tmp_path, gz=gz)
    images, labels = load_mnist(tmp_path, "test")
    assert images.shape == (6, 1, 32, 32) and images.dtype == np.float32
    assert labels.dtype == np.int64 and labels.tolist() == [0, 1, 2, 3, 4, 5]
    assert np.all(images[:, 0, 2, 2] == 1.0) and np.all(images[:, 0, 29, 29] == 1.0)  # 255 at the digit corners
    assert np.allclose(images[:, 0, 12, 12], 51 / 127.5 - 1)
    border = np.ones((32, 32), bool)
    border[2:30, 2:30] = False
    assert np.all(images[:, 0][:, border] == -1.0)
    assert images.min() == -1.0 and images.max() == 1.0


def test_load_mnist_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte.gz"):
        load_mnist(tmp_path, "train")
    with pytest.raises(ValueError, match="split"):
        load_mnist(tmp_path, "valid")
    fake_mnist(tmp_path, labels=np.zeros(5, np.uint8))
    with pytest.raises(IdxError, match="t10k-labels-idx1-ubyte.gz"):
        load_mnist(tmp_path, "test")


# --- real MNIST ---------------------------------------------------------------------------------

# The canonical MNIST class counts (digits 0..9).
MNIST_COUNTS = {"train": [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949],
                "test": [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]}


@pytest.fixture(scope="module")
def mnist_dir():
    folder = shared_data_dir() / "mnist"
    if not (folder / "t10k-images-idx3-ubyte.gz").exists():
        pytest.skip(f"real MNIST not found under {folder} (set NESINTERP_SHARED_DATA to the shared data folder)")
    return folder


@pytest.mark.parametrize("split, n", [("train", 60000), ("test", 10000)])
def test_real_mnist(mnist_dir, split, n):
    images, labels = load_mnist(mnist_dir, split)
    assert images.shape == (n, 1, 32, 32) and images.dtype == np.float32
    assert labels.shape == (n,) and labels.dtype == np.int64
    assert images.min() == -1.0 and images.max() == 1.0
    assert np.all(images[:, :, :2] == -1) and np.all(images[:, :, 30:] == -1)
    assert np.all(images[:, :, :, :2] == -1) and np.all(images[:, :, :, 30:] == -1)
    counts = np.bincount(labels, minlength=10)
    assert counts.tolist() == MNIST_COUNTS[split]
    ink = (images + 1).mean(axis=(1, 2, 3)) / 2  # every digit has ink, none is a blot
    assert 0.01 < ink.min() and ink.max() < 0.6


# --- lines --------------------------------------------------------------------------------------

RNG_ANGLES = np.random.default_rng(7).uniform(0, 2 * np.pi, 300)
PIXEL_CENTRES = np.indices((32, 32)) + 0.5  # (row, col) of each pixel's centre


def ink(images):
    return (np.asarray(images) + 1) / 2


def centroids(images):
    w = ink(images)[:, 0]
    total = w.sum(axis=(1, 2))
    return np.stack([(w * PIXEL_CENTRES[0]).sum((1, 2)) / total, (w * PIXEL_CENTRES[1]).sum((1, 2)) / total], 1)


def cosine_distance(a, b):
    a, b = a.reshape(len(a), -1), b.reshape(len(b), -1)
    return 1 - (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


@pytest.mark.parametrize("mode", ["official", "area"])
def test_lines_axis_angles_exact(mode):
    # theta = 0 points right from the centre corner (16, 16): rows 15-16, columns 16-30 fully inked.
    expected = np.full((32, 32), -1.0, np.float32)
    expected[15:17, 16:31] = 1.0
    images = render_lines(np.arange(4) * np.pi / 2, mode=mode)[:, 0]
    for k in range(4):  # pi/2 up, pi left, 3 pi/2 down: exact quarter turns
        np.testing.assert_allclose(images[k], np.rot90(expected, k), atol=1e-6)


# Fingerprints of brain-research/acai lib/data.draw_line(theta, 32, 32), taken with the original
# algorithm: (theta, total ink, pixels touched, ink centroid row, col in pixel-centre coordinates).
OFFICIAL = [(0.3, 30.000002, 45, 13.989313, 23.499999), (1.0, 25.244129, 39, 9.679655, 20.700340),
            (2.5, 24.034309, 39, 10.763912, 9.990721), (4.0, 24.000000, 36, 22.000000, 11.681544),
            (5.5, 22.000000, 33, 20.480128, 21.500000)]
OFFICIAL_ROWS_1 = [0] * 3 + [1.24413] + [2.0] * 12 + [0] * 16
OFFICIAL_COLS_1 = [0] * 15 + [0.036861, 1.394768, 2.826398, 3.073722, 3.147444, 3.073722, 3.147444,
                              3.073722, 3.022064, 2.00613, 0.441853] + [0] * 6


def test_lines_match_official_fingerprints():
    thetas = np.array([f[0] for f in OFFICIAL])
    images = render_lines(thetas)
    np.testing.assert_allclose(ink(images).sum((1, 2, 3)), [f[1] for f in OFFICIAL], atol=1e-5)
    assert (images > -1).sum((1, 2, 3)).tolist() == [f[2] for f in OFFICIAL]
    np.testing.assert_allclose(centroids(images), [f[3:] for f in OFFICIAL], atol=1e-5)
    w = ink(images[1, 0])
    np.testing.assert_allclose(w.sum(1), OFFICIAL_ROWS_1, atol=1e-5)
    np.testing.assert_allclose(w.sum(0), OFFICIAL_COLS_1, atol=1e-5)


def test_lines_shape_range_and_ink_official():
    images = render_lines(RNG_ANGLES)
    assert isinstance(images, np.ndarray) and images.shape == (300, 1, 32, 32) and images.dtype == np.float32
    assert images.min() == -1.0 and np.all(images.max(axis=(1, 2, 3)) == 1.0)
    # A band 2 px wide across the major axis: ink = 2 x the major-axis extent 15 max(|cos|, |sin|), plus
    # at most one far-end scanline rounded up to full (21.2 at 45 degrees, 30 on the axes).
    extent = 15 * np.maximum(np.abs(np.cos(RNG_ANGLES)), np.abs(np.sin(RNG_ANGLES)))
    total = ink(images).sum((1, 2, 3))
    assert np.all(total >= 2 * extent - 1e-4) and np.all(total <= 2 * extent + 2 + 1e-4)
    assert 26.5 < total.mean() < 28.5  # 27.4 over all angles
    touched = (images > -1).sum((1, 2, 3))
    assert touched.min() >= 30 and touched.max() <= 45 and 38 < touched.mean() < 45


def test_lines_shape_range_and_ink_area():
    images = render_lines(RNG_ANGLES, mode="area")
    assert images.shape == (300, 1, 32, 32) and images.min() == -1.0 and np.all(images.max(axis=(1, 2, 3)) == 1.0)
    np.testing.assert_allclose(ink(images).sum((1, 2, 3)), 30.0, atol=1e-4)  # 15 x 2, exactly
    touched = (images > -1).sum((1, 2, 3))
    assert touched.min() >= 30 and touched.max() <= 58


def brute_coverage(theta, k=64):
    """Coverage of the 15 x 2 rectangle by k x k point sampling per pixel (slow, independent)."""
    s = (np.arange(32 * k) + 0.5) / k
    y, x = np.meshgrid(s, s, indexing="ij")
    ux, uy = math.cos(-theta), math.sin(-theta)
    along, across = (x - 16) * ux + (y - 16) * uy, -(x - 16) * uy + (y - 16) * ux
    inside = (along >= 0) & (along <= 15) & (np.abs(across) <= 1)
    return inside.reshape(32, k, 32, k).mean((1, 3)) * 2 - 1


def test_lines_area_mode_is_exact_coverage():
    thetas = [0.3, 1.0, 2.5, 4.0, 1e-5, math.pi - 1e-9]
    for theta, image in zip(thetas, render_lines(thetas, mode="area")[:, 0]):
        assert np.abs(image - brute_coverage(theta)).max() < 0.012  # the sampling's own error


@pytest.mark.parametrize("mode, tolerance, reach", [("official", 1.05, 2.0), ("area", 0.01, 1.4)])
def test_lines_point_the_documented_way(mode, tolerance, reach):
    # Ink centroid ~ segment midpoint, row = 16 + 7.5 sin(-theta), col = 16 + 7.5 cos(-theta); the
    # official drawing sits up to 1.01 px off (its half-scanline offset and far-end rounding).
    images = render_lines(RNG_ANGLES, mode=mode)
    mid = np.stack([16 + 7.5 * np.sin(-RNG_ANGLES), 16 + 7.5 * np.cos(-RNG_ANGLES)], 1)
    assert np.abs(centroids(images) - mid).max() < tolerance
    # The inked pixel farthest from the centre lies at the far end 16 + 15 (sin(-theta), cos(-theta)), within
    # pixel quantization (1.33 px over 5000 angles; 1.95 for the official, whose far scanline may round up).
    end = 16 + 15 * np.stack([np.sin(-RNG_ANGLES), np.cos(-RNG_ANGLES)], 1)
    for image, e in zip(images[:, 0], end):
        r, c = np.nonzero(image > -0.5)  # pixels at least a quarter inked
        far = np.argmax((r + 0.5 - 16) ** 2 + (c + 0.5 - 16) ** 2)
        assert math.hypot(r[far] + 0.5 - e[0], c[far] + 0.5 - e[1]) < reach


def test_lines_rotation_by_quarter_turn():
    a = render_lines(RNG_ANGLES, mode="area")[:, 0]
    b = render_lines(RNG_ANGLES + np.pi / 2, mode="area")[:, 0]
    np.testing.assert_allclose(b, np.rot90(a, axes=(1, 2)), atol=1e-5)
    # The official scanline drawing is not rotation-exact (its offsets follow the major axis), but close.
    a = render_lines(RNG_ANGLES)[:, 0]
    b = render_lines(RNG_ANGLES + np.pi / 2)[:, 0]
    assert cosine_distance(b, np.rot90(a, axes=(1, 2))).max() < 0.1
    assert np.median(np.abs(b - np.rot90(a, axes=(1, 2))).max(axis=(1, 2))) < 0.05


def test_official_and_area_draw_the_same_line():
    assert cosine_distance(render_lines(RNG_ANGLES), render_lines(RNG_ANGLES, mode="area")).max() < 0.05


def test_lines_deterministic_and_tensor_path():
    first = render_lines(RNG_ANGLES)
    np.testing.assert_array_equal(first, render_lines(list(RNG_ANGLES)))
    as_tensor = render_lines(torch.as_tensor(RNG_ANGLES))
    assert isinstance(as_tensor, torch.Tensor) and as_tensor.dtype == torch.float32
    np.testing.assert_array_equal(as_tensor.numpy(), first)
    f32 = render_lines(torch.as_tensor(RNG_ANGLES, dtype=torch.float32))
    assert cosine_distance(f32.numpy(), first).max() < 1e-3
    assert render_lines(np.zeros(0)).shape == (0, 1, 32, 32)
    with pytest.raises(ValueError, match="mode"):
        render_lines([0.0], mode="capsule")


def test_lines_reference():
    images, theta = lines_reference(1000)
    assert images.shape == (1000, 1, 32, 32) and theta.shape == (1000,)
    # lib/eval.closest_line: np.linspace(0, 2 pi - 2 pi / n, n)
    np.testing.assert_allclose(theta, np.linspace(0, 2 * np.pi - 2 * np.pi / 1000, 1000), rtol=0, atol=1e-12)
    np.testing.assert_array_equal(images, render_lines(theta))
    timages, ttheta = lines_reference(8, device="cpu", mode="area")
    assert isinstance(timages, torch.Tensor) and isinstance(ttheta, torch.Tensor) and timages.shape == (8, 1, 32, 32)


def test_lines_stream():
    stream = LinesStream("cpu", 123)
    images, theta = stream.sample(64)
    assert images.shape == (64, 1, 32, 32) and images.dtype == torch.float32 and theta.shape == (64,)
    assert float(theta.min()) >= 0 and float(theta.max()) < 2 * math.pi
    np.testing.assert_array_equal(images.numpy(), render_lines(theta.numpy()))
    again, theta2 = stream.sample(64)
    assert not torch.equal(theta, theta2) and not torch.equal(images, again)
    same, same_theta = LinesStream("cpu", torch.Generator().manual_seed(123)).sample(64)
    assert torch.equal(theta, same_theta) and torch.equal(images, same)
    other, _ = LinesStream("cpu", 124).sample(64)
    assert not torch.equal(images, other)
    area, _ = LinesStream("cpu", 123, mode="area").sample(64)
    assert not torch.equal(area, images)
    spread = torch.cat([stream.sample(512)[1] for _ in range(4)])  # covers the circle
    assert torch.histc(spread, bins=8, min=0, max=2 * math.pi).min() > 150
