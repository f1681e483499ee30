"""A reverse proxy in front of Outpost for the browser tests, as a load balancer would be:
it forwards every request and answers 502 Bad Gateway when the server is down. The test can
also make it answer the next N requests of a method with a given status (a gateway 503/504, or
an upstream 500), through GET /__proxy/fail?status=503&count=1&method=POST&prefix=/hubs/.

Usage: python3 proxy.py LISTEN_PORT UPSTREAM_PORT
"""
import http.client
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

LISTEN, UPSTREAM = int(sys.argv[1]), int(sys.argv[2])
HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection"}
faults = []  # [method, path prefix, status, remaining]
lock = threading.Lock()


def take_fault(method, path):
    with lock:
        for fault in faults:
            if fault[0] == method and path.startswith(fault[1]) and fault[3] > 0:
                fault[3] -= 1
                return fault[2]
    return None


class Proxy(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, body, content_type="text/html"):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def forward(self):
        url = urlparse(self.path)
        if url.path == "/__proxy/reset":
            with lock:
                faults.clear()
            return self.answer(200, "ok", "text/plain")
        if url.path == "/__proxy/fail":
            q = parse_qs(url.query)
            with lock:
                faults.append([q.get("method", ["POST"])[0], q.get("prefix", ["/"])[0], int(q["status"][0]), int(q.get("count", ["1"])[0])])
            return self.answer(200, "ok", "text/plain")
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        status = take_fault(self.command, url.path)
        if status:
            return self.answer(status, f"<html><body><h1>{status} from the gateway</h1></body></html>")
        try:
            upstream = http.client.HTTPConnection("127.0.0.1", UPSTREAM, timeout=60)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
            upstream.request(self.command, self.path, body=body, headers=headers)
            res = upstream.getresponse()
            data = res.read()
        except OSError:
            return self.answer(502, "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center></body></html>")
        self.send_response(res.status, res.reason)
        for k, v in res.getheaders():
            if k.lower() not in HOP and k.lower() != "content-length":
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        upstream.close()

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = forward


ThreadingHTTPServer.daemon_threads = True
ThreadingHTTPServer(("127.0.0.1", LISTEN), Proxy).serve_forever()
