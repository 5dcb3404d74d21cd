#!/usr/bin/env python3
"""Memory per idle SSE connection of a fresh `eddy serve`.

Starts the server on a loopback port, reads its VmRSS, opens N event streams on one resource
from 127.0.0.2, 127.0.0.3, ... (spread over client processes so none nears the fd limit),
waits for the first frame on every stream, reads VmRSS again and prints the growth per
connection. Everything it starts is stopped before it exits.

    bench/idle-sse-rss.py --eddy .build/release/eddy --connections 10000
"""

import argparse
import json
import os
import resource
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

FIRST_FRAME = b": eddy\n\n"


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def raise_fd_limit(wanted):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, wanted)), hard))


def client(port, path, first_address, count, per_address, in_flight):
    """Opens `count` streams, says "ready" on stdout, and holds them until stdin closes."""
    raise_fd_limit(count + 100)
    request = (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: text/event-stream\r\n\r\n").encode()
    selector = selectors.DefaultSelector()
    held, pending, opened = [], 0, 0
    received = {}
    deadline = time.monotonic() + 300
    while len(held) < count:
        while opened < count and pending < in_flight:
            address = f"127.0.{(first_address + opened // per_address) // 256}.{(first_address + opened // per_address) % 256}"
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setblocking(False)
            sock.bind((address, 0))
            try:
                sock.connect((f"127.0.0.1", port))
            except BlockingIOError:
                pass
            selector.register(sock, selectors.EVENT_WRITE, "connecting")
            received[sock] = b""
            opened += 1
            pending += 1
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out with {len(held)} of {count} streams open")
        for key, mask in selector.select(timeout=1):
            sock = key.fileobj
            if key.data == "connecting":
                error = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if error:
                    raise SystemExit(f"connect failed: {os.strerror(error)}")
                sock.sendall(request)
                selector.modify(sock, selectors.EVENT_READ, "reading")
                continue
            data = sock.recv(4096)
            if not data:
                raise SystemExit(f"server closed a stream before its first frame: {received[sock][:200]!r}")
            received[sock] += data
            if FIRST_FRAME in received[sock]:
                selector.unregister(sock)
                del received[sock]
                held.append(sock)
                pending -= 1
    print("ready", flush=True)
    sys.stdin.read()
    for sock in held:
        sock.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--eddy", default=".build/release/eddy")
    parser.add_argument("--connections", type=int, default=10_000)
    parser.add_argument("--path", default="/.eddy/value-stream/bench/idle", help="stream to open (GET)")
    parser.add_argument("--port", type=int, default=18_941)
    parser.add_argument("--clients", type=int, default=2, help="client processes")
    parser.add_argument("--per-address", type=int, default=100, help="streams per source address")
    parser.add_argument("--in-flight", type=int, default=200, help="streams opening at once per client")
    parser.add_argument("--settle", type=float, default=3.0, help="seconds to wait before each RSS reading")
    parser.add_argument("--wrap", default="", help="command to run the server under, e.g. 'heaptrack -o /tmp/eddy'"
                        " (the RSS figures are then not the server's)")
    parser.add_argument("--client", nargs=3, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        first_address, count, port = args.client
        return client(port, args.path, first_address, count, args.per_address, args.in_flight)
    if args.connections > 15_000:
        raise SystemExit("at most 15,000 connections")

    raise_fd_limit(args.connections + 1000)
    data = tempfile.mkdtemp(prefix="eddy-idle-sse-")
    server = subprocess.Popen(
        args.wrap.split() + [args.eddy, "serve", "--port", str(args.port), "--data", data,
         "--max-connections-per-address", str(args.connections + 10), "--log-level", "error"],
        stdin=subprocess.DEVNULL)
    clients = []
    try:
        base = f"http://127.0.0.1:{args.port}"
        for _ in range(200):
            try:
                urllib.request.urlopen(base + "/healthz", timeout=1).read()
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise SystemExit("the server did not start")
        resource_path = args.path.split("-stream", 1)[-1] if "-stream/" in args.path else "/bench/idle"
        put = urllib.request.Request(base + resource_path, data=json.dumps({"v": 0}).encode(), method="PUT",
                                     headers={"Content-Type": "application/json"})
        urllib.request.urlopen(put, timeout=5).read()
        time.sleep(args.settle)
        before = rss_kib(server.pid)

        share = -(-args.connections // args.clients)
        first_address = 2
        started = time.monotonic()
        for index in range(args.clients):
            count = min(share, args.connections - index * share)
            if count <= 0:
                break
            clients.append(subprocess.Popen(
                [sys.executable, __file__, "--path", args.path, "--per-address", str(args.per_address),
                 "--in-flight", str(args.in_flight), "--client", str(first_address), str(count), str(args.port)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True))
            first_address += -(-count // args.per_address)
        for process in clients:
            if process.stdout.readline().strip() != "ready":
                raise SystemExit("a client failed")
        opened_in = time.monotonic() - started
        time.sleep(args.settle)
        after = rss_kib(server.pid)
        per = (after - before) / args.connections
        print(f"path {args.path}: {args.connections} idle streams opened in {opened_in:.1f} s")
        print(f"RSS before {before} KiB, after {after} KiB, growth {after - before} KiB")
        print(f"{per:.2f} KiB per connection")
    finally:
        for process in clients:
            try:
                process.stdin.close()
                process.wait(timeout=30)
            except Exception:
                process.kill()
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
