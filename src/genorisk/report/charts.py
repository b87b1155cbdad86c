"""SVG charts of the reports: geometry computed here from numbers, drawn by ``templates/_svg.html.j2``.

Every text of a chart passes through Jinja's autoescaping in the template;
the attribute markup built here holds numbers and `SVG_STYLES` constants only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import markupsafe
import numpy as np
import numpy.typing as npt

from genorisk.report.wording import format_percent

# Chart styles as SVG presentation attributes rather than CSS: WeasyPrint's SVG
# renderer ignores the page stylesheet, browsers and printers all honour these.
_INK, _MUTED, _PATIENT, _BAD, _MODEL = "#1d2430", "#5b6573", "#b8452f", "#9b1c1c", "#3b5b8c"
SVG_STYLES: dict[str, dict[str, str]] = {
    "tick": {"font-size": "11", "fill": _MUTED},
    "axis-label": {"font-size": "12", "fill": _MUTED},
    "row-label": {"font-size": "12.5", "fill": _INK},
    "row-value": {"font-size": "12", "fill": _MUTED},
    "legend": {"font-size": "11.5", "fill": _INK},
    "grid": {"stroke": "#e3e7ec", "stroke-width": "1"},
    "axis": {"stroke": "#7d8794", "stroke-width": "1"},
    "diagonal": {"stroke": "#a9b1bc", "stroke-width": "1", "stroke-dasharray": "4 4"},
    "chance": {"stroke": "#a9b1bc", "stroke-width": "1.5", "stroke-dasharray": "4 4", "fill": "none"},
    "bar-cohort": {"fill": "#b9c6d8"},
    "band-patient": {"fill": _PATIENT, "fill-opacity": "0.14"},
    "mark-patient": {"stroke": _PATIENT, "stroke-width": "2.5"},
    "label-patient": {"font-size": "13", "font-weight": "bold", "fill": _PATIENT},
    "mark-average": {"stroke": _INK, "stroke-width": "1.5", "stroke-dasharray": "5 3"},
    "label-average": {"font-size": "12", "fill": _INK},
    "mark-ref": {"stroke": _BAD, "stroke-width": "1.5", "stroke-dasharray": "5 3"},
    "label-ref": {"font-size": "11.5", "fill": _BAD},
    "bar-raise": {"fill": _PATIENT},
    "bar-lower": {"fill": "#2f6db8"},
    "bar-model": {"fill": _MODEL},
    "bar-neutral": {"fill": "#8a96a6"},
    "bar-bad": {"fill": _BAD},
    "whisker": {"stroke": _INK, "stroke-width": "1.5"},
    "dir-raise": {"font-size": "12", "font-weight": "bold", "fill": _PATIENT},
    "dir-lower": {"font-size": "12", "font-weight": "bold", "fill": "#2f6db8"},
    "legend-bg": {"fill": "#ffffff", "fill-opacity": "0.9", "stroke": "#d5dae1"},
    "s0": {"stroke": _MODEL, "stroke-width": "2", "fill": "none"},
    "s1": {"stroke": "#c07a1a", "stroke-width": "2", "stroke-dasharray": "6 3", "fill": "none"},
    "s2": {"stroke": "#4d8a5f", "stroke-width": "2", "stroke-dasharray": "2 3", "fill": "none"},
    "s3": {"stroke": "#8b5a9e", "stroke-width": "2", "stroke-dasharray": "8 3 2 3", "fill": "none"},
    "s0-pt": {"fill": _MODEL},
    "density-1": {"fill": _MODEL, "fill-opacity": "0.15"},
    "density-2": {"fill": _MODEL, "fill-opacity": "0.3"},
    "density-3": {"fill": _MODEL, "fill-opacity": "0.5"},
    "density-4": {"fill": _MODEL, "fill-opacity": "0.75"},
    "pt-reference": {"fill": "#c07a1a", "fill-opacity": "0.6"},
    "pt-patient": {"fill": _PATIENT, "stroke": "#ffffff", "stroke-width": "1"},
}
# Pre-rendered attribute strings: constants of this module, never data.
_SVG_ATTRS = {
    cls: markupsafe.Markup("".join(f' {k}="{v}"' for k, v in attrs.items())) for cls, attrs in SVG_STYLES.items()
}


@dataclass
class Chart:
    """A small SVG scene, drawn by ``templates/_svg.html.j2``.

    Each item is ``{"kind", "attrs", "text", "tip"}``: ``attrs`` is markup
    built here from numbers and `SVG_STYLES` constants only; ``text`` and
    ``tip`` (tooltip) are plain strings that the template escapes.
    """

    width: int
    height: int
    title: str
    items: list[dict] = field(default_factory=list)

    def _add(self, kind: str, cls: str, geometry: str, text: str | None = None, tip: str | None = None) -> None:
        attrs = markupsafe.Markup(f'{geometry} class="{cls}"') + _SVG_ATTRS[cls]
        self.items.append({"kind": kind, "attrs": attrs, "text": text, "tip": tip})

    def rect(self, x, y, w, h, cls, tip=None):
        self._add("rect", cls, f' x="{x:.1f}" y="{y:.1f}" width="{max(w, 0):.1f}" height="{max(h, 0):.1f}"', tip=tip)

    def line(self, x1, y1, x2, y2, cls):
        self._add("line", cls, f' x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}"')

    def polyline(self, xs, ys, cls):
        points = " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys, strict=False))
        self._add("polyline", cls, f' points="{points}"')

    def circle(self, x, y, r, cls, tip=None):
        self._add("circle", cls, f' cx="{x:.1f}" cy="{y:.1f}" r="{r:.1f}"', tip=tip)

    def text(self, x, y, text, cls, anchor="start", rotate=False, tip=None):
        turn = f' transform="rotate(-90 {x:.1f} {y:.1f})"' if rotate else ""
        self._add("text", cls, f' x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"{turn}', text=text, tip=tip)


def nice_ticks(lo: float, hi: float, target: int = 5) -> np.ndarray:
    """Round tick positions from ``lo`` (rounded down) to at least ``hi``, about ``target`` intervals.

    Steps are 1, 2, 2.5 or 5 x 10^k, so the last tick can serve as the axis end.
    """
    span = hi - lo
    if span <= 0:
        return np.array([lo])
    raw = span / target
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw * (1 - 1e-9))
    start = math.floor(lo / step + 1e-9) * step
    stop = math.ceil(hi / step - 1e-9) * step
    return np.round(np.arange(start, stop + step / 2, step), 12)


def _truncate(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "\u2026"


class _Axes:
    """Linear mapping from data to pixels for a plot area."""

    def __init__(self, chart: Chart, left, top, right, bottom, xr, yr):
        self.c, self.l, self.t, self.r, self.b = chart, left, top, right, bottom
        self.xr, self.yr = xr, yr

    def x(self, v):
        return self.l + (v - self.xr[0]) / (self.xr[1] - self.xr[0]) * (self.r - self.l)

    def y(self, v):
        return self.b - (v - self.yr[0]) / (self.yr[1] - self.yr[0]) * (self.b - self.t)

    def frame(self, xticks, yticks, xfmt, yfmt, xlabel, ylabel, grid=True):
        c = self.c
        for v in yticks:
            if grid:
                c.line(self.l, self.y(v), self.r, self.y(v), "grid")
            c.text(self.l - 6, self.y(v) + 4, yfmt(v), "tick", "end")
        for v in xticks:
            c.line(self.x(v), self.b, self.x(v), self.b + 4, "axis")
            c.text(self.x(v), self.b + 17, xfmt(v), "tick", "middle")
        c.line(self.l, self.b, self.r, self.b, "axis")
        c.line(self.l, self.t, self.l, self.b, "axis")
        c.text((self.l + self.r) / 2, self.b + 36, xlabel, "axis-label", "middle")
        if ylabel:
            c.text(14, (self.t + self.b) / 2, ylabel, "axis-label", "middle", rotate=True)


def percent_tick(v: float) -> str:
    """Axis tick of a fraction as a percent, 3 significant digits: ``0.125 -> '12.5%'``."""
    return f"{100 * v:.3g}%"


def risk_histogram(quantiles: npt.ArrayLike, edges: npt.ArrayLike) -> np.ndarray:
    """Share of the cohort in each bin ``[edges[i], edges[i+1])``, from its 101 risk quantiles.

    Parameters
    ----------
    quantiles : array_like of float, length 101
        Calibrated risk at the 0th, 1st, ..., 100th percentile (non-decreasing).
    edges : array_like of float
        Increasing bin edges.

    Returns
    -------
    ndarray, shape (len(edges) - 1,)
        Fractions (not percent). The cohort CDF is the linear interpolation of
        (quantile, percentile), i.e. risk is taken as uniform between adjacent
        quantiles; tied quantiles (a point mass) get a 1e-12 ramp so the
        interpolation is defined. Mass outside the edges is not counted.
    """
    q = np.asarray(quantiles, dtype=float)
    if q.shape != (101,):
        raise ValueError(f"expected 101 quantiles, got shape {q.shape}")
    q = q + np.arange(101) * 1e-12
    cdf = np.interp(np.asarray(edges, dtype=float), q, np.linspace(0.0, 1.0, 101), left=0.0, right=1.0)
    return np.diff(cdf)


def distribution_chart(
    quantiles: Sequence[float],
    probability: float,
    interval: Sequence[float],
    prevalence: float | None,
    n_bins: int = 40,
) -> Chart:
    """Histogram of cohort risk (`risk_histogram`) with the patient, interval and prevalence marked."""
    top_value = max(quantiles[-1], interval[1], prevalence or 0.0, 1e-3)
    ticks = nice_ticks(0.0, top_value)
    x_max = float(ticks[-1])
    edges = np.linspace(0.0, x_max, n_bins + 1)
    mass = risk_histogram(quantiles, edges)
    y_ticks = nice_ticks(0.0, max(float(mass.max()), 1e-3) * 1.1, 4)
    c = Chart(720, 296, "Distribution of calibrated risk in the reference cohort")
    ax = _Axes(c, 64, 44, 700, 250, (0.0, x_max), (0.0, float(y_ticks[-1])))
    ax.frame(ticks, y_ticks, percent_tick, lambda v: f"{100 * v:.3g}%", "Calibrated risk", "Share of cohort")
    bw = ax.x(edges[1]) - ax.x(edges[0])
    for i, m in enumerate(mass):
        c.rect(
            ax.x(edges[i]) + 0.5,
            ax.y(m),
            bw - 1,
            ax.y(0) - ax.y(m),
            "bar-cohort",
            tip=f"{format_percent(edges[i])}\u2013{format_percent(edges[i + 1])}: {format_percent(m)} of cohort",
        )
    c.rect(
        ax.x(interval[0]),
        ax.t,
        max(ax.x(interval[1]) - ax.x(interval[0]), 2),
        ax.b - ax.t,
        "band-patient",
        tip=f"Uncertainty interval {format_percent(interval[0])}\u2013{format_percent(interval[1])}",
    )
    px = ax.x(probability)
    c.line(px, ax.t, px, ax.b, "mark-patient")
    # A legend row above the plot names the lines; labels beside the lines
    # would collide with each other or the bars when the values are close.
    c.line(ax.l, 20, ax.l + 22, 20, "mark-patient")
    c.text(
        ax.l + 28,
        24,
        f"This patient: {format_percent(probability)} (likely range "
        f"{format_percent(interval[0])}\u2013{format_percent(interval[1])})",
        "label-patient",
    )
    if prevalence is not None:
        vx = ax.x(prevalence)
        c.line(vx, ax.t, vx, ax.b, "mark-average")
        c.line(ax.l + 400, 20, ax.l + 422, 20, "mark-average")
        c.text(ax.l + 428, 24, f"Population average: {format_percent(prevalence)}", "label-average")
    return c


def drivers_chart(drivers: Sequence[Mapping], max_rows: int = 10) -> Chart:
    """Diverging horizontal bars of the largest contributions (log-odds), largest first.

    Each row is labelled with the driver's plain-language label on the left and
    the odds factor ``exp(contribution)`` on the right.
    """
    rows = sorted(drivers, key=lambda d: -abs(d["contribution"]))[:max_rows]
    row_h, top = 26, 34
    height = top + row_h * len(rows) + 50
    c = Chart(720, height, "Largest influences on this patient's estimate")
    left, right = 290, 610
    ticks = nice_ticks(0.0, max((abs(d["contribution"]) for d in rows), default=1.0) or 1.0, 2)
    lim = float(ticks[-1])
    ax = _Axes(c, left, top, right, top + row_h * len(rows), (-lim, lim), (0, 1))
    mid = ax.x(0.0)
    c.text(mid - 8, top - 12, "\u2190 lowers risk", "dir-lower", "end")
    c.text(mid + 8, top - 12, "raises risk \u2192", "dir-raise", "start")
    for v in sorted({-t for t in ticks} | set(ticks)):
        c.line(ax.x(v), ax.t, ax.x(v), ax.b, "grid")
        c.text(ax.x(v), ax.b + 16, f"{v:+.2g}" if v else "0", "tick", "middle")
    for i, d in enumerate(rows):
        y = top + i * row_h
        v = d["contribution"]
        x0, x1 = sorted((mid, ax.x(v)))
        cls = "bar-raise" if v > 0 else "bar-lower"
        c.rect(
            x0,
            y + 5,
            max(x1 - x0, 1.5),
            row_h - 10,
            cls,
            tip=f"{d['label']} ({d['group']}): {d['direction']}, log-odds {v:+.3f}",
        )
        c.text(left - 10, y + row_h / 2 + 4, _truncate(d["label"], 40), "row-label", "end", tip=d["label"])
        c.text(right + 12, y + row_h / 2 + 4, f"odds \u00d7{math.exp(v):.2f}", "row-value", "start")
    c.line(mid, ax.t, mid, ax.b, "axis")
    c.text(mid, ax.b + 36, "Contribution to the log-odds of the estimate", "axis-label", "middle")
    return c


def hbar_chart(
    rows: Sequence[Mapping],
    title: str,
    x_label: str,
    x_max: float,
    value_fmt,
    refs: Sequence[tuple[float, str]] = (),
    whiskers: bool = False,
) -> Chart:
    """Horizontal bars; rows are ``{"label", "value", "cls", "lo"?, "hi"?, "value_text"?}``.

    ``refs`` are labelled vertical reference lines (threshold, chance, ceiling);
    their labels are stacked one row apart above the bars so they never overlap.
    """
    row_h = 26
    top = 16 + 15 * len(refs)
    c = Chart(720, top + row_h * len(rows) + 48, title)
    ax = _Axes(c, 240, top, 560, top + row_h * len(rows), (0.0, x_max), (0, 1))
    for v in nice_ticks(0.0, x_max, 5):
        c.line(ax.x(v), ax.t, ax.x(v), ax.b, "grid")
        c.text(ax.x(v), ax.b + 16, value_fmt(v), "tick", "middle")
    for i, r in enumerate(rows):
        y = top + i * row_h
        c.rect(
            ax.l,
            y + 5,
            ax.x(r["value"]) - ax.l,
            row_h - 10,
            r.get("cls", "bar-neutral"),
            tip=f"{r['label']}: {r.get('value_text', value_fmt(r['value']))}",
        )
        if whiskers and r.get("lo") is not None:
            ym = y + row_h / 2
            c.line(ax.x(r["lo"]), ym, ax.x(r["hi"]), ym, "whisker")
            c.line(ax.x(r["lo"]), ym - 5, ax.x(r["lo"]), ym + 5, "whisker")
            c.line(ax.x(r["hi"]), ym - 5, ax.x(r["hi"]), ym + 5, "whisker")
        c.text(ax.l - 10, y + row_h / 2 + 4, _truncate(r["label"], 34), "row-label", "end", tip=r["label"])
        c.text(ax.r + 10, y + row_h / 2 + 4, r.get("value_text", value_fmt(r["value"])), "row-value", "start")
    c.line(ax.l, ax.t, ax.l, ax.b, "axis")
    for j, (x, label) in enumerate(sorted(refs, key=lambda ref: ref[0])):
        ty = ax.t - 6 - 15 * j
        c.line(ax.x(x), ty + 2, ax.x(x), ax.b, "mark-ref")
        anchor = "end" if ax.x(x) > (ax.l + ax.r) / 2 else "start"
        c.text(ax.x(x) + (-5 if anchor == "end" else 5), ty + 4, label, "label-ref", anchor)
    c.text((ax.l + ax.r) / 2, ax.b + 36, x_label, "axis-label", "middle")
    return c


def wrap_text(text: str, width: int) -> list[str]:
    """``text`` broken at spaces into lines of at most ``width`` characters (a longer word stays whole)."""
    lines: list[str] = []
    line = ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return lines + [line] if line else lines or [""]


def curve_chart(
    series: Sequence[Mapping],
    title: str,
    x_label: str,
    y_label: str,
    limit: float = 1.0,
    *,
    diagonal: bool = True,
) -> Chart:
    """Square line chart over [0, limit]^2, with the diagonal unless ``diagonal`` is False.

    Series are ``{"name", "x", "y", "cls", "points"?, "tips"?}`` (``cls``
    ``"chance"`` for a dashed reference line). The legend sits below the plot
    with every name in full, wrapped over as many lines as it needs (the
    chart grows to fit).
    """
    wrapped = [wrap_text(s["name"], 58) for s in series]
    legend_h = 16 * sum(len(w) for w in wrapped) + 10
    c = Chart(440, 400 + legend_h, title)
    ax = _Axes(c, 56, 16, 424, 354, (0.0, limit), (0.0, limit))
    ticks = nice_ticks(0.0, limit, 5)
    ax.frame(ticks, ticks, lambda v: f"{v:g}", lambda v: f"{v:g}", x_label, y_label)
    if diagonal:
        c.line(ax.x(0), ax.y(0), ax.x(limit), ax.y(limit), "diagonal")
    for s in series:
        c.polyline([ax.x(v) for v in s["x"]], [ax.y(v) for v in s["y"]], s["cls"])
        if s.get("points"):
            for xv, yv, tip in zip(s["x"], s["y"], s.get("tips") or [None] * len(s["x"]), strict=False):
                c.circle(ax.x(xv), ax.y(yv), 3.5, s["cls"] + "-pt", tip=tip)
    lx, yy = 8, 400
    for s, lines in zip(series, wrapped, strict=True):
        c.line(lx + 4, yy, lx + 24, yy, s["cls"])
        for line in lines:
            c.text(lx + 30, yy + 4, line, "legend", "start")
            yy += 16
    return c


def pca_chart(
    cohort_density: Mapping,
    reference: Sequence[Sequence[float]] | None,
    patients: Sequence[Sequence[float]],
    labels: tuple[str, str] = ("PC1", "PC2"),
) -> Chart:
    """Ancestry PC1 x PC2: the cohort as a shaded density, the reference panel and the patients as points.

    Parameters
    ----------
    cohort_density : mapping
        ``x_edges``, ``y_edges`` and ``counts`` (rows along x) of a 2-D
        histogram of the cohort (aggregate: no person's position).
    reference : sequence of (x, y), optional
        Reference panel people.
    patients : sequence of (x, y)
        Scored patients, without IDs.
    """
    xe, ye = np.asarray(cohort_density["x_edges"]), np.asarray(cohort_density["y_edges"])
    counts = np.asarray(cohort_density["counts"], dtype=float)
    pts = [np.asarray(p, dtype=float) for p in (reference or [])] + [np.asarray(p, dtype=float) for p in patients]
    xs = [xe[0], xe[-1]] + [p[0] for p in pts]
    ys = [ye[0], ye[-1]] + [p[1] for p in pts]
    xt, yt = nice_ticks(min(xs), max(xs), 5), nice_ticks(min(ys), max(ys), 5)
    c = Chart(520, 500, "Genetic ancestry: cohort, reference panel and patients")
    ax = _Axes(c, 60, 16, 500, 370, (float(xt[0]), float(xt[-1])), (float(yt[0]), float(yt[-1])))
    ax.frame(xt, yt, lambda v: f"{v:g}", lambda v: f"{v:g}", f"Ancestry {labels[0]}", f"Ancestry {labels[1]}")
    top = counts.max() or 1.0
    for i in range(len(xe) - 1):
        for j in range(len(ye) - 1):
            if counts[i, j] > 0:
                level = min(4, int(4 * counts[i, j] / top + 0.999))
                c.rect(
                    ax.x(xe[i]),
                    ax.y(ye[j + 1]),
                    ax.x(xe[i + 1]) - ax.x(xe[i]),
                    ax.y(ye[j]) - ax.y(ye[j + 1]),
                    f"density-{level}",
                )
    for p in reference or []:
        c.circle(ax.x(p[0]), ax.y(p[1]), 2.5, "pt-reference")
    for p in patients:
        c.circle(ax.x(p[0]), ax.y(p[1]), 4.0, "pt-patient")
    yy = 436
    c.rect(8, yy - 6, 14, 12, "density-3")
    c.text(28, yy + 4, "training cohort (density: darker = more people)", "legend")
    c.circle(15, yy + 18, 2.5, "pt-reference")
    c.text(28, yy + 22, "reference panel people" if reference else "no reference panel configured", "legend")
    c.circle(15, yy + 36, 4.0, "pt-patient")
    c.text(28, yy + 40, "patients scored in this run (no IDs)", "legend")
    return c
