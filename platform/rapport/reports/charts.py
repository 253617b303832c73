"""Report and dashboard charts drawn on the server as one inline ``<svg>`` each.

``render(Chart(...))`` returns markup with no script, no event attribute, no style and no
external reference, so it passes a strict Content-Security-Policy. Every text is escaped,
colours other than ``#rrggbb`` fall back to the palette and only same-site paths become
links. Each drawn value is a *mark*: a ``<g class="mark">`` (or an ``<a class="mark">``
when it drills down) carrying ``data-series`` and ``data-category`` indexes and a
``<title>`` tooltip "Category · Series: value". Hover styles belong to the page's CSS
(``.chart .mark:hover``).
"""

from __future__ import annotations

import math
import re
import secrets
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

CHART_TYPES = ("bar", "stacked_bar", "line", "pie", "donut", "funnel", "kpi")

#: Ordered so that neighbours differ in hue and lightness; starts with the app's accent.
PALETTE = ("#3056d3", "#14a38b", "#eaa221", "#8a5cd6", "#e05780", "#4f9e3a",
           "#2f9ed8", "#d9702b", "#6b778c", "#b84fa6", "#a3a322", "#8c5a3c")
TEXT, MUTED, GRID, AXIS = "#475467", "#667085", "#e4e7ec", "#98a2b3"
UP, DOWN = "#067647", "#d92d20"

_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")
_UNITS = {"en": ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")),
          "zh": ((1e12, "万亿"), (1e8, "亿"), (1e4, "万"))}
_WORDS = {"en": {"chart": "Chart", "total": "Total", "more": "+{} more", "vs": "vs {}"},
          "zh": {"chart": "图表", "total": "合计", "more": "另 {} 项", "vs": "对比 {}"}}
_SIN, _COS = math.sin(math.radians(35)), math.cos(math.radians(35))


@dataclass(frozen=True)
class Series:
    key: str                          # machine key: an aggregate or a second grouping's value
    label: str                        # legend and tooltips
    values: Sequence[float | None]    # one per category; None (or NaN) draws nothing
    color: str | None = None          # "#rrggbb", else the palette


@dataclass(frozen=True)
class Chart:
    type: str                                      # one of CHART_TYPES (else "bar")
    categories: Sequence[str]                      # x-axis ticks, slices, funnel steps
    series: Sequence[Series]
    title: str = ""                                # the accessible name
    category_colors: Sequence[str | None] = ()     # single-series bar, pie, donut, funnel
    links: Sequence[Sequence[str | None]] = ()     # [series][category] same-site drill-downs
    fmt: Callable[[float], str] | None = None      # labels and tooltips; default compact()
    axis_fmt: Callable[[float], str] | None = None  # value-axis ticks; default compact()
    kpi_caption: str = ""                          # KPI: the line under the figure
    empty_text: str = "No data"
    locale: str = "en"                             # "en" or "zh-CN"


def compact(value: float, locale: str = "en") -> str:
    """Short number for axes and KPI tiles: en 950, 1.2K, 3.4M, 1.1B; zh-CN 950, 1.2万, 3.4亿;
    negatives keep their sign; no trailing '.0'."""
    v = _num(value)
    if v is None:
        return "–"
    a = abs(v)
    for size, suffix in _UNITS[_lang(locale)]:
        if round(a / size, 1) >= 1:
            text = _trim(a / size, 1 if a / size < 100 else 0) + suffix
            break
    else:
        text = _trim(a, 0 if a >= 100 else 1 if a >= 10 else 2)
    return "-" + text if v < 0 and text != "0" else text


def render(chart: Chart, width: int = 640, height: int = 300) -> str:
    """The chart as one inline <svg> element (a str of markup, safe to embed with |safe in a
    Jinja template)."""
    d = _Data(chart, _size(width, 640), _size(height, 300))
    return _DRAW[d.type](d)


# -- plumbing -----------------------------------------------------------------------------

def _lang(locale: object) -> str:
    return "zh" if str(locale).lower().startswith("zh") else "en"


def _size(value: Any, default: int) -> int:
    try:
        return max(120, min(4000, int(value)))
    except (TypeError, ValueError, OverflowError):
        return default


def _num(value: Any) -> float | None:
    if value is None or isinstance(value, str):
        return None
    try:
        f = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return f if math.isfinite(f) else None


def _list(items: Any) -> list[Any]:
    """A sequence given to the chart as a list; anything else as an empty list."""
    if items is None or isinstance(items, str | bytes):
        return []
    try:
        return list(items)
    except TypeError:
        return []


def _trim(x: float, places: int) -> str:
    s = f"{x:.{places}f}"
    return s.rstrip("0").rstrip(".") if "." in s else s


def _n(x: float) -> str:
    """A coordinate: one decimal at most."""
    s = _trim(x, 1)
    return "0" if s == "-0" else s


def _clean(text: object) -> str:
    """Text on one line, without characters XML cannot carry."""
    return " ".join(_NOT_XML.sub("", "" if text is None else str(text)).split())


def _esc(text: object) -> str:
    return escape(_clean(text), quote=True)


def _color(value: object) -> str | None:
    return value if isinstance(value, str) and _COLOR.match(value) else None


def _tw(text: str, size: float) -> float:
    """Estimated width of text: East Asian wide characters 1 em, others 0.6 em."""
    return sum(size if unicodedata.east_asian_width(c) in "WF" else size * 0.6 for c in text)


def _fit(text: str, max_w: float, size: float) -> str:
    """The text, cut with an ellipsis to fit max_w."""
    if _tw(text, size) <= max_w:
        return text
    out, used = "", size * 0.6
    for c in text:
        used += _tw(c, size)
        if used > max_w:
            break
        out += c
    return out.rstrip() + "…"


def _ink(fill: str) -> str:
    """White or dark text, whichever reads on the fill."""
    r, g, b = (int(fill[i:i + 2], 16) for i in (1, 3, 5))
    return "#1d2939" if 0.299 * r + 0.587 * g + 0.114 * b > 170 else "#ffffff"


def _text(x: float, y: float, text: str, *, anchor: str = "middle", size: float | None = None,
          fill: str | None = None, weight: str = "", full: str = "", extra: str = "") -> str:
    attrs = f' x="{_n(x)}" y="{_n(y)}" dy=".35em"'
    if anchor != "start":
        attrs += f' text-anchor="{anchor}"'
    if size:
        attrs += f' font-size="{_n(size)}"'
    if fill:
        attrs += f' fill="{fill}"'
    if weight:
        attrs += f' font-weight="{weight}"'
    tip = f"<title>{_esc(full)}</title>" if full and full != text else ""
    return f"<text{attrs}{extra}>{tip}{_esc(text)}</text>"


class _Data:
    """A chart with its input made safe: values padded to the categories, NaN as None."""

    def __init__(self, chart: Chart, w: int, h: int) -> None:
        self.chart, self.w, self.h = chart, w, h
        self.type = chart.type if chart.type in CHART_TYPES else "bar"
        self.small = w < 420
        self.fs = 10 if self.small else 11
        self.lang = _lang(chart.locale)
        self.words = _WORDS[self.lang]
        self.uid = "chart-" + secrets.token_hex(4)
        self.labels = [_clean(c) for c in _list(chart.categories)]
        self.series = [s for s in _list(chart.series) if isinstance(s, Series)]
        n = len(self.labels)
        rows = [[_num(v) for v in _list(s.values)[:n]] for s in self.series]
        self.values = [row + [None] * (n - len(row)) for row in rows]
        self.fmt = chart.fmt or (lambda v: compact(v, chart.locale))
        self.afmt = chart.axis_fmt or (lambda v: compact(v, chart.locale))

    @property
    def n(self) -> int:
        return len(self.labels)

    def color(self, si: int) -> str:
        return _color(self.series[si].color) or PALETTE[si % len(PALETTE)]

    def cat_color(self, ci: int, fallback: str) -> str:
        colors = _list(self.chart.category_colors)
        return (_color(colors[ci]) if ci < len(colors) else None) or fallback

    def href(self, si: int, ci: int) -> str | None:
        try:
            row = self.chart.links[si]
            raw = None if isinstance(row, str) else row[ci]
        except (IndexError, TypeError, KeyError):
            return None
        if not isinstance(raw, str) or not raw.startswith("/") or raw.startswith("//"):
            return None
        if any(c == "\\" or c.isspace() or ord(c) < 32 or ord(c) == 127 for c in raw):
            return None
        return raw

    def tip(self, si: int, ci: int, value: float, extra: str = "") -> str:
        label = _clean(self.series[si].label)
        head = f"{self.labels[ci]} · {label}" if label else self.labels[ci]
        return f"{head}: {self.fmt(value)}{extra}"

    def mark(self, si: int, ci: int, tip: str, shapes: str) -> str:
        attrs = f'class="mark" data-series="{si}" data-category="{ci}"'
        body = f"<title>{_esc(tip)}</title>{shapes}"
        href = self.href(si, ci)
        if href:
            return f'<a href="{_esc(href)}" {attrs}>{body}</a>'
        return f"<g {attrs}>{body}</g>"

    def desc(self) -> str:
        items = []
        for si, row in enumerate(self.values):
            for ci, v in enumerate(row):
                if v is not None:
                    items.append(self.tip(si, ci, v) if len(self.values) > 1 else
                                 f"{self.labels[ci]}: {self.fmt(v)}")
        return "; ".join(items[:40]) + ("; …" if len(items) > 40 else "")

    def svg(self, body: str, desc: str | None = None, h: int | None = None) -> str:
        t, uid = self.chart.title or self.words["chart"], self.uid
        return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {self.w} {h or self.h}" '
                f'width="100%" preserveAspectRatio="xMidYMid meet" class="chart chart-{self.type}" '
                f'role="img" aria-labelledby="{uid}-t" aria-describedby="{uid}-d" '
                f'font-family="inherit" font-size="{self.fs}" fill="{TEXT}">'
                f'<title id="{uid}-t">{_esc(t)}</title>'
                f'<desc id="{uid}-d">{_esc(self.desc() if desc is None else desc)}</desc>'
                f"{body}</svg>")

    def empty(self) -> str:
        h = min(self.h, 120)
        body = _text(self.w / 2, h / 2, _clean(self.chart.empty_text), fill=MUTED,
                     size=self.fs + 2)
        return self.svg(body, _clean(self.chart.empty_text), h)


# -- shared axes and legend ---------------------------------------------------------------

def _ticks(lo: float, hi: float, count: int, whole: bool) -> list[float]:
    """Nice ticks (1, 2, 2.5 or 5 × 10^n apart) covering lo..hi."""
    if hi - lo <= 0:
        hi = lo + 1
    raw = (hi - lo) / count
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw * (1 - 1e-9))
    if whole:
        step = max(step, 1)
    start = math.floor(lo / step + 1e-9) * step
    steps = max(1, round((math.ceil(hi / step - 1e-9) * step - start) / step))
    return [round(start + i * step, 10) + 0.0 for i in range(steps + 1)]


def _step(needed: float) -> int:
    """Show every n-th category label: n the first of 1, 2, 3, 4, 6, 12, 24… not below needed
    (months then fall on quarters and years)."""
    return next((n for n in (1, 2, 3, 4, 6, 12, 24) if n >= needed), math.ceil(needed / 12) * 12)


def _legend(d: _Data, items: list[tuple[str, str]], y: float) -> tuple[str, float]:
    """Swatches and labels in rows across the top; the height they take."""
    if not items:
        return "", 0
    fs, row_h, x0, max_w = d.fs, d.fs + 9, 8.0, d.w - 16
    max_rows, out, x, row = (2 if d.small else 3), [], x0, 0
    for i, (label, color) in enumerate(items):
        text = _clean(label)
        short = _fit(text, 90 if d.small else 150, fs)
        iw = 14 + _tw(short, fs) + 14
        if x > x0 and x + iw > x0 + max_w - (50 if row == max_rows - 1 else 0):
            row, x = row + 1, x0
            if row == max_rows:
                out.append(_text(x0 + max_w, y + (row - 1) * row_h + row_h / 2,
                                 d.words["more"].format(len(items) - i), anchor="end", fill=MUTED))
                break
        cy = y + row * row_h + row_h / 2
        out.append(f'<rect x="{_n(x)}" y="{_n(cy - 5)}" width="10" height="10" rx="2" '
                   f'fill="{color}"/>' + _text(x + 14, cy, short, anchor="start", full=text))
        x += iw
    rows = min(row + 1, max_rows)
    return f'<g class="legend">{"".join(out)}</g>', rows * row_h + 4


@dataclass
class _Frame:
    """A category axis along the bottom, a value axis on the left."""
    left: float
    top: float
    bottom: float
    band: float
    lo: float
    hi: float
    svg: str

    def x(self, ci: int) -> float:
        return self.left + self.band * (ci + 0.5)

    def y(self, v: float) -> float:
        return self.bottom - (v - self.lo) / (self.hi - self.lo) * (self.bottom - self.top)


def _frame(d: _Data, lo: float, hi: float, legend: list[tuple[str, str]], labels: bool,
           whole: bool) -> _Frame:
    fs, w, h = d.fs, d.w, d.h
    legend_svg, legend_h = _legend(d, legend, 6)
    top = 8 + legend_h + (fs + 6 if labels else 4)
    ticks = _ticks(lo, hi, max(3, min(6, h // 60)), whole)
    lo, hi = ticks[0], ticks[-1]
    tick_text = [_fit(_clean(d.afmt(t)), w * 0.25, fs) for t in ticks]
    left = max(28.0, max(_tw(t, fs) for t in tick_text) + 14)
    right = 12.0
    # Category labels: level if they fit, else rotated; thinned out so none overlap.
    full = d.labels
    widths = [_tw(t, fs) for t in full]
    rot_w = max(40.0, min(110.0, (h * 0.32 - fs - 8) / _SIN))
    band = (w - left - right) / d.n
    step_rot = _step(fs * 2 / band)
    step_lvl = _step((max(widths) + 8) / band)
    # Level and cut when only a few labels are too long for wide bands.
    cut = band - 8 >= 56 and sum(x > band - 8 for x in widths) <= max(1, d.n // 5)
    rotate = step_lvl > step_rot and not cut
    step = step_rot if rotate else 1 if cut else step_lvl
    shown = list(range(0, d.n, step))
    room = rot_w if rotate else band * step - 8
    texts = {ci: _fit(full[ci], room, fs) for ci in shown}
    first, last = _tw(texts[shown[0]], fs), _tw(texts[shown[-1]], fs)
    if rotate:
        left = max(left, first * _COS + fs * 0.5 - band / 2 + 4)
        axis_h = max(_tw(t, fs) for t in texts.values()) * _SIN + fs * _COS + 10
    else:
        left = max(left, first / 2 - band / 2 + 4)
        right = max(right, last / 2 - (w - right - left - band * (shown[-1] + 0.5)) + 4)
        axis_h = fs + 12
    band = (w - left - right) / d.n
    pad = fs + 6 if labels and lo < 0 else 0
    bottom = h - axis_h - pad
    f = _Frame(left, top, bottom, band, lo, hi, "")
    out = [legend_svg, '<g class="grid">']
    for t, text in zip(ticks, tick_text, strict=True):
        y = f.y(t)
        stroke = AXIS if t == 0 else GRID
        out.append(f'<line x1="{_n(left)}" x2="{_n(w - right)}" y1="{_n(y)}" y2="{_n(y)}" '
                   f'stroke="{stroke}" stroke-width="1"/>' + _text(left - 8, y, text, anchor="end"))
    out.append('</g><g class="axis">')
    for ci in shown:
        x, y = f.x(ci), bottom + pad + fs * 0.7 + 4
        if rotate:
            rot = f' transform="rotate(-35 {_n(x)} {_n(y)})"'
            out.append(_text(x, y, texts[ci], anchor="end", full=full[ci], extra=rot))
        else:
            out.append(_text(x, y + 2, texts[ci], full=full[ci]))
    out.append("</g>")
    f.svg = "".join(out)
    return f


def _bar_path(x: float, base: float, w: float, tip: float, r: float) -> str:
    """A bar from base to tip, its tip corners rounded by r."""
    d = 1 if tip > base else -1
    r = max(0.0, min(r, w / 2, abs(tip - base)))
    return (f'M{_n(x)} {_n(base)}V{_n(tip - d * r)}Q{_n(x)} {_n(tip)} {_n(x + r)} {_n(tip)}'
            f'H{_n(x + w - r)}Q{_n(x + w)} {_n(tip)} {_n(x + w)} {_n(tip - d * r)}'
            f'V{_n(base)}Z')


def _value_labels(d: _Data, ends: list[tuple[float, float, float]], room: float) -> str:
    """Value labels over (or under, when negative) bar ends (x, y, value): in the full format
    if every one fits in room, else in the compact one, else none."""
    for fmt in (d.fmt, lambda v: compact(v, d.chart.locale)):
        shown = [_clean(fmt(v)) for _, _, v in ends]
        if all(_tw(text, d.fs) <= room for text in shown):
            return "".join(_text(x, y - (d.fs / 2 + 4 if v >= 0 else -d.fs / 2 - 4), text,
                                 extra=' class="value"')
                           for (x, y, v), text in zip(ends, shown, strict=True))
    return ""


def _present(d: _Data) -> list[float]:
    return [v for row in d.values for v in row if v is not None]


def _whole(values: list[float]) -> bool:
    return all(float(v).is_integer() for v in values)


# -- chart types --------------------------------------------------------------------------

def _bar(d: _Data) -> str:
    present = _present(d)
    if not d.n or not present:
        return d.empty()
    ns, labels = len(d.values), not d.small and d.n <= 12
    legend = [(s.label, d.color(i)) for i, s in enumerate(d.series)] if ns > 1 else []
    f = _frame(d, min(0, *present), max(0, *present), legend, labels, _whole(present))
    group = min(f.band * (0.62 if ns == 1 else 0.78), (64 if ns == 1 else 40 * ns))
    bw = group / ns
    gap = min(2.0, bw * 0.15) if ns > 1 else 0
    marks, ends = [], []
    for si, row in enumerate(d.values):
        for ci, v in enumerate(row):
            if v is None:
                continue
            fill = d.color(si) if ns > 1 else d.cat_color(ci, d.color(si))
            x, base, tip = f.x(ci) - group / 2 + si * bw + gap / 2, f.y(0), f.y(v)
            if v and abs(tip - base) < 1:
                tip = base + (1 if v < 0 else -1)
            shape = f'<path d="{_bar_path(x, base, bw - gap, tip, 3)}" fill="{fill}"/>'
            marks.append(d.mark(si, ci, d.tip(si, ci, v), shape))
            ends.append((x + (bw - gap) / 2, tip, v))
    texts = _value_labels(d, ends, f.band - 4 if ns == 1 else bw + gap) if labels else ""
    return d.svg(f.svg + f'<g class="marks">{"".join(marks)}</g>' + texts)


def _stacked_bar(d: _Data) -> str:
    present = _present(d)
    if not d.n or not present:
        return d.empty()
    pos, neg = [0.0] * d.n, [0.0] * d.n
    ends: dict[tuple[int, int], tuple[float, float]] = {}
    outer: dict[tuple[int, bool], int] = {}
    for si, row in enumerate(d.values):
        for ci, v in enumerate(row):
            if v is None:
                continue
            stack = pos if v >= 0 else neg
            ends[si, ci] = (stack[ci], stack[ci] + v)
            stack[ci] += v
            if v:
                outer[ci, v > 0] = si
    labels = not d.small and d.n <= 12
    legend = [(s.label, d.color(i)) for i, s in enumerate(d.series)]
    f = _frame(d, min(0, *neg), max(0, *pos), legend, labels, _whole(present))
    bw = min(f.band * 0.62, 64)
    marks, totals = [], []
    for (si, ci), (a, b) in ends.items():
        x, base, tip = f.x(ci) - bw / 2, f.y(a), f.y(b)
        if b != a and abs(tip - base) < 1:
            tip = base + (1 if b < a else -1)
        r = 3 if outer.get((ci, b > a)) == si else 0
        shape = (f'<path d="{_bar_path(x, base, bw, tip, r)}" fill="{d.color(si)}" '
                 f'stroke="#ffffff" stroke-width=".75"/>')
        marks.append(d.mark(si, ci, d.tip(si, ci, d.values[si][ci] or 0.0), shape))
    if labels:
        for ci in range(d.n):
            values = [row[ci] for row in d.values if row[ci] is not None]
            if values:
                total = sum(values)
                end = pos[ci] if total >= 0 else neg[ci]
                totals.append((f.x(ci), f.y(end), total))
    texts = _value_labels(d, totals, f.band - 4)
    return d.svg(f.svg + f'<g class="marks">{"".join(marks)}</g>' + texts)


def _line(d: _Data) -> str:
    present = _present(d)
    if not d.n or not present:
        return d.empty()
    ns = len(d.values)
    legend = [(s.label, d.color(i)) for i, s in enumerate(d.series)] if ns > 1 else []
    f = _frame(d, min(0, *present), max(0, *present), legend, False, _whole(present))
    dot = (' r="3.5" stroke="#ffffff" stroke-width="1.5"' if f.band >= 14 else
           ' r="2"' if f.band >= 6 else ' r="1.5"')
    lines, marks = [], []
    for si, row in enumerate(d.values):
        color, runs = d.color(si), [[]]
        for ci, v in enumerate(row):
            if v is None:
                runs.append([])
                continue
            runs[-1].append((f.x(ci), f.y(v)))
            point = f'<circle cx="{_n(f.x(ci))}" cy="{_n(f.y(v))}" fill="{color}"{dot}/>'
            marks.append(d.mark(si, ci, d.tip(si, ci, v), point))
        for points in filter(None, runs):
            pts = " ".join(f"{_n(x)},{_n(y)}" for x, y in points)
            if ns == 1 and len(points) > 1:
                base = f.y(max(f.lo, 0))
                area = f"{_n(points[0][0])},{_n(base)} {pts} {_n(points[-1][0])},{_n(base)}"
                lines.append(f'<polygon points="{area}" fill="{color}" fill-opacity=".08"/>')
            lines.append(f'<polyline points="{pts}" fill="none" stroke="{color}" '
                         f'stroke-width="2" stroke-linejoin="round" stroke-linecap="round"/>')
    return d.svg(f.svg + f'<g class="lines">{"".join(lines)}</g>'
                 f'<g class="marks">{"".join(marks)}</g>')


def _sector(cx: float, cy: float, r0: float, r1: float, a0: float, a1: float) -> str:
    """A slice drawn as two half arcs, so a full circle (a0 to a0 + 2π) still draws."""
    def p(r: float, a: float) -> str:
        return f"{_n(cx + r * math.cos(a))} {_n(cy + r * math.sin(a))}"
    am = (a0 + a1) / 2
    outer = f"A{_n(r1)} {_n(r1)} 0 0 1 {p(r1, am)}A{_n(r1)} {_n(r1)} 0 0 1 {p(r1, a1)}"
    if r0 <= 0:
        return f"M{_n(cx)} {_n(cy)}L{p(r1, a0)}{outer}Z"
    inner = f"A{_n(r0)} {_n(r0)} 0 0 0 {p(r0, am)}A{_n(r0)} {_n(r0)} 0 0 0 {p(r0, a0)}"
    return f"M{p(r1, a0)}{outer}L{p(r0, a1)}{inner}Z"


def _pct(part: float, total: float) -> str:
    share = part / total * 100
    return "<1%" if 0 < share < 1 else f"{share:.0f}%"


def _pie(d: _Data, donut: bool = False) -> str:
    row = d.values[0] if d.values else []
    slices = [(ci, v) for ci, v in enumerate(row) if v is not None and v > 0]
    total = sum(v for _, v in slices)
    if not slices or total <= 0:
        return d.empty()
    fs, w, h = d.fs, d.w, d.h
    legend_w = min(w * 0.46, 280.0)
    r1 = max(20.0, min((h - 20) / 2, (w - legend_w - 40) / 2))
    r0 = r1 * 0.6 if donut else 0
    cx, cy = 12 + r1, h / 2
    colors = {ci: d.cat_color(ci, PALETTE[ci % len(PALETTE)]) for ci, _ in slices}
    marks, texts, a = [], [], -math.pi / 2
    edge = ' stroke="#ffffff" stroke-width="1.5" stroke-linejoin="round"' if len(slices) > 1 else ""
    for ci, v in slices:
        sweep = v / total * 2 * math.pi
        path = f'<path d="{_sector(cx, cy, r0, r1, a, a + sweep)}" fill="{colors[ci]}"{edge}/>'
        marks.append(d.mark(0, ci, d.tip(0, ci, v, f" ({_pct(v, total)})"), path))
        if v / total >= 0.05:
            mid, rl = a + sweep / 2, (r0 + r1) / 2 if donut else r1 * 0.64
            rl = 0 if len(slices) == 1 and not donut else rl
            texts.append(_text(cx + rl * math.cos(mid), cy + rl * math.sin(mid), _pct(v, total),
                               fill=_ink(colors[ci]), weight="600"))
        a += sweep
    if donut:
        caption = _fit(_clean(d.series[0].label) or d.words["total"], r0 * 1.6, fs)
        big = min(r0 * 0.42, 28.0)
        texts.append(_text(cx, cy - fs * 0.55, compact(total, d.chart.locale), size=big,
                           weight="600", fill="#1d2939"))
        texts.append(_text(cx, cy + big * 0.5 + 2, caption, fill=MUTED, size=fs - 1))
    # Legend: label, value and share of each slice.
    lx, row_h = cx + r1 + 24, fs * 2
    lw = w - lx - 8
    rows = slices if len(slices) * row_h <= h - 16 else slices[: max(1, int((h - 16) // row_h) - 1)]
    y = cy - (len(rows) + (len(rows) < len(slices))) * row_h / 2 + row_h / 2
    pct_w = _tw("100%", fs) + 8
    legend = []
    for ci, v in rows:
        value = _clean(d.fmt(v))
        if _tw(value, fs) > lw * 0.4:
            value = compact(v, d.chart.locale)
        label_w = lw - 16 - pct_w - _tw(value, fs) - 10
        legend.append(f'<rect x="{_n(lx)}" y="{_n(y - 5)}" width="10" height="10" rx="2" '
                      f'fill="{colors[ci]}"/>'
                      + _text(lx + 16, y, _fit(d.labels[ci], label_w, fs), anchor="start",
                              full=d.labels[ci])
                      + _text(lx + lw - pct_w, y, value, anchor="end", fill="#1d2939")
                      + _text(lx + lw, y, _pct(v, total), anchor="end", fill=MUTED))
        y += row_h
    if len(rows) < len(slices):
        legend.append(_text(lx + 16, y, d.words["more"].format(len(slices) - len(rows)),
                            anchor="start", fill=MUTED))
    return d.svg(f'<g class="marks">{"".join(marks)}</g>{"".join(texts)}'
                 f'<g class="legend">{"".join(legend)}</g>')


def _funnel(d: _Data) -> str:
    row = d.values[0] if d.values else []
    top_value = max((v for v in row if v is not None), default=0)
    if not d.n or top_value <= 0:
        return d.empty()
    fs, w, h = d.fs, d.w, d.h
    label_w = min(max(_tw(t, fs) for t in d.labels) + 12, w * 0.3)
    x0, x1 = label_w + 8, w - 8
    centre, span = (x0 + x1) / 2, x1 - x0
    slot = (h - 12) / d.n
    bar_h = min(40.0, slot * 0.66)
    gap = slot - bar_h
    room_between = gap >= fs + 3
    marks, texts, prev = [], [], None
    for ci, v in enumerate(row):
        y = 6 + ci * slot + gap / 2
        texts.append(_text(label_w, y + bar_h / 2, _fit(d.labels[ci], label_w - 8, fs),
                           anchor="end", full=d.labels[ci]))
        if v is None:
            prev = None
            continue
        bw = max(6.0, span * 0.04, span * max(v, 0) / top_value)
        fill = d.cat_color(ci, d.color(0))
        step = None
        if prev is not None and prev[1] > 0:
            step = "↓ " + _pct(v, prev[1])
            if room_between:
                pw, py = prev[0], y - gap
                texts.append(f'<polygon points="{_n(centre - pw / 2)},{_n(py)} '
                             f'{_n(centre + pw / 2)},{_n(py)} {_n(centre + bw / 2)},{_n(y)} '
                             f'{_n(centre - bw / 2)},{_n(y)}" fill="#eef1f6"/>')
                texts.append(_text(centre, y - gap / 2, step, fill=MUTED, size=fs - 1,
                                   extra=' class="conversion"'))
        value = _clean(d.fmt(v)) + ("" if room_between or step is None else f"  {step}")
        rect = (f'<rect x="{_n(centre - bw / 2)}" y="{_n(y)}" width="{_n(bw)}" '
                f'height="{_n(bar_h)}" rx="3" fill="{fill}"/>')
        if _tw(value, fs) <= bw - 10:
            rect += _text(centre, y + bar_h / 2, value, fill=_ink(fill), weight="600")
        else:
            rect += _text(centre + bw / 2 + 6, y + bar_h / 2, value, anchor="start",
                          fill="#1d2939")
        marks.append(d.mark(0, ci, d.tip(0, ci, v, f" ({step})" if step else ""), rect))
        prev = (bw, v)
    return d.svg(f'{"".join(texts)}<g class="marks">{"".join(marks)}</g>')


def _kpi(d: _Data) -> str:
    row = [_num(v) for v in _list(d.series[0].values)[:2]] if d.series else []
    if not row or row[0] is None:
        return d.empty()
    fs, w, h = d.fs, d.w, d.h
    value = row[0]
    figure = _clean(d.fmt(value))
    big = max(14.0, min(h * 0.22, 56.0, (w - 48) / max(_tw(figure, 1), 0.6)))
    heading = d.labels[0] if d.labels else ""
    caption = _clean(d.chart.kpi_caption)
    before = row[1] if len(row) > 1 else None
    lines: list[tuple[str, float]] = []   # (kind, height)
    if heading:
        lines.append(("heading", (fs + 2) * 1.9))
    lines.append(("figure", big * 1.15))
    if before:
        lines.append(("change", (fs + 1) * 1.9))
    if caption:
        lines.append(("caption", fs * 1.9))
    y = (h - sum(size for _, size in lines)) / 2
    out, desc = [], [f"{heading}: {figure}" if heading else figure]
    for kind, size in lines:
        mid = y + size / 2
        if kind == "heading":
            out.append(_text(w / 2, mid, _fit(heading, w - 24, fs + 2), size=fs + 2, fill=MUTED,
                             weight="600", full=heading))
        elif kind == "figure":
            text = _text(w / 2, mid, figure, size=big, weight="600", fill="#101828")
            tip = f"{heading}: {figure}" if heading else figure
            out.append(d.mark(0, 0, tip, text))
        elif kind == "change" and before:
            change = (value - before) / abs(before) * 100
            arrow, color = ("▲", UP) if change > 0 else ("▼", DOWN) if change < 0 else ("±", MUTED)
            pct = _trim(abs(change), 1 if abs(change) < 10 else 0)
            against = d.words["vs"].format(_clean(d.fmt(before)))
            out.append(f'<text x="{_n(w / 2)}" y="{_n(mid)}" dy=".35em" text-anchor="middle" '
                       f'font-size="{fs + 1}" class="change"><tspan fill="{color}" '
                       f'font-weight="600">{arrow} {pct}%</tspan><tspan fill="{MUTED}"> '
                       f"{_esc(against)}</tspan></text>")
            desc.append(f"{arrow} {pct}% {against}")
        elif kind == "caption":
            out.append(_text(w / 2, mid, _fit(caption, w - 24, fs), fill=MUTED, full=caption))
            desc.append(caption)
        y += size
    return d.svg("".join(out), "; ".join(desc))


_DRAW: dict[str, Callable[[_Data], str]] = {
    "bar": _bar, "stacked_bar": _stacked_bar, "line": _line, "pie": _pie,
    "donut": lambda d: _pie(d, donut=True), "funnel": _funnel, "kpi": _kpi,
}
