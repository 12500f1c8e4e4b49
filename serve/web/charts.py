"""A server-rendered SVG bar chart of a score's SHAP contributions (no JavaScript, no CDN)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

BAR_HEIGHT = 22
GAP = 6
LABEL_WIDTH = 260
BAR_WIDTH = 320


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    y: int
    width: float


@dataclass(frozen=True)
class BarChart:
    bars: list[Bar]
    width: int
    height: int
    label_width: int


def contribution_chart(reasons: list[dict[str, Any]]) -> BarChart:
    """Bars of the reasons' contributions (log-odds), largest first, scaled to the largest."""
    values = [float(r.get("contribution") or 0.0) for r in reasons]
    top = max((abs(v) for v in values), default=0.0) or 1.0
    bars = [
        Bar(
            label=str(r.get("feature", "")),
            value=v,
            y=i * (BAR_HEIGHT + GAP),
            width=max(1.0, abs(v) / top * BAR_WIDTH),
        )
        for i, (r, v) in enumerate(zip(reasons, values, strict=True))
    ]
    height = max(1, len(bars)) * (BAR_HEIGHT + GAP)
    return BarChart(bars, LABEL_WIDTH + BAR_WIDTH + 70, height, LABEL_WIDTH)
