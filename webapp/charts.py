"""Server-rendered SVG charts for the recap: geometry computed here, drawn by the templates.

SVG built from attributes and CSS classes only, so it passes the strict CSP, needs no internet, and prints.
"""
from dataclasses import dataclass

WIDTH = 100.0  # bars are drawn in a 0..100 viewBox and scale with the page


@dataclass
class Segment:
    """One coloured part of a bar."""

    css: str
    x: float
    width: float
    value: int
    label: str


@dataclass
class Bar:
    """One horizontal bar with its label and segments."""

    label: str
    total: int
    segments: list


def stacked(rows, keys, labels, scale=None):
    """Bars for rows of (label, {key: value}); widths relative to the largest total (or scale)."""
    largest = scale or max((sum(values.get(k, 0) for k in keys) for _, values in rows), default=0) or 1
    bars = []
    for label, values in rows:
        x, segments = 0.0, []
        for key in keys:
            value = values.get(key, 0)
            width = WIDTH * value / largest
            segments.append(Segment(key, round(x, 3), round(width, 3), value, labels[key]))
            x += width
        bars.append(Bar(label, sum(values.get(k, 0) for k in keys), segments))
    return bars


def for_recap(data):
    """The recap's two charts: desil (receiving vs not, KK) and status per programme (share of rows)."""
    from .models import LABELS
    desil = stacked([(row.label, {"menerima": row.menerima.kk, "tidak": row.tidak_menerima.kk}) for row in data.desil],
                    ("menerima", "tidak"), {"menerima": "Menerima bantuan", "tidak": "Belum menerima"})
    status = []
    for program in data.programs:
        total = program.rows.total.n or 1
        shares = {key: program.rows.status[key].n for key in ("cair", "belum", "tidak_cair")}
        bar = stacked([(program.program.code, shares)], ("cair", "belum", "tidak_cair"), LABELS["status"],
                      scale=total)[0]
        status.append(bar)
    return {"desil": desil, "status": status}
