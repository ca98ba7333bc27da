"""Inline SVG charts for the HTML report: bars with error bars, lines over time. No plotting dependency."""
from html import escape

PALETTE = ["#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#b279a2", "#ff9da6", "#9d755d"]


def _nice_max(v):
    if v <= 0:
        return 1.0
    import math
    e = 10 ** math.floor(math.log10(v))
    for m in (1, 2, 2.5, 5, 10):
        if v <= m * e:
            return m * e
    return 10 * e


def bar_chart(bars, unit, title, width=760, bar_h=22):
    """bars: [(label, median, lo, hi, color_key)] -> SVG with horizontal bars and min..max whiskers."""
    if not bars:
        return ""
    left, right, top = 300, 70, 28
    h = top + len(bars) * (bar_h + 8) + 30
    vmax = _nice_max(max((b[3] if b[3] is not None else b[1] or 0) for b in bars))
    scale = (width - left - right) / vmax
    keys = list(dict.fromkeys(b[4] for b in bars))
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{h}" role="img" aria-label="{escape(title)}">',
           f'<text x="{left}" y="16" class="ttl">{escape(title)}</text>']
    for i in range(5):
        x = left + i * (width - left - right) / 4
        out.append(f'<line x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{h - 26}" class="grid"/>'
                   f'<text x="{x:.1f}" y="{h - 10}" class="tick" text-anchor="middle">{vmax * i / 4:.3g}</text>')
    for i, (label, med, lo, hi, key) in enumerate(bars):
        y = top + i * (bar_h + 8)
        color = PALETTE[keys.index(key) % len(PALETTE)]
        w = (med or 0) * scale
        short = label if len(label) <= 46 else label[:20] + "…" + label[-25:]
        out.append(f'<text x="{left - 8}" y="{y + bar_h * 0.7:.1f}" class="lbl" text-anchor="end">{escape(short)}</text>')
        out.append(f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{color}" rx="2"><title>{escape(label)}: '
                   f'{med:.4g} {escape(unit)}</title></rect>')
        if lo is not None and hi is not None and hi > lo:
            cy = y + bar_h / 2
            out.append(f'<line x1="{left + lo * scale:.1f}" y1="{cy}" x2="{left + hi * scale:.1f}" y2="{cy}" class="err"/>'
                       f'<line x1="{left + lo * scale:.1f}" y1="{cy - 5}" x2="{left + lo * scale:.1f}" y2="{cy + 5}" class="err"/>'
                       f'<line x1="{left + hi * scale:.1f}" y1="{cy - 5}" x2="{left + hi * scale:.1f}" y2="{cy + 5}" class="err"/>')
        out.append(f'<text x="{left + max(w, (hi or 0) * scale) + 6:.1f}" y="{y + bar_h * 0.7:.1f}" class="val">{med:.3g}</text>')
    out.append(f'<text x="{width - 4}" y="16" class="tick" text-anchor="end">{escape(unit)} (bar: median, whisker: min..max)</text>')
    out.append("</svg>")
    return "\n".join(out)


def line_chart(series, unit, title, width=760, height=240):
    """series: {label: [(x_label, value)]} over the same ordered x labels (e.g. run dates)."""
    xs = sorted({x for pts in series.values() for x, _ in pts})
    if len(xs) < 2:
        return ""
    left, right, top, bottom = 60, 180, 28, 40
    vmax = _nice_max(max(v for pts in series.values() for _, v in pts if v is not None))
    px = lambda i: left + i * (width - left - right) / (len(xs) - 1)
    py = lambda v: top + (1 - v / vmax) * (height - top - bottom)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" aria-label="{escape(title)}">',
           f'<text x="{left}" y="16" class="ttl">{escape(title)}</text>']
    for i in range(5):
        v = vmax * i / 4
        out.append(f'<line x1="{left}" y1="{py(v):.1f}" x2="{width - right}" y2="{py(v):.1f}" class="grid"/>'
                   f'<text x="{left - 6}" y="{py(v) + 4:.1f}" class="tick" text-anchor="end">{v:.3g}</text>')
    for i, x in enumerate(xs):
        if len(xs) <= 8 or i % max(1, len(xs) // 8) == 0:
            out.append(f'<text x="{px(i):.1f}" y="{height - 22}" class="tick" text-anchor="middle">{escape(str(x)[5:16])}</text>')
    for j, (label, pts) in enumerate(series.items()):
        color = PALETTE[j % len(PALETTE)]
        coords = [(px(xs.index(x)), py(v)) for x, v in pts if v is not None]
        out.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="'
                   + " ".join(f"{a:.1f},{b:.1f}" for a, b in coords) + '"/>')
        out += [f'<circle cx="{a:.1f}" cy="{b:.1f}" r="3" fill="{color}"/>' for a, b in coords]
        out.append(f'<text x="{width - right + 8}" y="{top + 14 * j + 4}" class="lbl" fill="{color}">{escape(label[:28])}</text>')
    out.append(f'<text x="{width - 4}" y="16" class="tick" text-anchor="end">{escape(unit)}</text></svg>')
    return "\n".join(out)
