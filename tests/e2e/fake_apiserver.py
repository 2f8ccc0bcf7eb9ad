#!/usr/bin/python3
"""A fake Kubernetes API server for tests: LIST (with limit/continue paging)
and WATCH (chunked newline-delimited JSON events) of pods, replicasets, jobs
and services, in the real server's shapes.

State comes from --state FILE (JSON: {"pods": [...], "replicasets": [...], ...})
and changes while running through POST /_control with a JSON body:
  {"op": "add"|"modify"|"delete", "kind": "pods", "object": {...}}
  {"op": "bookmark", "kind": "pods"}      a BOOKMARK to that kind's watches
  {"op": "drop_watches"}                  close every open watch abruptly
  {"op": "expire"}                        resourceVersions so far become too old:
                                          open watches get an ERROR 410 event,
                                          later watches from them get one too
                                          (or HTTP 410 with "gone_as": "status")
  {"op": "fail", "status": 500, "count": 1}   the next COUNT API requests fail
  {"op": "set_token", "token": "..."}
GET /_requests lists the API requests seen ({"method", "path", "query", "auth"});
GET /_watches tells how many watches are open per kind. The control paths
need no token; the API paths need "Authorization: Bearer <--token>" (401 otherwise).
Prints "listening 127.0.0.1:PORT" once ready.
"""
import argparse
import base64
import http.server
import json
import socket
import ssl
import sys
import threading
import time
import urllib.parse

KINDS = {
    "/api/v1/pods": ("pods", "PodList", "Pod", "v1"),
    "/apis/apps/v1/replicasets": ("replicasets", "ReplicaSetList", "ReplicaSet", "apps/v1"),
    "/apis/batch/v1/jobs": ("jobs", "JobList", "Job", "batch/v1"),
    "/api/v1/services": ("services", "ServiceList", "Service", "v1"),
}
KIND_BY_NAME = {v[0]: v for v in KINDS.values()}


def status(code, reason, message):
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}


def key_of(obj):
    meta = obj.get("metadata", {})
    return (meta.get("namespace", ""), meta.get("name", ""))


def matches(kind, obj, field_selector):
    if not field_selector:
        return True
    for term in field_selector.split(","):
        field, _, value = term.partition("=")
        if kind == "pods" and field == "spec.nodeName":
            if obj.get("spec", {}).get("nodeName", "") != value:
                return False
        else:
            raise ValueError("field label not supported: " + field)
    return True


class State:
    def __init__(self, token, initial):
        self.cond = threading.Condition()
        self.token = token
        self.rv = 1
        self.objects = {name: {} for name in KIND_BY_NAME}
        self.log = []  # (rv, kind, type, object), in order
        self.expired_below = 0  # watches from an RV under this get 410
        self.expire_generation = 0
        self.drop_generation = 0
        self.failures = []  # statuses for the next API requests
        self.requests = []
        self.open_watches = {name: 0 for name in KIND_BY_NAME}
        for kind, items in initial.items():
            for obj in items:
                self.change("add", kind, obj)

    def change(self, op, kind, obj):
        if kind not in self.objects:
            raise ValueError("unknown kind " + kind)
        self.rv += 1
        obj = json.loads(json.dumps(obj))
        meta = obj.setdefault("metadata", {})
        meta["resourceVersion"] = str(self.rv)
        meta.setdefault("uid", "uid-%s-%s" % key_of(obj))
        _, _, object_kind, api_version = KIND_BY_NAME[kind]
        obj.setdefault("kind", object_kind)
        obj.setdefault("apiVersion", api_version)
        key = key_of(obj)
        if op == "delete":
            self.objects[kind].pop(key, None)
            event = "DELETED"
        else:
            event = "ADDED" if op == "add" or key not in self.objects[kind] else "MODIFIED"
            self.objects[kind][key] = obj
        self.log.append((self.rv, kind, event, obj))

    def bookmark(self, kind):
        self.rv += 1
        _, _, object_kind, api_version = KIND_BY_NAME[kind]
        obj = {"kind": object_kind, "apiVersion": api_version,
               "metadata": {"resourceVersion": str(self.rv)}}
        self.log.append((self.rv, kind, "BOOKMARK", obj))


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("fake_apiserver: " + fmt % args + "\n")

    def send_json(self, code, body, extra_headers=()):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in extra_headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        state = self.server.state
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        if self.path != "/_control":
            return self.send_json(405, status(405, "MethodNotAllowed", "only GET"))
        try:
            cmd = json.loads(body)
            op = cmd["op"]
            with state.cond:
                if op in ("add", "modify", "delete"):
                    state.change(op, cmd["kind"], cmd["object"])
                elif op == "bookmark":
                    state.bookmark(cmd["kind"])
                elif op == "drop_watches":
                    state.drop_generation += 1
                elif op == "expire":
                    state.expired_below = state.rv + 1
                    state.expire_generation += 1
                    self.server.gone_as = cmd.get("gone_as", "event")
                elif op == "fail":
                    state.failures += [int(cmd.get("status", 500))] * int(cmd.get("count", 1))
                elif op == "set_token":
                    state.token = cmd["token"]
                else:
                    raise ValueError("unknown op " + op)
                state.cond.notify_all()
                rv = state.rv
        except (ValueError, KeyError, TypeError) as e:
            return self.send_json(400, {"error": str(e)})
        self.send_json(200, {"resourceVersion": str(rv)})

    def do_GET(self):
        state = self.server.state
        url = urllib.parse.urlsplit(self.path)
        query = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query, keep_blank_values=True).items()}
        if url.path == "/_requests":
            with state.cond:
                return self.send_json(200, list(state.requests))
        if url.path == "/_watches":
            with state.cond:
                return self.send_json(200, dict(state.open_watches))
        with state.cond:
            state.requests.append({"method": "GET", "path": url.path, "query": query,
                                   "auth": self.headers.get("Authorization", "")})
            token = state.token
            failure = state.failures.pop(0) if state.failures else None
        if self.headers.get("Authorization", "") != "Bearer " + token:
            return self.send_json(401, status(401, "Unauthorized", "Unauthorized"))
        if url.path not in KINDS:
            return self.send_json(404, status(404, "NotFound", "the server could not find the requested resource"))
        if failure is not None:
            return self.send_json(failure, status(failure, "InternalError", "injected failure"))
        kind = KINDS[url.path][0]
        try:
            matches(kind, {}, query.get("fieldSelector", ""))
        except ValueError as e:
            return self.send_json(400, status(400, "BadRequest", str(e)))
        if query.get("watch") in ("1", "true"):
            return self.watch(kind, query)
        return self.list(kind, query)

    def list(self, kind, query):
        state = self.server.state
        _, list_kind, _, api_version = KIND_BY_NAME[kind]
        limit = int(query.get("limit", "0") or 0)
        offset = 0
        with state.cond:
            list_rv = state.rv
            if query.get("continue"):
                token = json.loads(base64.b64decode(query["continue"]))
                offset, list_rv = token["offset"], token["rv"]
                if list_rv < state.expired_below:
                    return self.send_json(410, status(410, "Expired", "The provided continue parameter is too old"))
            items = sorted((o for o in state.objects[kind].values()
                            if matches(kind, o, query.get("fieldSelector", ""))), key=key_of)
        page = items[offset:offset + limit] if limit > 0 else items[offset:]
        metadata = {"resourceVersion": str(list_rv)}
        if limit > 0 and offset + limit < len(items):
            metadata["continue"] = base64.b64encode(
                json.dumps({"offset": offset + limit, "rv": list_rv}).encode()).decode()
            metadata["remainingItemCount"] = len(items) - offset - limit
        self.send_json(200, {"kind": list_kind, "apiVersion": api_version, "metadata": metadata, "items": page})

    def send_chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def watch(self, kind, query):
        state = self.server.state
        selector = query.get("fieldSelector", "")
        bookmarks = query.get("allowWatchBookmarks") == "true"
        timeout = int(query.get("timeoutSeconds", "1800") or 1800)
        deadline = time.monotonic() + timeout
        try:
            sent_rv = int(query.get("resourceVersion") or 0)
        except ValueError:
            return self.send_json(400, status(400, "BadRequest", "bad resourceVersion"))
        with state.cond:
            if not sent_rv:
                sent_rv = state.rv
            too_old = sent_rv < state.expired_below
            if too_old and self.server.gone_as == "status":
                return self.send_json(410, status(410, "Expired", "too old resource version"))
            drop_generation = state.drop_generation
            expire_generation = state.expire_generation
            state.open_watches[kind] += 1
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        gone = status(410, "Expired", "too old resource version: %d" % sent_rv)
        try:
            if too_old:
                self.send_chunk(json.dumps({"type": "ERROR", "object": gone}).encode() + b"\n")
                return self.end_stream()
            while True:
                with state.cond:
                    state.cond.wait_for(
                        lambda: state.rv > sent_rv or state.drop_generation != drop_generation
                        or state.expire_generation != expire_generation, timeout=0.2)
                    if state.drop_generation != drop_generation:
                        self.close_connection = True
                        self.connection.shutdown(socket.SHUT_RDWR)  # no final chunk: a dropped connection
                        return
                    if state.expire_generation != expire_generation:
                        pending = [json.dumps({"type": "ERROR", "object": gone}).encode()]
                        done = True
                    else:
                        pending = []
                        done = False
                        for rv, k, event, obj in state.log:
                            if rv <= sent_rv or k != kind:
                                continue
                            if event == "BOOKMARK" and not bookmarks:
                                continue
                            if event != "BOOKMARK" and not matches(kind, obj, selector):
                                continue
                            pending.append(json.dumps({"type": event, "object": obj}).encode())
                        sent_rv = state.rv
                for line in pending:
                    self.send_chunk(line + b"\n")
                if done or time.monotonic() >= deadline:
                    return self.end_stream()
        except (BrokenPipeError, ConnectionResetError, OSError):
            self.close_connection = True
        finally:
            with state.cond:
                state.open_watches[kind] -= 1

    def end_stream(self):
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # Clients leaving mid-request (a watch aborted, a TLS check failing)
        # are part of the tests, not server errors.
        if isinstance(sys.exc_info()[1], (ConnectionError, ssl.SSLError, TimeoutError)):
            return
        super().handle_error(request, client_address)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--token", default="test-token")
    parser.add_argument("--state", help="JSON file: {\"pods\": [...], \"services\": [...], ...}")
    parser.add_argument("--tls-cert")
    parser.add_argument("--tls-key")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    initial = {}
    if args.state:
        with open(args.state) as f:
            initial = json.load(f)
    server = Server(("127.0.0.1", args.port), Handler)
    server.state = State(args.token, initial)
    server.gone_as = "event"
    server.verbose = args.verbose
    if args.tls_cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.tls_cert, args.tls_key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    print("listening 127.0.0.1:%d" % server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
