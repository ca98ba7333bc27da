"""Inline SVG charts for the HTML report: bars, a forest plot of A/B changes, lines over runs. No plotting library.

Nothing is cut: a label wraps onto more lines (its full text is the element's <title>, shown on hover),
legends sit below the plot and wrap, x-axis labels thin out before they could overlap. Widths are
estimated per character, generously; tests/test_report_layout.py checks them in Chromium.
"""
import math
from html import escape

PALETTE = ["#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#b279a2", "#ff9da6", "#9d755d"]
VERDICT_COLOR = {"faster": "#1a7f37", "slower": "#c62828", "not significant": "#6b7280", "insufficient data": "#b0b5bd",
                 "fewer": "#1a7f37", "more": "#c62828", "folded": "#6b7280"}  # instructions of a function
CHAR_W = 7.4   # px per character of 12 px system-ui, generous (widest glyphs included)
TITLE_W = 8.6  # the same for 13 px bold titles
LINE_H = 14


def _nice_max(v):
    if v <= 0:
        return 1.0
    e = 10 ** math.floor(math.log10(v))
    for m in (1, 2, 2.5, 5, 10):
        if v <= m * e:
            return m * e
    return 10 * e


def wrap(text, width_px, char_w=CHAR_W):
    """Greedy wrap at spaces, commas and '='; a token longer than a line is split."""
    n = max(4, int(width_px // char_w))
    words, lines, cur = text.replace(",", ", ").split(), [], ""
    for w in words:
        while len(w) > n:
            if cur:
                lines.append(cur)
                cur = ""
            lines.append(w[:n])
            w = w[n:]
        if cur and len(cur) + 1 + len(w) > n:
            lines.append(cur)
            cur = w
        else:
            cur = f"{cur} {w}".strip()
    return (lines + [cur]) if cur else lines or [""]


def text_lines(x, y, lines, cls, anchor="start", title=None, fill=None):
    spans = "".join(f'<tspan x="{x:.1f}" dy="{0 if i == 0 else LINE_H}">{escape(t)}</tspan>' for i,
                    t in enumerate(lines))
    fill_attr = f' fill="{fill}"' if fill else ""
    tip = f"<title>{escape(title)}</title>" if title else ""
    return f'<text x="{x:.1f}" y="{y:.1f}" class="{cls}" text-anchor="{anchor}"{fill_attr}>{tip}{spans}</text>'


def title_lines(title, width):
    return wrap(title, width - 8, TITLE_W)


def title_block(title, width):
    return text_lines(4, 16, title_lines(title, width), "ttl")


def _label_column(labels, width, share=0.42):
    """(column width, wrapped lines per label): as wide as the longest label, at most `share` of the plot."""
    col = min(share * width, max(len(lab) for lab in labels) * CHAR_W + 12)
    return col, [wrap(lab, col - 12) for lab in labels]


def bar_chart(bars, unit, title, width=760, bar_h=22):
    """bars: [(label, median, lo, hi, color_key)] -> horizontal bars with min..max whiskers."""
    if not bars:
        return ""
    left, wrapped = _label_column([b[0] for b in bars], width)
    full_title = f"{title} ({unit}; bar: median, whisker: min..max)"
    right, top = 70, 20 + LINE_H * len(title_lines(full_title, width))
    rows = [max(bar_h, len(w) * LINE_H) + 8 for w in wrapped]
    h = top + sum(rows) + 30
    vmax = _nice_max(max((b[3] if b[3] is not None else b[1] or 0) for b in bars))
    scale = (width - left - right) / vmax
    keys = list(dict.fromkeys(b[4] for b in bars))
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{h}" role="img" '
           f'aria-label="{escape(title)}">',
           title_block(full_title, width)]
    for i in range(5):
        x = left + i * (width - left - right) / 4
        out.append(f'<line x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{h - 26}" class="grid"/>'
                   + text_lines(x, h - 10, [f"{vmax * i / 4:.3g}"], "tick", "middle"))
    y = top
    for (label, med, lo, hi, key), lines, row in zip(bars, wrapped, rows):
        color = PALETTE[keys.index(key) % len(PALETTE)]
        w = (med or 0) * scale
        cy = y + bar_h / 2
        out.append(text_lines(left - 8, y + 15, lines, "lbl", "end", title=label))
        out.append(f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{color}" rx="2"><title>'
                   f'{escape(label)}: {med:.4g} {escape(unit)}</title></rect>')
        if lo is not None and hi is not None and hi > lo:
            out.append(f'<line x1="{left + lo * scale:.1f}" y1="{cy}" x2="{left + hi * scale:.1f}" y2="{cy}" '
                       'class="err"/>'
                       f'<line x1="{left + lo * scale:.1f}" y1="{cy - 5}" x2="{left + lo * scale:.1f}" y2="{cy + 5}" '
                       'class="err"/>'
                       f'<line x1="{left + hi * scale:.1f}" y1="{cy - 5}" x2="{left + hi * scale:.1f}" y2="{cy + 5}" '
                       'class="err"/>')
        out.append(text_lines(left + max(w, (hi or 0) * scale) + 6, y + 15, [f"{med:.3g}"], "val"))
        y += row
    out.append("</svg>")
    return "\n".join(out)


def forest_plot(rows, title, threshold_pct, width=760, unit="%"):
    """rows: [(label, change, CI low, CI high, verdict)]: each change with its interval, the zero line and the
    band |change| < threshold (never a verdict however tight the interval), coloured by verdict. Changes in
    `unit` (% for A/B pairs, " insn" for instructions per packet of a function)."""
    rows = [r for r in rows if r[1] is not None]
    if not rows:
        return ""
    left, wrapped = _label_column([r[0] for r in rows], width, share=0.38)
    right, top, bar = 170, 20 + LINE_H * len(title_lines(title, width)), 20
    heights = [max(bar, len(w) * LINE_H, 2 * LINE_H) + 8 for w in wrapped]  # the value column has two lines
    h = top + sum(heights) + 34
    ext = max([abs(v) for r in rows for v in r[1:4] if v is not None] + [threshold_pct * 2])
    ext = _nice_max(ext * 1.05)
    x = lambda v: left + (v + ext) / (2 * ext) * (width - left - right)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{h}" role="img" '
           f'aria-label="{escape(title)}">',
           title_block(title, width),
           f'<rect x="{x(-threshold_pct):.1f}" y="{top - 4}" width="{x(threshold_pct) - x(-threshold_pct):.1f}" '
           f'height="{h - top - 26}" class="band"><title>|change| &lt; {threshold_pct:g}{escape(unit)}: not '
           'significant</title></rect>']
    for v in (-ext, -ext / 2, 0, ext / 2, ext):
        out.append(f'<line x1="{x(v):.1f}" y1="{top - 4}" x2="{x(v):.1f}" y2="{h - 26}" '
                   f'class="{"zero" if v == 0 else "grid"}"/>'
                   + text_lines(x(v), h - 10, [f"{v:+.3g}{unit}" if v else "0"], "tick", "middle"))
    y = top
    for (label, change, lo, hi, verdict), lines, row in zip(rows, wrapped, heights):
        color = VERDICT_COLOR.get(verdict, "#6b7280")
        cy = y + bar / 2
        out.append(text_lines(left - 8, y + 14, lines, "lbl", "end", title=label))
        if lo is not None and hi is not None:
            out.append(f'<line x1="{x(lo):.1f}" y1="{cy}" x2="{x(hi):.1f}" y2="{cy}" stroke="{color}" '
                       'stroke-width="2"/>'
                       f'<line x1="{x(lo):.1f}" y1="{cy - 5}" x2="{x(lo):.1f}" y2="{cy + 5}" stroke="{color}" '
                       'stroke-width="2"/>'
                       f'<line x1="{x(hi):.1f}" y1="{cy - 5}" x2="{x(hi):.1f}" y2="{cy + 5}" stroke="{color}" '
                       'stroke-width="2"/>')
        ci = f" [{lo:+.1f}, {hi:+.1f}]" if lo is not None else ""
        out.append(f'<circle cx="{x(change):.1f}" cy="{cy}" r="5" fill="{color}"><title>{escape(label)}: {change:+.2f}'
                   f'{escape(unit)}{ci} {escape(verdict)}</title></circle>')
        out.append(text_lines(width - right + 10, y + 14, [f"{change:+.1f}{unit}{ci}", verdict], "val", fill=color))
        y += row
    out.append("</svg>")
    return "\n".join(out)


def line_chart(series, unit, title, width=760, height=220):
    """series: {label: [(x_label, value)]} over the same ordered x labels (e.g. run dates); legend below."""
    xs = sorted({x for pts in series.values() for x, _ in pts})
    if len(xs) < 2:
        return ""
    label_w = max(len(str(x)[5:16]) for x in xs) * CHAR_W * 0.92 + 8   # ticks are 11 px
    left, right, bottom = max(60, label_w / 2 + 4), max(20, label_w / 2 + 4), 40
    top = 20 + LINE_H * len(title_lines(f"{title} ({unit})", width))
    height += top - 30
    plot_w = width - left - right
    vmax = _nice_max(max(v for pts in series.values() for _, v in pts if v is not None))
    px = lambda i: left + i * plot_w / (len(xs) - 1)
    py = lambda v: top + (1 - v / vmax) * (height - top - bottom)
    every = max(1, math.ceil(len(xs) * label_w / plot_w))
    legend, lx, ly, row_lines = [], 8, height + 6, 1
    for j, label in enumerate(series):
        lines = wrap(label, width / 2 - 30)
        item_w = 22 + max(len(t) for t in lines) * CHAR_W
        if lx + item_w > width and lx > 8:
            lx, ly, row_lines = 8, ly + LINE_H * row_lines + 6, 1
        row_lines = max(row_lines, len(lines))
        legend.append(f'<rect x="{lx}" y="{ly + 3}" width="12" height="8" fill="{PALETTE[j % len(PALETTE)]}"/>'
                      + text_lines(lx + 16, ly + 11, lines, "lbl", title=label))
        lx += item_w + 14
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{ly + LINE_H * row_lines + 12:.0f}" '
           'role="img" '
           f'aria-label="{escape(title)}">', title_block(f"{title} ({unit})", width)]
    for i in range(5):
        v = vmax * i / 4
        out.append(f'<line x1="{left}" y1="{py(v):.1f}" x2="{width - right}" y2="{py(v):.1f}" class="grid"/>'
                   + text_lines(left - 6, py(v) + 4, [f"{v:.3g}"], "tick", "end"))
    for i, xl in enumerate(xs):
        if i % every == 0:
            out.append(text_lines(px(i), height - bottom + 22, [str(xl)[5:16]], "tick", "middle"))
    for j, (_label, pts) in enumerate(series.items()):
        color = PALETTE[j % len(PALETTE)]
        coords = [(px(xs.index(x)), py(v)) for x, v in pts if v is not None]
        out.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="'
                   + " ".join(f"{a:.1f},{b:.1f}" for a, b in coords) + '"/>')
        out += [f'<circle cx="{a:.1f}" cy="{b:.1f}" r="3" fill="{color}"/>' for a, b in coords]
    out += legend + ["</svg>"]
    return "\n".join(out)
