#!/usr/bin/python3
"""otlp_http_receiver: a real OTLP/HTTP receiver (binary protobuf) for end-to-end
tests. It takes POST /v1/traces and /v1/metrics, decodes them with modules
protoc generates from the repository's own .proto files (otlp_pb.py), and
appends one JSON line per span (the shape of otlp_sink's, the gRPC receiver)
and per metric data point, so tests can check what a collector would have got.

  otlp_http_receiver.py --listen 127.0.0.1:0 --out spans.jsonl
      [--metrics-out metrics.jsonl] [--status-file status.json]
      [--tls-cert cert.pem --tls-key key.pem [--tls-client-ca ca.pem]]
      [--require-header name=value]
      [--fail-first N [--fail-status 503] [--retry-after S]] [--partial-reject N]

--require-header answers 401 to requests without that header value;
--fail-first answers the first N trace requests with --fail-status (and a
Retry-After header when --retry-after is given) without decoding them;
--partial-reject answers every accepted trace request with a partial success
rejecting N spans (they are still written to --out: it shows what arrived).
Answers follow the OTLP/HTTP specification: 200 with an Export*ServiceResponse,
errors with a google.rpc.Status, both as application/x-protobuf; 404 for other
paths, 415 for other content types or encodings, 400 for undecodable bodies.

Prints "listening <host>:<port>" on stdout once ready; logs go to stderr; the
status file is rewritten (atomically) after every request. Stops cleanly on
SIGTERM or SIGINT.
"""
import argparse
import gzip
import http.server
import json
import logging
import os
import pathlib
import signal
import socket
import ssl
import sys
import threading
import urllib.parse
import zlib

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import otlp_pb  # noqa: E402

log = logging.getLogger("otlp_http_receiver")

TRACES, METRICS = "/v1/traces", "/v1/metrics"
MAX_BODY = 64 * 1024 * 1024  # never the reason a test fails, but bounded
PROTOBUF = "application/x-protobuf"


class Receiver:
    """What the handlers share: the options, the output files and the counts.
    One lock serialises requests' effects, keeping each request's lines
    together and the status file consistent."""

    def __init__(self, args, pb):
        self.args, self.pb = args, pb
        self.lock = threading.Lock()
        self.spans_out = open(args.out, "a", encoding="utf-8")
        self.metrics_out = open(args.metrics_out, "a", encoding="utf-8") if args.metrics_out else None
        self.required = None
        if args.require_header:
            name, sep, value = args.require_header.partition("=")
            if not sep or not name:
                raise SystemExit("--require-header wants name=value")
            self.required = (name.strip(), value)
        self.listen = ""
        self.counts = {
            "requests": 0, "export_calls": 0, "spans": 0, "metrics_calls": 0, "data_points": 0,
            "attempts": 0, "failed_on_purpose": 0, "header_failures": 0, "gzip_requests": 0,
            "tls_failures": 0,
        }
        self.by_path = {}
        self.user_agents = {}

    def close(self):
        self.spans_out.close()
        if self.metrics_out:
            self.metrics_out.close()

    def write_status(self):
        """Caller holds the lock."""
        if not self.args.status_file:
            return
        status = {"listen": self.listen, **self.counts,
                  # The gRPC sink's names for the same counts, so tests can read either receiver.
                  "unauthenticated": self.counts["header_failures"],
                  "compressed_calls": self.counts["gzip_requests"],
                  "by_path": self.by_path, "user_agents": self.user_agents}
        tmp = f"{self.args.status_file}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(json.dumps(status) + "\n")
        os.replace(tmp, self.args.status_file)

    def record(self, path, code):
        with self.lock:
            self.counts["requests"] += 1
            per_path = self.by_path.setdefault(path, {})
            per_path[str(code)] = per_path.get(str(code), 0) + 1
            self.write_status()

    def count(self, key, n=1):
        with self.lock:
            self.counts[key] += n
            self.write_status()

    def header_ok(self, headers):
        if self.required is None:
            return True
        name, value = self.required
        return headers.get(name) == value

    def take_planned_failure(self):
        """True while the first --fail-first trace requests are being failed."""
        with self.lock:
            if self.counts["failed_on_purpose"] < self.args.fail_first:
                self.counts["failed_on_purpose"] += 1
                return True
            return False

    def accept_traces(self, body):
        request = self.pb.trace_service.ExportTraceServiceRequest.FromString(body)
        with self.lock:
            self.counts["export_calls"] += 1
            lines = otlp_pb.span_lines(request, self.counts["export_calls"])
            self.counts["spans"] += len(lines)
            # One write per request, flushed at once: a polling test never sees half of it.
            self.spans_out.write("".join(json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n"
                                         for line in lines))
            self.spans_out.flush()
        log.debug("trace request: %d spans", len(lines))
        response = self.pb.trace_service.ExportTraceServiceResponse()
        if self.args.partial_reject:
            response.partial_success.rejected_spans = self.args.partial_reject
            response.partial_success.error_message = f"receiver told to reject {self.args.partial_reject} spans"
        return response.SerializeToString()

    def accept_metrics(self, body):
        if self.pb.metrics_service is None:  # no metrics protos: count the call only
            self.count("metrics_calls")
            return b""
        request = self.pb.metrics_service.ExportMetricsServiceRequest.FromString(body)
        with self.lock:
            self.counts["metrics_calls"] += 1
            lines = otlp_pb.metric_point_lines(request, self.counts["metrics_calls"])
            self.counts["data_points"] += len(lines)
            if self.metrics_out:
                self.metrics_out.write("".join(json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n"
                                               for line in lines))
                self.metrics_out.flush()
        log.debug("metrics request: %d data points", len(lines))
        return self.pb.metrics_service.ExportMetricsServiceResponse().SerializeToString()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    server_version = "otlp_http_receiver"
    timeout = 60  # an idle keep-alive connection is closed after this

    def log_message(self, fmt, *args):
        log.debug("%s %s", self.address_string(), fmt % args)

    def setup(self):
        # TLS in the connection's own thread, so a slow handshake never blocks accept().
        self.tls_failed = False
        tls = self.server.tls
        if tls is not None:
            self.request.settimeout(10)
            self.request = tls.wrap_socket(self.request, server_side=True, do_handshake_on_connect=False)
            try:
                self.request.do_handshake()
            except (ssl.SSLError, OSError) as e:
                log.info("TLS handshake with %s failed: %s", self.client_address[0], e)
                self.server.receiver.count("tls_failures")
                self.tls_failed = True
                self._linger_close()
                return
        super().setup()

    def _linger_close(self):
        """Closes after the client has read our TLS alert: a close with unread
        bytes pending sends a TCP reset, which could overtake the alert."""
        raw = self.request
        try:
            socket.socket.shutdown(raw, socket.SHUT_WR)
            raw.settimeout(0.2)
            for _ in range(5):  # at most about a second
                if not socket.socket.recv(raw, 65536):
                    break
        except OSError:
            pass
        raw.close()

    def handle(self):
        if not self.tls_failed:
            super().handle()

    def finish(self):
        if not self.tls_failed:
            super().finish()

    @property
    def receiver(self):
        return self.server.receiver

    def _answer(self, code, body=b"", headers=()):
        self.send_response(code)
        self.send_header("Content-Type", PROTOBUF)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _fail(self, path, code, message, headers=()):
        """An OTLP error answer: a google.rpc.Status with the message."""
        log.info("%s %s -> %d: %s", self.command, self.path, code, message)
        status = self.receiver.pb.status.Status(message=message)
        self._answer(code, status.SerializeToString(), headers)
        self.receiver.record(path, code)

    def _read_body(self):
        """The request body, as sent (Content-Length or chunked); None if too large."""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks, total = [], 0
            while True:
                size = int(self.rfile.readline(1024).split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                total += size
                if total > MAX_BODY:
                    return None
                chunks.append(self.rfile.read(size))
                self.rfile.readline(1024)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            return None
        return self.rfile.read(length)

    def do_POST(self):
        path = urllib.parse.urlsplit(self.path).path
        try:
            body = self._read_body()
        except (ValueError, OSError) as e:
            self.close_connection = True
            self._fail(path, 400, f"cannot read the request body: {e}")
            return
        if body is None:
            self.close_connection = True  # the rest of the body is still on the wire
            self._fail(path, 413, f"body larger than {MAX_BODY} bytes")
            return
        user_agent = self.headers.get("User-Agent", "")
        with self.receiver.lock:
            self.receiver.user_agents[user_agent] = self.receiver.user_agents.get(user_agent, 0) + 1

        if path not in (TRACES, METRICS):
            self._fail(path, 404, f"no OTLP signal at {path}: use {TRACES} or {METRICS}")
            return
        if not self.receiver.header_ok(self.headers):
            self.receiver.count("header_failures")
            self._fail(path, 401, f"missing or wrong {self.receiver.required[0]} header")
            return
        content_type = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if content_type != PROTOBUF:
            self._fail(path, 415, f"Content-Type '{content_type}' is not supported: send {PROTOBUF}")
            return
        encoding = self.headers.get("Content-Encoding", "identity").strip().lower()
        if encoding not in ("identity", "gzip"):
            self._fail(path, 415, f"Content-Encoding '{encoding}' is not supported: send gzip or none")
            return
        if encoding == "gzip":
            self.receiver.count("gzip_requests")
            try:
                body = gzip.decompress(body)
            except (OSError, EOFError, zlib.error) as e:
                self._fail(path, 400, f"the gzip body does not decompress: {e}")
                return

        if path == TRACES:
            self.receiver.count("attempts")
            if self.receiver.take_planned_failure():
                args = self.receiver.args
                headers = [("Retry-After", str(args.retry_after))] if args.retry_after is not None else []
                self._fail(path, args.fail_status, "receiver told to fail the first requests", headers)
                return
        try:
            answer = self.receiver.accept_traces(body) if path == TRACES else self.receiver.accept_metrics(body)
        except Exception as e:  # protobuf's DecodeError and kin: the data is bad
            self._fail(path, 400, f"cannot decode the request: {e}")
            return
        self._answer(200, answer)
        self.receiver.record(path, 200)

    def _not_post(self):
        path = urllib.parse.urlsplit(self.path).path
        if path in (TRACES, METRICS):
            self._fail(path, 405, f"{self.command} is not allowed: OTLP/HTTP takes POST", [("Allow", "POST")])
        else:
            self._fail(path, 404, f"no OTLP signal at {path}")

    do_GET = do_PUT = do_DELETE = do_PATCH = _not_post

    def do_HEAD(self):
        self.close_connection = True  # a HEAD answer has no body to frame
        self.send_response(405)
        self.send_header("Content-Length", "0")
        self.end_headers()


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True  # idle keep-alive connections do not hold up shutdown


class Server6(Server):
    address_family = socket.AF_INET6


def parse_listen(listen):
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit():
        raise SystemExit(f"--listen {listen!r}: expected host:port")
    return host.strip("[]"), int(port), host.startswith("[")


def tls_context(args):
    if not args.tls_cert:
        return None
    if not args.tls_key:
        raise SystemExit("--tls-cert needs --tls-key")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.tls_cert, args.tls_key)
    if args.tls_client_ca:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(args.tls_client_ca)
    return context


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--listen", default="127.0.0.1:0", help="host:port; port 0 picks a free one")
    parser.add_argument("--out", required=True, help="file to append one JSON line per received span to")
    parser.add_argument("--metrics-out", help="file to append one JSON line per received metric data point to")
    parser.add_argument("--status-file", help="file rewritten with the counts after every request")
    parser.add_argument("--tls-cert", help="serve HTTPS with this PEM certificate (needs --tls-key)")
    parser.add_argument("--tls-key", help="PEM private key of --tls-cert")
    parser.add_argument("--tls-client-ca", help="require client certificates signed by this PEM CA (mTLS)")
    parser.add_argument("--require-header", help="name=value every request must carry (else 401)")
    parser.add_argument("--fail-first", type=int, default=0, help="fail the first N trace requests")
    parser.add_argument("--fail-status", type=int, default=503, help="HTTP status for --fail-first")
    parser.add_argument("--retry-after", type=int, help="Retry-After seconds sent with --fail-first answers")
    parser.add_argument("--partial-reject", type=int, default=0,
                        help="answer trace requests with a partial success rejecting N spans")
    parser.add_argument("--proto-root", default=str(otlp_pb.PROTO_ROOT), help="where the .proto files are")
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args()

    logging.basicConfig(stream=sys.stderr, level=args.log_level.upper(),
                        format="%(asctime)s otlp_http_receiver %(levelname)s %(message)s")
    try:
        pb = otlp_pb.load(args.proto_root)
        receiver = Receiver(args, pb)
        tls = tls_context(args)
        host, port, v6 = parse_listen(args.listen)
        server = (Server6 if v6 else Server)((host, port), Handler)
    except (RuntimeError, OSError, ssl.SSLError) as e:
        log.error("%s", e)
        return 1
    server.receiver, server.tls = receiver, tls

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    serving = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
    serving.start()

    bound = server.server_address
    receiver.listen = f"[{bound[0]}]:{bound[1]}" if v6 else f"{bound[0]}:{bound[1]}"
    with receiver.lock:
        receiver.write_status()
    print(f"listening {receiver.listen}", flush=True)
    log.info("OTLP/HTTP%s on %s (traces %s, metrics %s)", "S" if tls else "", receiver.listen, TRACES,
             METRICS if pb.metrics_service else f"{METRICS}, counted only")

    while not stop.wait(0.5):
        pass
    log.info("stopping")
    server.shutdown()
    server.server_close()
    receiver.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
