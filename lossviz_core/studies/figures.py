"""Drawing a study's figure: its panels on one colour scale, carrying the study and every
panel's recipe.

The figure is the engine's compare grid (:func:`lossviz_core.export.build_grid`): 2-D maps
or 3-D surfaces in rows × columns with one shared colour scale and one colour bar, or 1-D
lines (a single interpolation is drawn as the report's Figure 9: loss left, accuracy right,
train solid, test dotted). Its metadata (PNG text chunk ``lossviz-specs``, PDF subject,
SVG description; :func:`lossviz_core.figures.figure_metadata`) is one JSON object::

    {"study":  {"name", "file", "profile", "text"},          # the whole study file
     "figure": {"name", "key", "rows", "cols", "mode", "options",
                "colour_scale": {"quantity", "vmin", "vmax", "colorbars"}},
     "panels": [{"result", "key", "file", "panel", "recipe", ...}, ...]}

so :func:`read_figure_specs` gives a reader the study to rerun and each panel's recipe.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lossviz_core.errors import InputError
from lossviz_core.results.result import SurfaceResult


def draw_study_figure(study: Any, unit: Any, results: Sequence[SurfaceResult],
                      names: Sequence[str], keys: Sequence[str],
                      files: Sequence[Path]) -> list[Path]:
    """Draw figure ``unit`` of ``study`` from its panels' ``results`` into ``files``."""
    from lossviz_core.export.figure import FigureOptions, figure_specs, save_exact

    fig_entry = study.figures[unit.name]
    options = FigureOptions(**fig_entry.options)
    titles = list(fig_entry.titles) if fig_entry.titles else None
    if titles is None and len(results) == 1:
        titles = list(names)  # nothing to tell apart: the result's name says what it is
    written = []
    for path in files:
        fig, scale = _build(fig_entry, results, options, titles)
        panel_titles = titles or _titles(results)
        panels = [{**figure_specs(r, options), "result": n, "key": k, "panel": t,
                   "file": r.path, "mode": fig_entry.mode}
                  for r, n, k, t in zip(results, names, keys, panel_titles, strict=True)]
        colorbars = sum(1 for ax in fig.axes if getattr(ax, "_colorbar", None) is not None)
        specs = {
            "study": {"name": study.name, "file": study.path, "profile": study.profile,
                      "text": study.text},
            "figure": {"name": unit.name, "key": unit.key, "rows": fig_entry.rows,
                       "cols": fig_entry.cols, "mode": fig_entry.mode,
                       "options": options.to_dict(),
                       "colour_scale": {**scale, "colorbars": colorbars}},
            "panels": panels,
        }
        written.append(save_exact(fig, path, options, specs))
    return written


def read_figure_specs(path: str | Path) -> Any:
    """The JSON a LossViz figure carries (PNG, PDF or SVG), None when it carries none."""
    from lossviz_core.figures import read_png_specs

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".png":
        return read_png_specs(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read figure {path}: {exc.strerror or exc}") from None
    if suffix == ".pdf":
        text = _pdf_string(data, b"/Subject")
    elif suffix == ".svg":
        m = re.search(rb"<dc:description>(.*?)</dc:description>", data, re.S)
        text = _xml_unescape(m.group(1).decode("utf-8")) if m else None
    else:
        raise InputError(f"{path} is not a figure (.png, .pdf or .svg)")
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def _build(entry: Any, results: Sequence[SurfaceResult], o: Any,
           titles: list[str] | None) -> tuple[Any, dict[str, Any]]:
    """The figure and the one colour scale its panels share (what the metadata records)."""
    from lossviz_core.export.figure import build_figure, panel_quantity, scale_for
    from lossviz_core.export.grid import build_grid
    from lossviz_core.figures import shown_values

    if entry.mode == "lines" and len(results) == 1 and o.quantity is None:
        fig = build_figure(results[0], o)  # loss and accuracy, train and test, as Figure 9
        return fig, {"quantity": None, "vmin": None, "vmax": None}
    fig = build_grid(results, o, entry.rows, entry.cols, titles, entry.mode)
    if entry.mode == "lines":
        return fig, {"quantity": panel_quantity(results[0], o.quantity), "vmin": o.vmin,
                     "vmax": o.vmax}
    q = panel_quantity(results[0], o.quantity)
    if entry.mode == "difference":
        return fig, {"quantity": q, "vmin": None, "vmax": None, "difference": True}
    scale = scale_for([shown_values(r.values[q], q, o.log) for r in results], q, o)
    lo, hi = (None, None) if scale is None else (float(scale.norm.vmin), float(scale.norm.vmax))
    return fig, {"quantity": q, "vmin": lo, "vmax": hi, "log": bool(o.log)}


def _titles(results: Sequence[SurfaceResult]) -> list[str]:
    from lossviz_core.export.titles import distinguishing_titles

    return distinguishing_titles(results)


def _pdf_string(data: bytes, key: bytes) -> str | None:
    """A literal string of the PDF's info dictionary (as matplotlib writes it)."""
    start = data.rfind(key + b" (")
    if start < 0:
        return None
    i, depth, out = start + len(key) + 2, 1, bytearray()
    escapes = {ord("n"): b"\n", ord("r"): b"\r", ord("t"): b"\t", ord("b"): b"\b",
               ord("f"): b"\f"}
    while i < len(data):
        c = data[i]
        if c == 0x5C:  # backslash
            nxt = data[i + 1]
            if nxt in escapes:
                out += escapes[nxt]
                i += 2
            elif 0x30 <= nxt <= 0x37:
                m = re.match(rb"[0-7]{1,3}", data[i + 1 : i + 4])
                out.append(int(m.group(0), 8) & 0xFF)
                i += 1 + len(m.group(0))
            else:
                out.append(nxt)
                i += 2
            continue
        if c == 0x28:
            depth += 1
        elif c == 0x29:
            depth -= 1
            if depth == 0:
                break
        out.append(c)
        i += 1
    return out.decode("latin-1")


def _xml_unescape(text: str) -> str:
    for a, b in (("&lt;", "<"), ("&gt;", ">"), ("&quot;", '"'), ("&apos;", "'"), ("&amp;", "&")):
        text = text.replace(a, b)
    return text
