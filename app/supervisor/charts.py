"""Server-rendered inline SVG charts: no script, no style attributes (strict CSP).

Colours and fonts come from classes in static/css/supervisor.css; sizes and
positions are SVG presentation attributes. Every chart scales to its box
through its viewBox. The numbers behind each chart are rendered as a table
next to it by the template (a <details> one tap away).
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

W, H = 640, 240
PAD_L, PAD_R, PAD_T, PAD_B = 40, 10, 16, 34


def _fmt(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1
    for step in (
        1,
        2,
        5,
        10,
        20,
        25,
        50,
        100,
        200,
        250,
        500,
        1000,
        2000,
        5000,
        10000,
        20000,
        50000,
        100000,
        200000,
        500000,
        1000000,
    ):
        if value <= step * 4:
            return step * 4 if value > step * 2 else step * 2 if value > step else step
    return value


def _open(label: str, width: int, height: int, cls: str) -> list[str]:
    return [
        f'<svg class="chart {cls}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(label)}" preserveAspectRatio="xMidYMid meet">',
        f"<title>{escape(label)}</title>",
    ]


def bar_chart(
    label: str, items: Sequence[tuple[str, float]], *, markers=(), every: int = 1, cls: str = ""
) -> Markup:
    """Vertical bars; `markers` are (bar index, text) vertical lines (e.g. median)."""
    out = _open(label, W, H, f"chart-bars {cls}".strip())
    top = _nice_max(max((v for _, v in items), default=0))
    inner_w, inner_h = W - PAD_L - PAD_R, H - PAD_T - PAD_B
    for i in range(5):
        y = PAD_T + inner_h * i / 4
        out.append(f'<line class="grid" x1="{PAD_L}" x2="{W - PAD_R}" y1="{y:.1f}" y2="{y:.1f}"/>')
        out.append(
            f'<text class="axis" x="{PAD_L - 4}" y="{y + 4:.1f}" text-anchor="end">'
            f"{_fmt(top * (4 - i) / 4)}</text>"
        )
    n = max(len(items), 1)
    slot = inner_w / n
    bar_w = max(slot * 0.72, 1)
    for i, (name, value) in enumerate(items):
        h = inner_h * (value / top) if top else 0
        x = PAD_L + slot * i + (slot - bar_w) / 2
        y = PAD_T + inner_h - h
        out.append(
            f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" '
            f'height="{h:.1f}"><title>{escape(name)}: {_fmt(value)}</title></rect>'
        )
        if i % every == 0:
            out.append(
                f'<text class="axis" x="{x + bar_w / 2:.1f}" y="{H - PAD_B + 16}" '
                f'text-anchor="middle">{escape(name)}</text>'
            )
    for index, text in markers:
        x = PAD_L + slot * index + slot / 2
        out.append(
            f'<line class="marker" x1="{x:.1f}" x2="{x:.1f}" y1="{PAD_T}" y2="{PAD_T + inner_h}"/>'
        )
        out.append(
            f'<text class="marker-label" x="{x + 3:.1f}" y="{PAD_T + 10}">{escape(text)}</text>'
        )
    out.append("</svg>")
    return Markup("".join(out))  # noqa: S704 - every text and label above is escaped


def hbar_chart(label: str, items: Sequence[tuple[str, float]], *, cls: str = "") -> Markup:
    """Horizontal bars with their labels on the left: for categories with long names."""
    row, label_w, value_w = 28, 150, 60
    height = max(len(items), 1) * row + 8
    out = _open(label, W, height, f"chart-hbars {cls}".strip())
    top = max((v for _, v in items), default=0) or 1
    inner = W - label_w - value_w
    for i, (name, value) in enumerate(items):
        y = 4 + i * row
        w = inner * value / top
        out.append(
            f'<text class="axis" x="{label_w - 6}" y="{y + 18}" text-anchor="end">'
            f"{escape(name)}</text>"
        )
        out.append(
            f'<rect class="bar" x="{label_w}" y="{y + 4}" width="{w:.1f}" '
            f'height="{row - 8}"><title>{escape(name)}: {_fmt(value)}</title></rect>'
        )
        out.append(
            f'<text class="value" x="{label_w + w + 6:.1f}" y="{y + 18}">{_fmt(value)}</text>'
        )
    out.append("</svg>")
    return Markup("".join(out))  # noqa: S704 - every text and label above is escaped


def stacked_bar(label: str, parts: list[tuple[str, float, str]]) -> Markup:
    """One bar split into parts (name, value, css class), with a legend below."""
    height = 70
    out = _open(label, W, height, "chart-stack")
    total = sum(v for _, v, _ in parts)
    x = 0.0
    for name, value, cls in parts:
        w = W * value / total if total else 0
        out.append(
            f'<rect class="part {cls}" x="{x:.1f}" y="4" width="{w:.1f}" height="32">'
            f"<title>{escape(name)}: {_fmt(value)}</title></rect>"
        )
        x += w
    lx = 0
    for name, value, cls in parts:
        pct = f" {value / total:.0%}" if total else ""
        out.append(f'<rect class="part {cls}" x="{lx}" y="48" width="14" height="14"/>')
        out.append(f'<text class="axis" x="{lx + 18}" y="60">{escape(name)}{pct}</text>')
        lx += W // max(len(parts), 1)
    out.append("</svg>")
    return Markup("".join(out))  # noqa: S704 - every text and label above is escaped


WAIT_GROUPS = [(0, 5), (5, 10), (10, 15), (15, 20), (20, 30), (30, 45), (45, 60), (60, None)]


def wait_groups(hist: dict[int, int]) -> list[tuple[str, int]]:
    out = []
    for lo, hi in WAIT_GROUPS:
        n = sum(v for k, v in hist.items() if k >= lo and (hi is None or k < hi))
        out.append((f"{lo}–{hi}" if hi is not None else f"{lo}+", n))
    return out


def wait_group_index(minutes: int | None) -> int | None:
    if minutes is None:
        return None
    for i, (lo, hi) in enumerate(WAIT_GROUPS):
        if minutes >= lo and (hi is None or minutes < hi):
            return i
    return None
