#!/usr/bin/env python3
"""Draws the headline chart of BENCHMARKS.md from bench/headline.csv, standard library only.

Usage: bench/chart.py [DATA.csv [OUT.svg]]   (default bench/headline.csv, bench/headline.svg)

One panel per workload, one horizontal bar per server. Latency panels draw p99 as a pale bar
and p50 as a solid bar inside it. A hollow bar is a figure from a run that lost events; a
server with no figure gets "not measured". Panels whose figures span more than a factor of 20
use a log scale. The background is a white rect, so the chart reads the same in GitHub's
light and dark themes.
"""
import csv
import math
import os
import sys
from xml.sax.saxutils import escape

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "headline.csv")
OUT = sys.argv[2] if len(sys.argv) > 2 else os.path.join(HERE, "headline.svg")

SERVERS = [("eddy", "Eddy", "#0072B2"), ("nchan", "nginx + Nchan", "#D55E00"), ("pushpin", "Pushpin", "#009E73")]
# (title, unit shown on the axis, better, [(workload, group label)], metrics)
PANELS = [
    ("Idle memory per connection, 15,000 held", "KiB of RSS per connection", "lower is better",
     [("idle-sse", "SSE"), ("idle-ws", "WebSocket")], ["rss_per_connection"]),
    ("Write-to-delivery latency, few subscribers (SSE)", "ms, p50 solid / p99 pale", "lower is better",
     [("latency-50x2", "50 subs × 2 writes/s"), ("latency-50x10", "50 subs × 10 writes/s")], ["p50", "p99"]),
    ("Latency against the write rate, 5,000 SSE subscribers", "ms, p50 solid / p99 pale", "lower is better",
     [("latency-5000x2", "2 writes/s"), ("latency-5000x10", "10 writes/s"), ("latency-5000x50", "50 writes/s"),
      ("latency-5000x200", "200 writes/s")], ["p50", "p99"]),
    ("Write-to-delivery latency, 10,000 subscribers", "ms, p50 solid / p99 pale", "lower is better",
     [("fanout-sse", "SSE × 10 writes/s"), ("fanout-ws", "WS × 10 writes/s")], ["p50", "p99"]),
    ("Peak deliveries, 10,000 SSE subscribers", "deliveries/s of a step with nothing lost and p99 under 1 s", "higher is better",
     [("peak", "10 s steps, rising rate")], ["deliveries_per_s"]),
    ("Durable writes, 1,000 SSE subscribers", "fsynced writes per second", "higher is better",
     [("writes", "64 writers")], ["durable_writes_per_s"]),
]

W, COLS = 1000, 2
PANEL_W = W // COLS
LABEL_W = 165          # group labels left of the bars
RIGHT_PAD = 120        # value labels right of the bars
BAR_H, BAR_GAP, GROUP_GAP = 14, 3, 12
FONT = "font-family='DejaVu Sans, Helvetica, Arial, sans-serif'"


def number(text):
    return float(text) if text not in (None, "") else None


def show(text):
    """The figure as bench/headline.csv has it (never rounded), with thousands separators."""
    whole, _, fraction = text.partition(".")
    return f"{int(whole):,}" + (f".{fraction}" if fraction else "")


rows = {}
for row in csv.DictReader(open(DATA, newline="", encoding="utf-8")):
    rows[(row["workload"], row["metric"], row["server"])] = row


class Scale:
    def __init__(self, values, x0, x1):
        lo, hi = min(values), max(values)
        self.log = hi / max(lo, 1e-9) > 20
        self.x0, self.x1 = x0, x1
        if self.log:
            # A decade below the smallest figure's half, so that the shortest bar still shows.
            self.lo = 10 ** math.floor(math.log10(lo / 2))
            self.hi = 10 ** math.ceil(math.log10(hi))
        else:
            self.lo = 0
            # A round step (1, 2 or 5 times a power of ten) giving 4 to 8 intervals.
            e = 10 ** math.floor(math.log10(hi))
            self.step = next(m * e / 10 for m in (1, 2, 5, 10, 20, 50) if hi / (m * e / 10) <= 8)
            self.hi = math.ceil(hi * 1.05 / self.step) * self.step

    def __call__(self, v):
        if self.log:
            f = (math.log10(v) - math.log10(self.lo)) / (math.log10(self.hi) - math.log10(self.lo))
        else:
            f = (v - self.lo) / (self.hi - self.lo)
        return self.x0 + f * (self.x1 - self.x0)

    def ticks(self):
        if self.log:
            e = round(math.log10(self.lo))
            while 10 ** e <= self.hi * 1.001:
                yield 10 ** e
                e += 1
        else:
            v = self.lo
            while v <= self.hi + 1e-9:
                yield v
                v += self.step


def tick_label(v):
    for div, suffix in [(1e6, "M"), (1e3, "k")]:
        if v >= div:
            return f"{v / div:g}{suffix}"
    return f"{v:g}"


def panel(out, x, y, title, unit, better, groups, metrics):
    """Draws one panel at (x, y) and returns its height."""
    values = [number(rows.get((w, m, s), {}).get("value")) for w, _ in groups for m in metrics for s, _, _ in SERVERS]
    values = [v for v in values if v]
    bars_x0, bars_x1 = x + LABEL_W, x + PANEL_W - RIGHT_PAD
    scale = Scale(values, bars_x0, bars_x1)
    out.append(f"<text x='{x + 10}' y='{y + 18}' font-size='14' font-weight='bold' fill='#111'>{escape(title)}</text>")
    out.append(f"<text x='{x + 10}' y='{y + 34}' font-size='11' fill='#444'>{escape(better)}"
               f"{'; log scale' if scale.log else ''}</text>")
    top = y + 46
    group_h = len(SERVERS) * (BAR_H + BAR_GAP) - BAR_GAP
    axis_y = top + len(groups) * (group_h + GROUP_GAP) - GROUP_GAP + 4
    for t in scale.ticks():
        tx = scale(t)
        out.append(f"<line x1='{tx:.1f}' y1='{top - 4}' x2='{tx:.1f}' y2='{axis_y}' stroke='#ddd' stroke-width='0.8'/>")
        out.append(f"<line x1='{tx:.1f}' y1='{axis_y}' x2='{tx:.1f}' y2='{axis_y + 4}' stroke='#333'/>")
        out.append(f"<text x='{tx:.1f}' y='{axis_y + 15}' font-size='10' text-anchor='middle' fill='#333'>{tick_label(t)}</text>")
    cy = top
    for workload, label in groups:
        out.append(f"<text x='{bars_x0 - 6}' y='{cy + group_h / 2 + 4}' font-size='11' text-anchor='end' fill='#111'>"
                   f"{escape(label)}</text>")
        for server, _, colour in SERVERS:
            got = [rows.get((workload, m, server), {}) for m in metrics]
            texts = [r.get("value") or "" for r in got]
            vals = [number(t) for t in texts]
            lost = any((number(r.get("lost")) or 0) > 0 for r in got)
            if not all(vals):
                out.append(f"<text x='{bars_x0 + 4}' y='{cy + BAR_H - 3}' font-size='10' fill='#666' "
                           f"font-style='italic'>not measured</text>")
            else:
                # The last metric is the longest bar (p99); earlier ones are drawn inside it, solid.
                for i, v in reversed(list(enumerate(vals))):
                    pale = len(vals) > 1 and i == len(vals) - 1
                    w = max(1.5, scale(v) - bars_x0)
                    if lost:
                        out.append(f"<rect x='{bars_x0}' y='{cy + 0.75}' width='{w:.1f}' height='{BAR_H - 1.5}' "
                                   f"fill='{'#fff' if pale else 'none'}' stroke='{colour}' stroke-width='1.5' "
                                   f"stroke-dasharray='{'4 2' if pale else 'none'}'/>")
                        if not pale:
                            out.append(f"<rect x='{bars_x0}' y='{cy + 4}' width='{w:.1f}' height='{BAR_H - 8}' fill='{colour}'/>")
                    else:
                        out.append(f"<rect x='{bars_x0}' y='{cy}' width='{w:.1f}' height='{BAR_H}' fill='{colour}' "
                                   f"fill-opacity='{0.35 if pale else 1}'/>")
                text = " / ".join(show(t) for t in texts) + (" (lost events)" if lost else "")
                out.append(f"<text x='{scale(max(vals)) + 4:.1f}' y='{cy + BAR_H - 3}' font-size='10' fill='#111'>"
                           f"{escape(text)}</text>")
            cy += BAR_H + BAR_GAP
        cy += GROUP_GAP
    out.append(f"<line x1='{bars_x0}' y1='{top - 4}' x2='{bars_x0}' y2='{axis_y}' stroke='#333'/>")
    out.append(f"<line x1='{bars_x0}' y1='{axis_y}' x2='{bars_x1}' y2='{axis_y}' stroke='#333'/>")
    out.append(f"<text x='{(bars_x0 + bars_x1) / 2}' y='{axis_y + 29}' font-size='11' text-anchor='middle' "
               f"fill='#333'>{escape(unit)}</text>")
    return axis_y + 36 - y


def legend(out, x, y):
    out.append(f"<text x='{x + 10}' y='{y + 18}' font-size='14' font-weight='bold' fill='#111'>Servers</text>")
    for i, (_, name, colour) in enumerate(SERVERS):
        yy = y + 32 + i * 20
        out.append(f"<rect x='{x + 12}' y='{yy}' width='14' height='14' fill='{colour}'/>")
        out.append(f"<text x='{x + 32}' y='{yy + 11}' font-size='12' fill='#111'>{escape(name)}</text>")
    notes = [
        "Pale bar: p99; solid bar inside it: p50.",
        "Outlined bar: the run lost events.",
        "Measured with eddy-load (bench/run.sh);",
        "peak: nothing lost and p99 under 1 s.",
        "Figures and their series: bench/headline.csv;",
        "what limits each: docs/benchmark-log.md.",
        "2 vCPUs, server and load tool on the same cores.",
    ]
    for i, note in enumerate(notes):
        out.append(f"<text x='{x + 12}' y='{y + 108 + i * 16}' font-size='11' fill='#333'>{escape(note)}</text>")
    return 108 + len(notes) * 16


def main():
    body = []
    y = 10
    cells = [lambda o, x, yy, p=p: panel(o, x, yy, *p) for p in PANELS] + [legend]
    for i in range(0, len(cells), COLS):
        heights = [cell(body, c * PANEL_W, y) for c, cell in enumerate(cells[i:i + COLS])]
        y += max(heights) + 16
    h = y
    svg = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{W}' height='{h}' viewBox='0 0 {W} {h}' {FONT}>",
           "<title>Eddy, nginx + Nchan and Pushpin: headline benchmark figures</title>",
           f"<rect width='{W}' height='{h}' fill='#ffffff'/>"] + body + ["</svg>"]
    with open(OUT, "w", encoding="utf-8") as f:
        f.write("\n".join(svg) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
