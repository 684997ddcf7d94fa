"""The blend's index.html: self-contained, escaped, and checked in a real headless Chromium (every
audio player's file there with the right length, every picture loading, no console error, nothing
fetched from the network), with a screenshot kept in tests/artifacts/ to look at."""

from __future__ import annotations

import json
import re
import shutil
import wave
from pathlib import Path

import pytest

from nesinterp.examples import example_path
from nesinterp.trained_model import PRETRAINED

from .browser import Browser

A, B = str(example_path("overworld")), str(example_path("dungeon"))
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"

CHECK_PAGE = """(async () => {
  const settle = (el, ok, bad) => new Promise(done => {
    el.addEventListener(ok, () => done(true), {once: true});
    el.addEventListener(bad, () => done(false), {once: true});
    setTimeout(() => done(false), 10000);
  });
  const images = [...document.images];
  images.forEach(img => { img.loading = "eager"; });  // lazy pictures below the fold load too
  await Promise.all(images.map(img => img.complete ? true : settle(img, "load", "error")));
  const players = [...document.querySelectorAll("audio")];
  await Promise.all(players.map(a => {
    if (a.readyState >= 1) return true;
    const loaded = settle(a, "loadedmetadata", "error");
    if (a.preload === "none") { a.preload = "metadata"; a.load(); }  // else it is loading already
    return loaded;
  }));
  return {
    images: images.map(i => ({src: i.getAttribute("src"), width: i.naturalWidth})),
    audio: players.map(a => ({src: a.getAttribute("src"), duration: a.duration})),
    links: [...document.querySelectorAll("a[href]")].map(a => a.getAttribute("href")),
    ids: [...document.querySelectorAll("[id]")].map(e => e.id),
    foreign: document.querySelectorAll("script, link, iframe, object, embed, base").length,
    width: document.documentElement.scrollWidth,
  };
})()"""


@pytest.fixture(scope="module")
def model(request):
    """The bundled model, as `make demo` uses; the small test model when a checkout has none."""
    if (PRETRAINED / "model.safetensors").exists():
        return str(PRETRAINED)
    return str(request.getfixturevalue("tiny_model"))


def wav_seconds(path: Path) -> float:
    with wave.open(str(path)) as w:
        return w.getnframes() / w.getframerate()


def check_in_browser(folder: Path, chromium: str, profile: Path, screenshot: Path | None = None,
                     record_name: str = "blend.json") -> dict:
    """Load folder/index.html and assert what a reader needs from it; returns what the page reported."""
    record = json.loads((folder / record_name).read_text())
    browser = Browser(chromium, profile)
    try:
        page = browser.open((folder / "index.html").as_uri())
        seen = page.evaluate(CHECK_PAGE)
        if screenshot is not None:
            page.screenshot(screenshot)
        problems, urls = page.problems(), page.requested_urls()
    finally:
        browser.close()
    assert problems == []
    assert all(u.startswith(("file://", "data:")) for u in urls), urls  # nothing from the network
    assert seen["foreign"] == 0  # no script, stylesheet or frame: the page is one file
    assert seen["width"] <= 1280  # nothing wider than the window
    wavs = [f"{t['name']}.wav" for t in record["tracks"]]
    assert sorted(a["src"] for a in seen["audio"]) == sorted(wavs)
    for player in seen["audio"]:
        path = folder / player["src"]
        assert path.is_file(), player
        assert player["duration"] == pytest.approx(wav_seconds(path), abs=0.02), player
        track = next(t for t in record["tracks"] if f"{t['name']}.wav" == player["src"])
        assert player["duration"] == pytest.approx(track["seconds"], abs=0.05), player
    pictures = [f for f in record["files"] if f.endswith(".png")]
    assert sorted(i["src"] for i in seen["images"]) == sorted(pictures)
    for image in seen["images"]:
        assert image["width"] > 0 and (folder / image["src"]).is_file(), image
    for href in seen["links"]:
        if href.startswith("#"):
            assert href[1:] in seen["ids"], href
        else:
            assert not re.match(r"^[a-z]+:", href) and (folder / href).is_file(), href
    return seen


def test_blend_page_in_a_real_browser(cli, model, chromium, tmp_path):
    out = tmp_path / "blend"
    r = cli("blend", A, B, "--steps", "8", "-o", out, "--model", model)
    assert r.returncode == 0, r.stderr
    assert str(out / "index.html") in r.stdout.splitlines()
    shot = tmp_path / "blend-page.png"
    seen = check_in_browser(out, chromium, tmp_path / "profile", shot)
    assert len(seen["audio"]) == 4 + 8 + 1  # A and B as they are and as heard, the steps, the morph
    assert len(seen["images"]) == 2 * (4 + 8) + 1  # a piano roll and a spectrogram each, the overview
    assert shot.stat().st_size > 10_000 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copy(shot, ARTIFACTS / "blend-page.png")  # to look at; tests/artifacts/ is not committed
    html = (out / "index.html").read_text()
    assert len(html) < 100_000 and "http://" not in html and "https://" not in html
    assert "linearity error" in html and "backward movement" in html  # the listener path scores
    # The checks are not vacuous: a missing picture or WAV fails them.
    (out / "pictures" / "step-03-of-08-roll.png").unlink()
    (out / "step-02-of-08.wav").unlink()
    with pytest.raises(AssertionError, match="ERR_FILE_NOT_FOUND"):
        check_in_browser(out, chromium, tmp_path / "profile-broken")


def test_whole_song_page_in_a_real_browser(cli, model, chromium, tmp_path):
    out = tmp_path / "whole"
    r = cli("blend", A, B, "--steps", "3", "--whole", "--no-plot", "-o", out, "--model", model)
    assert r.returncode == 0, r.stderr
    seen = check_in_browser(out, chromium, tmp_path / "profile")
    record = json.loads((out / "blend.json").read_text())
    step = next(t for t in record["tracks"] if t["role"] == "step")
    assert step["seconds"] == record["inputs"]["a"]["frames"] / 24 > 10  # whole songs, not one window
    assert len(seen["images"]) == 2 * (4 + 3)  # no piano-rolls.png with --no-plot


def test_no_html_writes_no_page_and_no_pictures(cli, model, tmp_path):
    out = tmp_path / "plain"
    r = cli("blend", A, B, "--steps", "2", "-o", out, "--model", model, "--no-html")
    assert r.returncode == 0, r.stderr
    assert not (out / "index.html").exists() and not (out / "pictures").exists()
    record = json.loads((out / "blend.json").read_text())
    assert record["options"]["html"] is False and "index.html" not in record["files"]
    assert sorted(p.name for p in out.iterdir()) == sorted(record["files"])


def test_every_string_on_the_page_is_escaped(cli, model, tmp_path):
    hostile = tmp_path / "a <img src=x onerror=alert(1)> & 'b'.mid"
    shutil.copy(A, hostile)
    out = tmp_path / "out"
    r = cli("blend", hostile, B, "--steps", "2", "-o", out, "--model", model, "--no-wav", "--no-plot")
    assert r.returncode == 0, r.stderr
    html = (out / "index.html").read_text()
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt; &amp; &#x27;b&#x27;" in html
    assert "<script" not in html
    assert "No audio (made with --no-wav)" in html  # and no player pointing at a missing file
    assert "<audio" not in html


def test_the_overview_names_its_lanes_and_titles_without_matplotlib():
    import subprocess
    import sys

    import numpy as np

    from nesinterp.pictures import LANE_HEIGHTS, overview_image, text_image
    from nesinterp.score import Score

    blank = text_image("", 40)
    assert (blank == blank[0, 0]).all()  # background only
    label = text_image("Step 1", 60)
    assert (label == label[0, 0]).all(axis=2).sum() < label.shape[0] * label.shape[1]  # some text drawn
    a = np.zeros((24, 4, 3), np.uint8)
    a[:, 0] = (60, 15, 2)
    picture = overview_image([Score(a), Score(a)], ["A", "B"])
    assert picture.dtype == np.uint8 and picture.shape[0] == sum(LANE_HEIGHTS) + 3 * 2 + 14
    code = ("import sys; import numpy as np; from nesinterp.pictures import overview_image; from nesinterp.score import Score;"
            "overview_image([Score(np.zeros((24, 4, 3), np.uint8))], ['A']); print('matplotlib' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
