"""The pages of ``sample``, ``grid`` and ``shift`` folders: one self-contained ``index.html`` each, built
from the folder's record with the blend page's cards (``page``): an audio player, a piano roll, a
spectrogram and the scores of every track; no script, nothing from the network, every string escaped.
"""

from __future__ import annotations

from html import escape

import numpy as np

from .page import CSS, PALETTE, _card, _num

BOARD_CSS = """
.board{display:grid;gap:8px;margin-top:8px}
.board .card{padding:6px 8px}.board .card.wide{grid-column:auto}.board .card h3{font-size:13px}.board table.voices{display:none}
.board audio{height:30px}
.corner{border-width:2px}
table.sweep{border-collapse:collapse;font-size:13px;font-variant-numeric:tabular-nums;margin:8px 0}
table.sweep th,table.sweep td{padding:3px 12px 3px 0;text-align:right}table.sweep th:first-child{text-align:left}
"""


def _page(title: str, lede: str, sections: list[str], record_name: str, files: set, tool: str) -> str:
    link = f"<a href=\"{record_name}\">{record_name}</a>" if record_name in files else record_name
    return "\n".join([
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">",
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">",
        f"<title>{escape(title)} \u00b7 {escape(tool)}</title>\n<style>{CSS}{BOARD_CSS}</style></head>\n<body>",
        f"<header><h1>{escape(title)}</h1><p class=\"lede\">{escape(lede)}</p></header>",
        *sections,
        f"<footer>Made by <code>{escape(tool)}</code>. Every number on this page is in {link}.</footer>\n</body></html>\n",
    ])


def _model_name(record: dict) -> str:
    model = record.get("model", {})
    return str(model.get("name") or model.get("source"))


def _real(record: dict):
    return record.get("realism_reference", {}).get("real_windows_typicality")


def _eager(record: dict) -> bool:
    return len(record.get("tracks", [])) <= 64


def sample_page(record: dict) -> str:
    """The page of ``nesinterp sample``: every sample's card with its realism."""
    files, options = set(record.get("files", [])), record.get("options", {})
    by_name = {s["name"]: s for s in record.get("samples", [])}
    cards = [_card(t, files, _eager(record), by_name.get(t["name"]), None, _real(record)) for t in record["tracks"]]
    length = f"{options.get('seconds'):g} s songs" if options.get("seconds") else "single windows"
    decoding = ("the most likely notes" if not options.get("temperature")
                else f"notes drawn at temperature {options.get('temperature'):g}")
    lede = (f"{len(cards)} {length} decoded from codes drawn from the prior (a standard normal, seed "
            f"{options.get('seed')}) of the model {_model_name(record)}, {decoding}. Mean realism "
            f"{_num(record.get('realism'))}; real windows score {_num(_real(record))}.")
    section = f"<section id=\"samples\"><h2>Samples</h2><div class=\"cards\">{''.join(cards)}</div></section>"
    return _page("Samples from the latent space", lede, [section], "sample.json", files, "nesinterp sample")


def _inputs_section(record: dict, files: set, heading: str) -> str:
    cards = [_card(t, files, _eager(record), None, None) for t in record["tracks"] if t.get("role") == "input"]
    return f"<section id=\"inputs\"><h2>{escape(heading)}</h2><div class=\"cards\">{''.join(cards)}</div></section>"


def grid_page(record: dict) -> str:
    """The page of ``nesinterp grid``: the four songs, then the board of cells, row by row."""
    files, size = set(record.get("files", [])), record.get("options", {}).get("size", 2)
    names = " \u00b7 ".join(f"{k.upper()} {v.get('name')}" for k, v in record.get("inputs", {}).items())
    by_name = {c["name"]: c for c in record.get("cells", [])}
    cards = []
    for t in (t for t in record["tracks"] if t.get("role") == "cell"):
        cell = by_name.get(t["name"], {})
        d = cell.get("distance_to_corners", {})
        note = "d " + " \u00b7 ".join(f"{k.upper()} {_num(v, 2)}" for k, v in d.items())
        weights = np.asarray(cell.get("weights", [1, 0, 0, 0]))[:, None]
        r, g, b = (weights * PALETTE[:4]).sum(axis=0).round().astype(int)  # the corners' colours, mixed alike
        card = _card({**t, "colour": f"rgb({r},{g},{b})"}, files, _eager(record), cell, note, _real(record))
        corner = {(0, 0): "a", (0, size - 1): "b", (size - 1, 0): "c", (size - 1, size - 1): "d"}.get(
            (cell.get("row"), cell.get("col")))
        if corner:
            card = card.replace("class=\"card\"", "class=\"card corner\"", 1)
        cards.append(card)
    lede = (f"The bilinear blend of four songs through the model {_model_name(record)}: A top left, B top right, "
            f"C bottom left, D bottom right, {size} x {size} cells. Each cell: its distance to the four corners' "
            f"decodings (listener distance, 0 = the same) and its realism (real windows "
            f"{_num(_real(record))}; the inner cells' mean {_num(record.get('realism'))}).")
    board = (f"<section id=\"board\"><h2>The board</h2><div class=\"board\" style=\"grid-template-columns:"
             f"repeat({int(size)},minmax(0,1fr))\">{''.join(cards)}</div></section>")
    return _page(names or "Four-song grid", lede, [board, _inputs_section(record, files, "The four songs")],
                 "grid.json", files, "nesinterp grid")


def shift_page(record: dict) -> str:
    """The page of ``nesinterp shift``: the sweep's measured attribute beside each amount, then the cards."""
    files, attribute = set(record.get("files", [])), str(record.get("attribute"))
    steps = record.get("steps", [])
    song = next(iter(record.get("inputs", {}).values()), {}).get("name", "the song")
    rows = "".join(f"<tr><td>{s['amount']:+.2f}</td><td>{_num(s.get('attributes', {}).get(attribute))}</td>"
                   f"<td>{_num(s.get('realism'))}</td><td><a href=\"#step-{k}\">listen</a></td></tr>"
                   for k, s in enumerate(steps))
    original = _num(record.get("original_attributes", {}).get(attribute))
    table = (f"<table class=\"sweep\"><tr><th>amount</th><th>{escape(attribute)}</th><th>realism</th><th></th></tr>"
             f"{rows}</table><p class=\"note\">The song itself: {escape(attribute)} {original}; real windows' "
             f"realism {_num(_real(record))}.</p>")
    by_name = {s["name"]: s for s in steps}
    cards = [_card(t, files, _eager(record), by_name.get(t["name"]),
                   f"amount {t.get('amount', 0):+.2f} \u00b7 {escape(attribute)} "
                   f"{_num(by_name.get(t['name'], {}).get('attributes', {}).get(attribute))}", _real(record))
             for t in record["tracks"] if t.get("role") == "step"]
    lede = (f"{song} moved along the model's {attribute} direction ({_model_name(record)}), "
            f"{len(steps)} amounts from {steps[0]['amount']:+g} to {steps[-1]['amount']:+g}." if steps else "")
    sweep = (f"<section id=\"sweep\"><h2>The sweep</h2>{table}<div class=\"cards\">{''.join(cards)}</div></section>")
    return _page(f"{song}: {attribute}", lede, [sweep, _inputs_section(record, files, "The song")],
                 "shift.json", files, "nesinterp shift")
