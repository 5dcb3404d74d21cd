#!/usr/bin/env python3
"""Summarises the `top` snapshots bench/run.sh keeps beside each result: mean CPU (% of one core,
over the snapshots) of the server under test, of the load tool, and of everything else, so each
figure can say whether the server, the load generator or a neighbour had the cores.
Usage: cpu_share.py RESULTS-DIR"""
import glob
import os
import sys

SERVER = {
    "eddy": ("eddy",),
    "nchan": ("nginx",),
    "pushpin": ("condure", "pushpin-proxy", "pushpin-handl", "pushpin-handler", "zurl", "pushpin", "python3"),
}
# Workers are exec'd through /proc/self/exe, so top names them "exe".
LOAD = ("eddy-load", "exe")
IGNORE = ("top",)

print("| run | server % | load tool % | others % | busiest others |")
print("| --- | ---: | ---: | ---: | --- |")
for path in sorted(glob.glob(os.path.join(sys.argv[1], "*.top"))):
    name = os.path.basename(path)[:-4]
    server = name.rsplit("-", 1)[1]
    samples, totals, others = 0, {"server": 0.0, "load": 0.0, "other": 0.0}, {}
    for line in open(path):
        if line.startswith("top -"):
            samples += 1
            continue
        fields = line.split()
        if len(fields) < 12 or not fields[0].isdigit():
            continue
        try:
            cpu = float(fields[8])
        except ValueError:
            continue
        command = fields[11]
        if command in IGNORE:
            continue
        if command in SERVER.get(server, ()):
            totals["server"] += cpu
        elif command in LOAD:
            totals["load"] += cpu
        else:
            totals["other"] += cpu
            others[command] = others.get(command, 0.0) + cpu
    if samples == 0:
        continue
    busiest = ", ".join(f"{k} {v / samples:.0f}" for k, v in sorted(others.items(), key=lambda kv: -kv[1])[:3])
    print(f"| {name} | {totals['server'] / samples:.0f} | {totals['load'] / samples:.0f} | {totals['other'] / samples:.0f} | {busiest} |")
