"""Charts as inline SVG, written by hand: no plotting library, no script, no font or file to fetch.

A report must open on an air-gapped operator's laptop (GuideLLM's downloads its template at run
time and fails there), and the measuring tools run on load hosts with a bare python3: so the
charts are plain SVG elements in the page. Every data element carries ``class="mark"`` and each
chart ``data-marks="N"``: a test (or a person with the browser's inspector) sees what was drawn.

Kinds: ``Chart.dots`` (scatter), ``Chart.line`` (points joined), ``Chart.cdf`` (a distribution as
its cumulative curve), ``Chart.bars`` (grouped bars over categories); ``Chart.mark_x`` draws a
labelled vertical marker (the recommended concurrency).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from html import escape

from llmobs.stats import finite_number

PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")
MAX_DOTS = 4000  # per series: beyond it every k-th point (the distribution is in the CDF)


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values (1, 2, 2.5 or 5 times a power of ten) covering [low, high]."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return [0.0, 1.0]
    if high <= low:
        high = low + (abs(low) or 1.0)
    raw = (high - low) / max(count, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    start = math.floor(low / step) * step
    ticks = []
    value = start
    while value < high + step * 0.999 and len(ticks) < 50:
        ticks.append(round(value, 10))
        value += step
    return ticks


def _label(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 10000:
        return f"{value / 1000:g}k"
    return f"{value:g}" if abs(value) >= 0.01 else f"{value:.1e}"


@dataclass
class Series:
    name: str
    kind: str  # dots, line, bars
    points: list[tuple[float, float]]
    color: str


@dataclass
class Chart:
    title: str
    x_label: str
    y_label: str
    width: int = 640
    height: int = 300
    categories: list[str] = field(default_factory=list)  # bars: the x categories
    series: list[Series] = field(default_factory=list)
    markers: list[tuple[float, str]] = field(default_factory=list)
    y_from_zero: bool = True

    def _add(self, name: str, kind: str, points: list[tuple[float, float]]) -> Chart:
        clean = [(float(x), float(y)) for x, y in points if finite_number(x) and finite_number(y)]
        self.series.append(Series(name, kind, clean, PALETTE[len(self.series) % len(PALETTE)]))
        return self

    def dots(self, name: str, points: list[tuple[float, float]]) -> Chart:
        if len(points) > MAX_DOTS:
            step = math.ceil(len(points) / MAX_DOTS)
            points = points[::step]
        return self._add(name, "dots", points)

    def line(self, name: str, points: list[tuple[float, float]]) -> Chart:
        return self._add(name, "line", sorted(points))

    def cdf(self, name: str, values: list[float]) -> Chart:
        data = sorted(v for v in values if finite_number(v))
        if len(data) > MAX_DOTS:
            step = math.ceil(len(data) / MAX_DOTS)
            data = [*data[::step], data[-1]]
        n = len(data)
        return self._add(name, "line", [(v, (i + 1) / n) for i, v in enumerate(data)])

    def bars(self, name: str, values: list[float | None]) -> Chart:
        return self._add(name, "bars", [(i, v) for i, v in enumerate(values) if v is not None])

    def mark_x(self, x: float, label: str) -> Chart:
        self.markers.append((x, label))
        return self

    @property
    def marks(self) -> int:
        return sum(len(s.points) if s.kind != "line" else (1 if s.points else 0) for s in self.series)

    def svg(self) -> str:
        left, right, top, bottom = 64, 16, 34, 62
        w, h = self.width - left - right, self.height - top - bottom
        points = [p for s in self.series for p in s.points]
        out = [
            f'<svg class="chart" data-marks="{self.marks}" xmlns="http://www.w3.org/2000/svg" '
            f'viewBox="0 0 {self.width} {self.height}" width="{self.width}" height="{self.height}" '
            f'role="img" aria-label="{escape(self.title)}">',
            f'<text x="{left}" y="20" class="title">{escape(self.title)}</text>',
        ]
        if not points:
            out.append(
                f'<text x="{left + w / 2}" y="{top + h / 2}" text-anchor="middle" class="empty">'
                "no data</text>"
            )
            out.append("</svg>")
            return "".join(out)
        bars = bool(self.categories)
        if bars:
            x_low, x_high = -0.5, len(self.categories) - 0.5
        else:
            xs = [x for x, _ in points] + [x for x, _ in self.markers]
            x_ticks = nice_ticks(min(xs), max(xs))
            x_low, x_high = x_ticks[0], x_ticks[-1]
        ys = [y for _, y in points]
        y_ticks = nice_ticks(0.0 if self.y_from_zero else min(ys), max(ys))
        y_low, y_high = y_ticks[0], y_ticks[-1]

        def px(x: float) -> float:
            return left + (x - x_low) / ((x_high - x_low) or 1) * w

        def py(y: float) -> float:
            return top + h - (y - y_low) / ((y_high - y_low) or 1) * h

        for tick in y_ticks:
            out.append(
                f'<line x1="{left}" x2="{left + w}" y1="{py(tick):.1f}" y2="{py(tick):.1f}" class="grid"/>'
            )
            out.append(f'<text x="{left - 6}" y="{py(tick) + 4:.1f}" text-anchor="end">{_label(tick)}</text>')
        if bars:
            for i, name in enumerate(self.categories):
                out.append(
                    f'<text x="{px(i):.1f}" y="{top + h + 16}" text-anchor="middle">'
                    f"{escape(name[:24])}</text>"
                )
        else:
            for tick in x_ticks:
                out.append(
                    f'<text x="{px(tick):.1f}" y="{top + h + 16}" text-anchor="middle">{_label(tick)}</text>'
                )
        out.append(f'<line x1="{left}" x2="{left + w}" y1="{top + h}" y2="{top + h}" class="axis"/>')
        out.append(f'<line x1="{left}" x2="{left}" y1="{top}" y2="{top + h}" class="axis"/>')
        out.append(
            f'<text x="{left + w / 2}" y="{self.height - 30}" text-anchor="middle">'
            f"{escape(self.x_label)}</text>"
        )
        out.append(
            f'<text transform="translate(14 {top + h / 2}) rotate(-90)" text-anchor="middle">'
            f"{escape(self.y_label)}</text>"
        )
        bar_series = [s for s in self.series if s.kind == "bars"]
        slot = 0.8 / max(len(bar_series), 1)
        for s in self.series:
            title = escape(s.name)
            if s.kind == "dots":
                out += [
                    f'<circle class="mark" cx="{px(x):.1f}" cy="{py(y):.1f}" r="2" fill="{s.color}" '
                    f'fill-opacity="0.6"><title>{title}: {y:g}</title></circle>'
                    for x, y in s.points
                ]
            elif s.kind == "line" and s.points:
                path = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in s.points)
                out.append(
                    f'<polyline class="mark" points="{path}" fill="none" stroke="{s.color}" stroke-width="2">'
                    f"<title>{title}</title></polyline>"
                )
                if len(s.points) <= 40:
                    out += [
                        f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3" fill="{s.color}"/>'
                        for x, y in s.points
                    ]
            elif s.kind == "bars":
                k = bar_series.index(s)
                for x, y in s.points:
                    x0 = px(x - 0.4 + k * slot)
                    width = px(x - 0.4 + (k + 1) * slot) - x0 - 2
                    out.append(
                        f'<rect class="mark" x="{x0:.1f}" y="{py(y):.1f}" width="{max(width, 1):.1f}" '
                        f'height="{max(py(y_low) - py(y), 0.5):.1f}" fill="{s.color}">'
                        f"<title>{title}: {y:g}</title></rect>"
                    )
        for x, label in self.markers:
            out.append(
                f'<line x1="{px(x):.1f}" x2="{px(x):.1f}" y1="{top}" y2="{top + h}" class="marker"/>'
                f'<text x="{px(x) + 4:.1f}" y="{top + 12}" class="marker-label">{escape(label)}</text>'
            )
        legend_x = left
        for s in self.series:
            out.append(
                f'<rect x="{legend_x}" y="{self.height - 16}" width="10" height="10" fill="{s.color}"/>'
                f'<text x="{legend_x + 14}" y="{self.height - 7}">{escape(s.name[:40])}</text>'
            )
            legend_x += 24 + 7 * min(len(s.name), 40)
        out.append("</svg>")
        return "".join(out)


STYLE = """
svg.chart { background: #fff; border: 1px solid #ddd; margin: 6px 6px 12px 0; font: 11px sans-serif; }
svg.chart .title { font-weight: bold; font-size: 13px; }
svg.chart .grid { stroke: #eee; } svg.chart .axis { stroke: #555; }
svg.chart .marker { stroke: #c00; stroke-dasharray: 4 3; } svg.chart .marker-label { fill: #c00; }
svg.chart .empty { fill: #999; font-size: 14px; }
"""
