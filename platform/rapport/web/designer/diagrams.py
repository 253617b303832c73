"""Server-rendered SVG diagrams of a stage workflow and an approval flow. Text goes
through markupsafe, so names from definitions cannot inject markup."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from markupsafe import Markup, escape

BOX_W, BOX_H, GAP = 150, 54, 46
CATEGORY_COLOURS = {"won": "#1f8a4c", "lost": "#b42318"}


def _text(x: float, y: float, value: Any, size: int = 13, weight: str = "600",
          fill: str = "#1d2939") -> str:
    label = str(value)
    if len(label) > 22:
        label = label[:21] + "…"
    return (f'<text x="{x:.0f}" y="{y:.0f}" font-size="{size}" font-weight="{weight}" '
            f'text-anchor="middle" fill="{fill}">{escape(label)}</text>')


def workflow_svg(data: Mapping[str, Any]) -> Markup:
    """Stages left to right (probability, category and required fields under the name);
    a forward transition an arc above, a backward one an arc below (violet when it has a
    condition or roles); a transition from ``*`` a dashed arrow into its stage."""
    stages = [s for s in data.get("stages", []) if isinstance(s, Mapping) and s.get("name")]
    if not stages:
        return Markup("")
    pos = {str(s["name"]): i for i, s in enumerate(stages)}
    width = len(stages) * (BOX_W + GAP) + GAP
    arcs: list[tuple[bool, float, float, int, str]] = []   # forward, x1, x2, level, colour
    from_any: set[int] = set()
    levels = {True: 0, False: 0}
    for t in (t for t in data.get("transitions", []) if isinstance(t, Mapping)):
        to = pos.get(str(t.get("to")))
        if to is None:
            continue
        if t.get("from") == "*":
            from_any.add(to)
            continue
        fr = pos.get(str(t.get("from")))
        if fr is None or fr == to:
            continue
        forward = to > fr
        levels[forward] += 1
        colour = "#7a5af8" if t.get("roles") or t.get("when") else "#667085"
        arcs.append((forward, _centre(fr), _centre(to), levels[forward], colour))
    lift = lambda level, span: 14 + 10 * level + 4 * span  # noqa: E731
    up = max([lift(lv, abs(x2 - x1) / (BOX_W + GAP)) for f, x1, x2, lv, _c in arcs if f] or [0])
    down = max([lift(lv, abs(x2 - x1) / (BOX_W + GAP)) for f, x1, x2, lv, _c in arcs
                if not f] or [0])
    top = 30 + up * 0.8
    parts: list[str] = []
    for forward, x1, x2, level, colour in arcs:
        span = abs(x2 - x1) / (BOX_W + GAP)
        y = top if forward else top + BOX_H
        cy = y - lift(level, span) if forward else y + lift(level, span)
        parts.append(f'<path d="M{x1 + 6:.0f},{y:.0f} C{x1 + 6:.0f},{cy:.0f} {x2 - 6:.0f},'
                     f'{cy:.0f} {x2 - 6:.0f},{y:.0f}" fill="none" stroke="{colour}" '
                     f'stroke-width="1.5" marker-end="url(#arrow)"/>')
    for i in sorted(from_any):
        x = _centre(i) + BOX_W / 2 - 18
        parts.append(f'<path d="M{x:.0f},{top - 26:.0f} L{x:.0f},{top - 2:.0f}" stroke="#b54708" '
                     'stroke-width="1.5" stroke-dasharray="4 3" marker-end="url(#arrow)"/>')
        parts.append(_text(x, top - 30, "* →", 11, "600", "#b54708"))
    for i, s in enumerate(stages):
        x = GAP + i * (BOX_W + GAP)
        colour = CATEGORY_COLOURS.get(str(s.get("category") or ""), "#2e6bd1")
        parts.append(f'<rect x="{x}" y="{top:.0f}" width="{BOX_W}" height="{BOX_H}" rx="8" '
                     f'fill="#fff" stroke="{colour}" stroke-width="2"/>')
        parts.append(_text(x + BOX_W / 2, top + 23, s["name"]))
        sub = []
        if s.get("probability") is not None:
            sub.append(f"{s['probability']}%")
        if s.get("category"):
            sub.append(str(s["category"]))
        if s.get("required"):
            sub.append("*" + ",".join(map(str, s["required"])))
        if sub:
            parts.append(_text(x + BOX_W / 2, top + 41, " · ".join(sub), 11, "400", "#475467"))
    height = top + BOX_H + down * 0.8 + 20
    return _svg(width, height, parts)


def _centre(i: int) -> float:
    return GAP + i * (BOX_W + GAP) + BOX_W / 2


def _svg(width: float, height: float, parts: list[str]) -> Markup:
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" class="designer-diagram" role="img" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" preserveAspectRatio="xMinYMin meet">'
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
        'fill="#667085"/></marker></defs>' + "".join(parts) + "</svg>")


def approval_svg(data: Mapping[str, Any]) -> Markup:
    """Entry condition, then each step (approvers, mode, its condition), then the outcome."""
    steps = [s for s in data.get("steps", []) if isinstance(s, Mapping)]
    boxes: list[tuple[str, str, str]] = [("submit", str(data.get("when") or "always"), "#667085")]
    for s in steps:
        approvers = s.get("approvers") or {}
        who = ", ".join(f"{k}: {v}" for k, v in approvers.items()) if isinstance(approvers, Mapping) \
            else str(approvers)
        mode = str(s.get("mode") or "any")
        if s.get("quorum"):
            mode += f" {s['quorum']}"
        boxes.append((str(s.get("name") or "step"), f"{who} · {mode}", "#2e6bd1"))
    boxes.append(("approved", ", ".join((data.get("on_approve") or {}).get("set", {}) or {}) or "",
                  "#1f8a4c"))
    width = len(boxes) * (BOX_W + GAP) + GAP
    top = 30
    parts = []
    for i, (title, sub, colour) in enumerate(boxes):
        x = GAP + i * (BOX_W + GAP)
        parts.append(f'<rect x="{x}" y="{top}" width="{BOX_W}" height="{BOX_H}" rx="8" '
                     f'fill="#fff" stroke="{colour}" stroke-width="2"/>')
        parts.append(_text(x + BOX_W / 2, top + 23, title))
        if sub:
            parts.append(_text(x + BOX_W / 2, top + 41, sub, 11, "400", "#475467"))
        if i:
            parts.append(f'<path d="M{x - GAP + 2},{top + BOX_H / 2} L{x - 4},{top + BOX_H / 2}" '
                         'stroke="#667085" stroke-width="1.5" marker-end="url(#arrow)"/>')
        if 0 < i < len(boxes) - 1:
            parts.append(f'<path d="M{x + BOX_W / 2},{top + BOX_H} L{x + BOX_W / 2},{top + BOX_H + 28}" '
                         'stroke="#b42318" stroke-width="1.5" stroke-dasharray="4 3" '
                         'marker-end="url(#arrow)"/>')
            parts.append(_text(x + BOX_W / 2, top + BOX_H + 44, "rejected", 11, "400", "#b42318"))
    height = top + BOX_H + 60
    return _svg(width, height, parts)
