#!/usr/bin/env python3
"""Prints bench/run.sh's results as one Markdown table with the ratios Eddy/peer.
Usage: table.py RESULTS-DIR."""
import os
import re
import sys

out = sys.argv[1]
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


def peak(server):
    """The most deliveries/s of a saturation step, and that step's rate: among the steps that
    lost nothing, or among all of them when every step lost something."""
    steps = []
    for file in os.listdir(out):
        match = re.fullmatch(rf"saturation-([0-9.]+)-{server}\.txt", file)
        if match:
            values = read(f"saturation-{match.group(1)}", server)
            value = number(values, "deliveries_per_s")
            if value is not None:
                steps.append((value, match.group(1), number(values, "lost")))
    lossless = [step for step in steps if step[2] == 0]
    return max(lossless or steps, default=None)


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
peaks = [peak(s) for s in servers]
rows.append(("(b) saturation SSE", "peak deliveries/s", [p[0] if p else None for p in peaks]))
rows.append(("(b) saturation SSE", "at writes/s", [float(p[1]) if p else None for p in peaks]))
rows.append(("(b) saturation SSE", "lost at the peak", [p[2] if p else None for p in peaks]))
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
