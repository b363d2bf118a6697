"""Server-side SVG bar charts (no JavaScript, no inline styles: CSP allows only our stylesheet)."""
from __future__ import annotations

from html import escape

from markupsafe import Markup

ROW_H, LABEL_W, NUM_W, WIDTH = 26, 150, 60, 640


def bar_chart(items: list[tuple[str, int]], title: str) -> Markup:
    """Horizontal bars: label, bar scaled to the largest value, number. Readable on a phone."""
    if not items:
        return Markup(f'<p class="empty">{escape(title)}：暂无数据</p>')
    top = max(v for _, v in items) or 1
    height = ROW_H * len(items) + 8
    bar_w = WIDTH - LABEL_W - NUM_W
    rows = []
    for i, (label, value) in enumerate(items):
        y = 4 + i * ROW_H
        w = max(1, round(bar_w * value / top)) if value else 0
        rows.append(
            f'<text x="{LABEL_W - 8}" y="{y + 17}" text-anchor="end" class="chart-label">{escape(str(label))}</text>'
            f'<rect x="{LABEL_W}" y="{y + 4}" width="{w}" height="{ROW_H - 8}" class="chart-bar"><title>{escape(str(label))}: {value}</title></rect>'
            f'<text x="{LABEL_W + w + 6}" y="{y + 17}" class="chart-num">{value}</text>'
        )
    return Markup(
        f'<figure class="chart"><figcaption>{escape(title)}</figcaption>'
        f'<svg viewBox="0 0 {WIDTH} {height}" width="100%" role="img" aria-label="{escape(title)}" '
        f'xmlns="http://www.w3.org/2000/svg">{"".join(rows)}</svg></figure>'
    )
