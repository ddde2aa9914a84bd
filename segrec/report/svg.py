"""Small inline-SVG charts and an HTML table, as strings: no JavaScript, no network.

Every mark carries a class naming what it is (``bar``, ``point``, ``marker``, ``cell``,
``legend-key``) so the page's CSS can style it and tests can count it. Text is escaped.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from segrec.errors import SegrecError

# Tableau's 10-colour palette: distinct hues that stay readable on white.
PALETTE: tuple[str, ...] = (
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
)
HEAT_LOW, HEAT_HIGH = (247, 251, 255), (8, 69, 148)  # white to dark blue
MISSING_FILL = "#eeeeee"
FONT_SIZE = 12
AXIS_MARGIN = 44  # room for tick labels and the axis title
CHAR_WIDTH = 7  # rough width of a 12px label character, to size columns


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def fmt(value: object, digits: int = 3) -> str:
    """A number for people: integers with thousands separators, others to ``digits``
    significant digits; missing values as an empty string."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return f"{int(value):,}"
    if isinstance(value, float | np.floating):
        if float(value).is_integer() and abs(value) < 1e15 or abs(value) >= 10**digits:
            return f"{float(value):,.0f}"
        return f"{float(value):.{digits}g}"
    if isinstance(value, pd.Timestamp):
        return value.isoformat(sep=" ")
    return str(value)


def text_width(labels: Sequence[object]) -> int:
    """Pixels the longest label needs, plus a small gap."""
    return CHAR_WIDTH * max((len(str(label)) for label in labels), default=0) + 12


def linear_scale(domain: tuple[float, float], span: tuple[float, float]) -> Callable[[float], float]:
    """Map ``domain`` linearly onto ``span`` (pixels); a zero-width domain maps to the middle."""
    (d0, d1), (s0, s1) = domain, span
    if d1 == d0:
        return lambda _: (s0 + s1) / 2
    return lambda value: s0 + (value - d0) * (s1 - s0) / (d1 - d0)


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values (steps of 1, 2 or 5 times a power of ten) covering ``[low, high]``."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return []
    if high == low:
        return [low]
    raw = (high - low) / max(count, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.ceil(low / step - 1e-9) * step
    return [round(first + i * step, 12) for i in range(int(math.floor((high - first) / step + 1e-9)) + 1)]


def padded(values: Sequence[float], share: float = 0.05) -> tuple[float, float]:
    """``(min, max)`` of the finite values widened by ``share`` of the range on both sides."""
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if not finite:
        return 0.0, 1.0
    low, high = min(finite), max(finite)
    pad = (high - low) * share or abs(high) * share or 1.0
    return low - pad, high + pad


def text(x: float, y: float, content: object, anchor: str = "start", cls: str = "label") -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" class="{cls}">{esc(content)}</text>'


def svg(width: float, height: float, title: str, body: Sequence[str], cls: str) -> str:
    """An ``<svg>`` element sized in pixels, with an accessible title."""
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart {cls}" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" role="img" aria-label="{esc(title)}">'
        f"<title>{esc(title)}</title>" + "".join(body) + "</svg>"
    )


def x_axis(scale: Callable[[float], float], ticks: Sequence[float], y: float, x0: float, x1: float,
           label: str = "") -> list[str]:
    parts = [f'<line class="axis" x1="{x0:.1f}" y1="{y:.1f}" x2="{x1:.1f}" y2="{y:.1f}"/>']
    for tick in ticks:
        at = scale(tick)
        parts.append(f'<line class="tick" x1="{at:.1f}" y1="{y:.1f}" x2="{at:.1f}" y2="{y + 4:.1f}"/>')
        parts.append(text(scale(tick), y + 16, fmt(tick), "middle", "tick-label"))
    if label:
        parts.append(text((x0 + x1) / 2, y + 34, label, "middle", "axis-title"))
    return parts


def y_axis(scale: Callable[[float], float], ticks: Sequence[float], x: float, y0: float, y1: float,
           label: str = "") -> list[str]:
    parts = [f'<line class="axis" x1="{x:.1f}" y1="{y0:.1f}" x2="{x:.1f}" y2="{y1:.1f}"/>']
    for tick in ticks:
        at = scale(tick)
        parts.append(f'<line class="tick" x1="{x - 4:.1f}" y1="{at:.1f}" x2="{x:.1f}" y2="{at:.1f}"/>')
        parts.append(text(x - 6, scale(tick) + 4, fmt(tick), "end", "tick-label"))
    if label:
        mid = (y0 + y1) / 2
        parts.append(
            f'<text class="axis-title" text-anchor="middle" transform="translate({x - 36:.1f},{mid:.1f}) rotate(-90)">'
            f"{esc(label)}</text>"
        )
    return parts


def bar_chart(
    labels: Sequence[object],
    values: Sequence[float],
    *,
    title: str,
    colors: Sequence[str] | None = None,
    errors: tuple[Sequence[float], Sequence[float]] | None = None,
    value_label: str = "",
    width: int = 720,
    bar_height: int = 18,
    label_width: int | None = None,
) -> str:
    """Horizontal bars, one per label, from zero (negative values go left); optional
    ``errors = (lows, highs)`` draw an interval whisker on each bar."""
    values = [float(v) for v in values]
    lows, highs = ([float(v) for v in e] for e in errors) if errors else (values, values)
    low, high = min([0.0, *[v for v in lows if math.isfinite(v)], *values]), max(
        [0.0, *[v for v in highs if math.isfinite(v)], *values]
    )
    high = high if high > low else low + 1.0  # all zero: still a readable axis
    gap, top, x0, x1 = 6, 8, label_width or text_width(labels), width - 60
    height = top + len(values) * (bar_height + gap) + AXIS_MARGIN
    ticks = nice_ticks(low, high)
    scale = linear_scale((min(low, ticks[0]), max(high, ticks[-1])), (x0, x1))
    body = []
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = top + i * (bar_height + gap)
        start, end = sorted((scale(0.0), scale(value)))
        fill = (colors or PALETTE)[i % len(colors or PALETTE)]
        body.append(
            f'<rect class="bar" x="{start:.1f}" y="{y:.1f}" width="{max(end - start, 0.5):.1f}" '
            f'height="{bar_height}" fill="{fill}"/>'
        )
        body.append(text(x0 - 6, y + bar_height * 0.7, label, "end"))
        whisker_end = end
        if errors and math.isfinite(lows[i]) and math.isfinite(highs[i]):
            cy, a, b = y + bar_height / 2, scale(lows[i]), scale(highs[i])
            path = f"M{a:.1f},{cy - 5:.1f}v10M{a:.1f},{cy:.1f}H{b:.1f}M{b:.1f},{cy - 5:.1f}v10"
            body.append(f'<path class="whisker" d="{path}"/>')
            whisker_end = max(end, b)
        body.append(text(whisker_end + 4, y + bar_height * 0.7, fmt(value), "start", "value"))
    axis_y = top + len(values) * (bar_height + gap)
    body += [f'<line class="zero" x1="{scale(0.0):.1f}" y1="{top:.1f}" x2="{scale(0.0):.1f}" y2="{axis_y:.1f}"/>']
    body += x_axis(scale, ticks, axis_y, x0, x1, value_label)
    return svg(width, height, title, body, "bar-chart")


def legend(groups: Sequence[str], colors: Mapping[str, str], x: float, y: float) -> list[str]:
    """A vertical colour key starting at ``(x, y)``."""
    parts = []
    for i, group in enumerate(groups):
        parts.append(f'<rect class="legend-key" x="{x:.1f}" y="{y + i * 18:.1f}" width="12" height="12" '
                     f'fill="{colors[group]}"/>')
        parts.append(text(x + 18, y + i * 18 + 10, group))
    return parts


def scatter_plot(
    x: Sequence[float],
    y: Sequence[float],
    groups: Sequence[str],
    *,
    title: str,
    colors: Mapping[str, str],
    x_label: str = "",
    y_label: str = "",
    width: int = 720,
    height: int = 460,
    radius: float = 2.5,
    legend_width: int | None = None,
) -> str:
    """One circle per point, filled with its group's colour, and a legend of ``colors``."""
    legend_width = legend_width or 30 + text_width(list(colors))
    x0, x1, y0, y1 = AXIS_MARGIN + 10, width - legend_width, 10, height - AXIS_MARGIN
    (xlo, xhi), (ylo, yhi) = padded(list(x)), padded(list(y))
    sx, sy = linear_scale((xlo, xhi), (x0, x1)), linear_scale((ylo, yhi), (y1, y0))
    body = [
        f'<circle class="point" cx="{sx(a):.1f}" cy="{sy(b):.1f}" r="{radius}" fill="{colors[g]}"/>'
        for a, b, g in zip(x, y, groups, strict=True)
    ]
    body += x_axis(sx, [t for t in nice_ticks(xlo, xhi) if xlo <= t <= xhi], y1, x0, x1, x_label)
    body += y_axis(sy, [t for t in nice_ticks(ylo, yhi) if ylo <= t <= yhi], x0, y1, y0, y_label)
    body += legend(list(colors), colors, x1 + 16, y0 + 4)
    return svg(width, height, title, body, "scatter-plot")


def line_chart(
    x: Sequence[float],
    y: Sequence[float],
    *,
    title: str,
    x_label: str = "",
    y_label: str = "",
    highlight: float | None = None,
    width: int = 520,
    height: int = 300,
) -> str:
    """A line through the points in ``x`` order with a marker on each; the point at
    ``x == highlight`` gets a larger marker (class ``chosen``)."""
    order = np.argsort(np.asarray(x, dtype=float), kind="stable")
    xs, ys = [float(x[i]) for i in order], [float(y[i]) for i in order]
    x0, x1, y0, y1 = AXIS_MARGIN + 14, width - 16, 10, height - AXIS_MARGIN
    (xlo, xhi), (ylo, yhi) = padded(xs), padded(ys, 0.1)
    sx, sy = linear_scale((xlo, xhi), (x0, x1)), linear_scale((ylo, yhi), (y1, y0))
    points = " ".join(f"{sx(a):.1f},{sy(b):.1f}" for a, b in zip(xs, ys, strict=True))
    body = [f'<polyline class="line" points="{points}"/>']
    for a, b in zip(xs, ys, strict=True):
        chosen = highlight is not None and a == highlight
        body.append(f'<circle class="marker{" chosen" if chosen else ""}" cx="{sx(a):.1f}" cy="{sy(b):.1f}" '
                    f'r="{6 if chosen else 3.5}"/>')
    integer_x = all(v.is_integer() for v in xs)
    x_ticks = sorted(set(xs)) if integer_x and len(xs) <= 20 else nice_ticks(xlo, xhi)
    body += x_axis(sx, x_ticks, y1, x0, x1, x_label)
    body += y_axis(sy, [t for t in nice_ticks(ylo, yhi) if ylo <= t <= yhi], x0, y1, y0, y_label)
    return svg(width, height, title, body, "line-chart")


def heat_color(share: float) -> str:
    """The fill for a cell at ``share`` (0..1) of the largest value."""
    share = min(max(share, 0.0), 1.0)
    r, g, b = (round(lo + (hi - lo) * share) for lo, hi in zip(HEAT_LOW, HEAT_HIGH, strict=True))
    return f"#{r:02x}{g:02x}{b:02x}"


def heatmap(
    row_labels: Sequence[object],
    col_labels: Sequence[object],
    values: np.ndarray,
    *,
    title: str,
    row_title: str = "",
    col_title: str = "",
    digits: int = 3,
    cell: int = 56,
    label_width: int | None = None,
) -> str:
    """One shaded ``rect.cell`` per (row, column) of ``values`` with its value written in it;
    missing values are grey and blank. Columns widen to fit their longest label."""
    values = np.asarray(values, dtype=float)
    if values.shape != (len(row_labels), len(col_labels)):
        raise SegrecError(f"heatmap: values {values.shape} for {len(row_labels)} x {len(col_labels)} labels")
    peak = np.nanmax(np.abs(values)) if np.isfinite(values).any() else 1.0
    width = max([cell, *(CHAR_WIDTH * len(str(label)) + 10 for label in col_labels)])
    left, top = max(label_width or text_width(row_labels), 40), 40  # 40: room for the row title
    body = [text(left + width * len(col_labels) / 2, 14, col_title, "middle", "axis-title")]
    body += [text(left + (j + 0.5) * width, 32, label, "middle") for j, label in enumerate(col_labels)]
    for i, row_label in enumerate(row_labels):
        y = top + i * cell
        body.append(text(left - 6, y + cell / 2 + 4, row_label, "end"))
        for j in range(len(col_labels)):
            value = values[i, j]
            share = abs(value) / peak if np.isfinite(value) and peak else 0.0
            fill = heat_color(share) if np.isfinite(value) else MISSING_FILL
            body.append(f'<rect class="cell" x="{left + j * width:.1f}" y="{y:.1f}" width="{width}" height="{cell}" '
                        f'fill="{fill}"/>')
            if np.isfinite(value):
                body.append(text(left + (j + 0.5) * width, y + cell / 2 + 4, fmt(value, digits), "middle",
                                 "cell-value dark" if share > 0.55 else "cell-value"))
    height = top + cell * len(row_labels) + 10
    if row_title:
        mid = top + cell * len(row_labels) / 2
        body.append(f'<text class="axis-title" text-anchor="middle" transform="translate(14,{mid:.1f}) rotate(-90)">'
                    f"{esc(row_title)}</text>")
    return svg(left + width * len(col_labels) + 10, height, title, body, "heatmap")


def html_table(frame: pd.DataFrame, max_rows: int = 50, digits: int = 3) -> str:
    """``frame`` as an HTML table (numbers right-aligned), at most ``max_rows`` rows."""
    head = "".join(f"<th>{esc(c)}</th>" for c in frame.columns)
    rows = []
    for record in frame.head(max_rows).itertuples(index=False):
        cells = []
        for value in record:
            numeric = isinstance(value, int | float | np.number) and not isinstance(value, bool | np.bool_)
            cells.append(f'<td{" class=num" if numeric else ""}>{esc(fmt(value, digits))}</td>')
        rows.append("<tr>" + "".join(cells) + "</tr>")
    more = f'<p class="note">{len(frame) - max_rows:,} more rows not shown.</p>' if len(frame) > max_rows else ""
    table = f'<table><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
    return f'<div class="table-wrap">{table}</div>{more}'
