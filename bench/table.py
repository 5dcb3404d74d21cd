#!/usr/bin/env python3
"""Prints bench/run.sh's results as one Markdown table with the ratios Eddy/peer.

Usage: table.py RESULTS-DIR [--headline bench/headline.csv --series "15th series, 2026-12-08"]

With --headline, it also writes the run's headline figures into that file (the data behind
bench/chart.py's chart and the table at the top of BENCHMARKS.md): for every workload and server
the run measured, the row is replaced, with --series as its source. Rows of workloads or servers
the run did not measure (and those bench/run.sh cannot measure, such as issue #24's rows from an
independent client) are left as they are."""
import csv
import os
import re
import sys

args = sys.argv[1:]


def option(name):
    if name in args:
        i = args.index(name)
        value = args[i + 1]
        del args[i:i + 2]
        return value
    return None


headline = option("--headline")
series = option("--series")
if headline and not series:
    sys.exit("table.py: --headline needs --series (the name and date of the series, for the source column)")
out = args[0]
servers = ["eddy", "nchan", "pushpin"]


def read(name, server):
    path = os.path.join(out, f"{name}-{server}.txt")
    if not os.path.exists(path):
        return None
    values = {}
    for line in open(path):
        if "=" in line:
            key, value = line.strip().split("=", 1)
            values.setdefault(key, value)
    return values


def number(values, key):
    try:
        return float(values[key]) if values and key in values else None
    except ValueError:
        return None


PEAK_P99_MS = 1000


def peak(server):
    """The peak: the most deliveries/s of a saturation step that lost nothing and whose p99 was
    under a second, with that step's rate. When no step qualifies, the most of any step, marked
    by its loss (or its p99)."""
    steps = []
    for file in os.listdir(out):
        match = re.fullmatch(rf"saturation-([0-9.]+)-{server}\.txt", file)
        if match:
            values = read(f"saturation-{match.group(1)}", server)
            value = number(values, "deliveries_per_s")
            if value is not None:
                steps.append((value, match.group(1), number(values, "lost"), number(values, "latency_p99_ms")))
    qualifying = [step for step in steps if step[2] == 0 and step[3] is not None and step[3] < PEAK_P99_MS]
    return max(qualifying or steps, default=None)


def rate_pairs():
    """The (subscribers, writes/s) pairs of the rates workload this run measured, in order."""
    pairs = set()
    for file in os.listdir(out):
        match = re.fullmatch(r"rates-([0-9]+)x([0-9]+)-\w+\.txt", file)
        if match:
            pairs.add((int(match.group(1)), int(match.group(2))))
    return sorted(pairs)


rows = []
for name, label in [("fanout-sse", "(a) fan-out SSE"), ("fanout-ws", "(a) fan-out WS"), ("topics", "(e) many topics SSE")]:
    for key, what in [
        ("subscribers_connected", "subscribers connected"),
        ("connect_per_s", "connects/s"),
        ("deliveries_per_s", "deliveries/s"),
        ("latency_p50_ms", "latency p50 ms"),
        ("latency_p99_ms", "latency p99 ms"),
        ("latency_p999_ms", "latency p99.9 ms"),
        ("latency_max_ms", "latency max ms"),
        ("server_cpu_ns_per_delivery", "server CPU ns per delivery"),
        ("tool_cpu_ns_per_delivery", "load tool CPU ns per delivery"),
        ("lost", "lost"),
        ("duplicates", "duplicated"),
        ("disconnected", "disconnected"),
    ]:
        rows.append((label, what, [number(read(name, s), key) for s in servers]))
for subscribers, rate in rate_pairs():
    label = f"SSE, {subscribers:,} subscribers × {rate} writes/s"
    for key, what in [("latency_p50_ms", "latency p50 ms"), ("latency_p99_ms", "latency p99 ms"), ("lost", "lost"),
                      ("server_cpu_ns_per_delivery", "server CPU ns per delivery")]:
        rows.append((label, what, [number(read(f"rates-{subscribers}x{rate}", s), key) for s in servers]))
peaks = [peak(s) for s in servers]
rows.append(("(b) saturation SSE", f"peak deliveries/s (nothing lost, p99 < {PEAK_P99_MS} ms)", [p[0] if p else None for p in peaks]))
rows.append(("(b) saturation SSE", "at writes/s", [float(p[1]) if p else None for p in peaks]))
rows.append(("(b) saturation SSE", "lost at the peak", [p[2] if p else None for p in peaks]))
rows.append(("(b) saturation SSE", "p99 ms at the peak", [p[3] if p else None for p in peaks]))
rows.append(("(b) saturation SSE", "server CPU ns per delivery at the peak",
             [number(read(f"saturation-{p[1]}", s), "server_cpu_ns_per_delivery") if p else None for s, p in zip(servers, peaks)]))
rows.append(("(c) idle SSE", "RSS KiB per connection", [number(read("idle", s), "rss_per_connection_kib") for s in servers]))
rows.append(("(c) idle SSE", "connections held", [number(read("idle", s), "subscribers_connected") for s in servers]))
rows.append(("idle WebSockets", "RSS KiB per connection", [number(read("idle-ws", s), "rss_per_connection_kib") for s in servers]))
rows.append(("idle WebSockets", "connections held", [number(read("idle-ws", s), "subscribers_connected") for s in servers]))
for key, what in [
    ("publish_per_s", "durable writes/s"),
    ("publish_p50_ms", "commit p50 ms"),
    ("publish_p99_ms", "commit p99 ms"),
    ("latency_p99_ms", "delivery p99 ms"),
    ("server_cpu_us_per_publish", "server CPU µs per write"),
    ("tool_cpu_us_per_publish", "load tool CPU µs per write"),
    ("lost", "lost"),
]:
    rows.append(("(d) writes, 64 writers", what, [number(read("writes", s), key) for s in servers]))


def show(value):
    if value is None:
        return "n/a"
    return f"{value:,.0f}" if abs(value) >= 100 or value == int(value) else f"{value:.2f}"


def ratio(a, b):
    if a is None or b is None or b == 0:
        return "n/a"
    return f"{a / b:.2f}"


print("| workload | figure | Eddy | Nchan | Pushpin | Eddy/Nchan | Eddy/Pushpin |")
print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
for label, what, (eddy, nchan, pushpin) in rows:
    print(f"| {label} | {what} | {show(eddy)} | {show(nchan)} | {show(pushpin)} | {ratio(eddy, nchan)} | {ratio(eddy, pushpin)} |")


def headline_rows():
    """(workload, metric, unit, server, value, lost, note) for what this run measured."""
    def connected_note(values, what):
        got, failed = number(values, "subscribers_connected"), number(values, "subscribers_failed")
        if got is not None and failed:
            return f"{got:,.0f} of {got + failed:,.0f} {what}"
        return ""

    def lost_of(values):
        lost = number(values, "lost")
        return "" if lost is None else f"{lost:.0f}"

    found = []
    for server in servers:
        for name, workload in [("idle", "idle-sse"), ("idle-ws", "idle-ws")]:
            values = read(name, server)
            kib = number(values, "rss_per_connection_kib")
            if kib is not None:
                found.append((workload, "rss_per_connection", "KiB", server, f"{kib:.2f}", "",
                              connected_note(values, "held")))
        # (results file, headline workload): the fan-outs, then each pair of the rates workload.
        latencies = [("fanout-sse", "fanout-sse"), ("fanout-ws", "fanout-ws")] + [
            (f"rates-{subscribers}x{rate}", f"latency-{subscribers}x{rate}") for subscribers, rate in rate_pairs()]
        for name, workload in latencies:
            values = read(name, server)
            for key, metric in [("latency_p50_ms", "p50"), ("latency_p99_ms", "p99")]:
                ms = number(values, key)
                if ms is not None:
                    text = f"{ms:.0f}" if ms >= 10 else f"{ms:.1f}"
                    found.append((workload, metric, "ms", server, text, lost_of(values), connected_note(values, "connected")))
        best = peak(server)
        if best:
            deliveries, rate, lost, p99 = best
            if lost or p99 is None or p99 >= PEAK_P99_MS:
                note = f"no step without loss and with p99 under {PEAK_P99_MS} ms: the most, at {float(rate):g} writes/s asked"
            else:
                note = f"{float(rate):g} writes/s asked, p99 {p99:,.0f} ms"
            found.append(("peak", "deliveries_per_s", "deliveries/s", server, f"{deliveries:.0f}",
                          "" if lost is None else f"{lost:.0f}", note))
        values = read("writes", server)
        writes = number(values, "publish_per_s")
        if writes is not None:
            cpu = number(values, "server_cpu_us_per_publish")
            found.append(("writes", "durable_writes_per_s", "writes/s", server, f"{writes:.0f}", lost_of(values),
                          f"{cpu:.0f} µs of the server's CPU per write" if cpu is not None else ""))
    return found


if headline:
    fields = ["workload", "metric", "unit", "server", "value", "lost", "series", "note"]
    with open(headline, newline="", encoding="utf-8") as f:
        existing = list(csv.DictReader(f))
    measured = headline_rows()
    fresh = {(r[0], r[1], r[3]): dict(zip(fields, [*r[:6], series, r[6]])) for r in measured}
    merged = [fresh.pop((r["workload"], r["metric"], r["server"]), r) for r in existing]
    merged += fresh.values()
    with open(headline, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(merged)
    print(f"updated {headline}: {len(measured)} figures from this run", file=sys.stderr)
