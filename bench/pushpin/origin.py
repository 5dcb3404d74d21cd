#!/usr/bin/env python3
"""Pushpin's origin for the benchmark: holds every GET as a GRIP stream on the channel named by
the last path segment, and accepts WebSocket-over-HTTP sessions by subscribing them to that
channel. It sees each connection once; Pushpin carries the events without it."""
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Origin(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def channel(self):
        return self.path.split("?")[0].rstrip("/").rsplit("/", 1)[-1] or "topic"

    def do_GET(self):
        body = b":held\n\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Grip-Hold", "stream")
        self.send_header("Grip-Channel", self.channel())
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        # WebSocket-over-HTTP: answer OPEN with OPEN and a control message joining the channel;
        # anything else the client says is ignored.
        length = int(self.headers.get("Content-Length", "0"))
        events = self.rfile.read(length)
        out = b""
        if events.startswith(b"OPEN"):
            control = ('c:{"type":"subscribe","channel":"%s"}' % self.channel()).encode()
            out = b"OPEN\r\nTEXT %x\r\n%s\r\n" % (len(control), control)
        self.send_response(200)
        self.send_header("Content-Type", "application/websocket-events")
        self.send_header("Sec-WebSocket-Extensions", "grip")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args):
        pass


ThreadingHTTPServer.daemon_threads = True
ThreadingHTTPServer.request_queue_size = 4096
ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1]) if len(sys.argv) > 1 else 9100), Origin).serve_forever()
