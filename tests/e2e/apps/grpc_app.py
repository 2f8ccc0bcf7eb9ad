"""A gRPC server and client on Python's grpcio, for end-to-end tests.

No generated code: the service is registered with generic handlers and
messages are raw bytes, so the test needs nothing beyond python3-grpcio.

  grpc_app.py serve PORT          serves demo.Echo on 127.0.0.1:PORT, prints "ready"
  grpc_app.py call PORT SCENARIO  runs a client scenario, prints one result line per call

Service demo.Echo:
  Unary        echoes the request
  NotFound     fails with NOT_FOUND, message "no such item: 42"
  Stream       server streaming: N responses of 10 bytes, N = first byte of the request
  Collect      client streaming: one response, the total length of the requests
  Chat         bidirectional: echoes every request
Scenarios: unary, notfound, stream, collect (4 requests), chat (3 requests),
concurrent (50 unary calls at once on one channel), held (one call, print
"first", wait for a line on stdin, then two more calls on the same channel),
burst N ROUNDS (ROUNDS rounds of N unary calls at once on one channel: gRPC
then writes many HEADERS frames in one sendmsg of hundreds of iovecs).
"""
import sys
from concurrent import futures

import grpc


def unary(request, context):
    return request


def not_found(request, context):
    context.abort(grpc.StatusCode.NOT_FOUND, "no such item: 42")


def stream(request, context):
    for i in range(request[0]):
        yield bytes([i]) * 10


def collect(requests, context):
    return str(sum(len(r) for r in requests)).encode()


def chat(requests, context):
    for r in requests:
        yield r


def serve(port):
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
    handlers = {
        "Unary": grpc.unary_unary_rpc_method_handler(unary),
        "NotFound": grpc.unary_unary_rpc_method_handler(not_found),
        "Stream": grpc.unary_stream_rpc_method_handler(stream),
        "Collect": grpc.stream_unary_rpc_method_handler(collect),
        "Chat": grpc.stream_stream_rpc_method_handler(chat),
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("demo.Echo", handlers),))
    server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    print("ready", flush=True)
    server.wait_for_termination()


def call(port, scenario, *args):
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        grpc.channel_ready_future(channel).result(timeout=10)
        unary_call = channel.unary_unary("/demo.Echo/Unary")
        if scenario == "unary":
            print("OK", len(unary_call(b"hello grpc", timeout=10)), flush=True)
        elif scenario == "notfound":
            try:
                channel.unary_unary("/demo.Echo/NotFound")(b"x", timeout=10)
            except grpc.RpcError as e:
                print(e.code().name, e.details(), flush=True)
        elif scenario == "stream":
            replies = list(channel.unary_stream("/demo.Echo/Stream")(bytes([5]), timeout=10))
            print("OK", len(replies), flush=True)
        elif scenario == "collect":
            total = channel.stream_unary("/demo.Echo/Collect")(iter([b"a" * 10] * 4), timeout=10)
            print("OK", total.decode(), flush=True)
        elif scenario == "chat":
            replies = list(channel.stream_stream("/demo.Echo/Chat")(iter([b"ping"] * 3), timeout=10))
            print("OK", len(replies), flush=True)
        elif scenario == "held":
            unary_call(b"before", timeout=10)
            print("first", flush=True)
            sys.stdin.readline()
            replies = [unary_call(b"after-%d" % i, timeout=10) for i in range(2)]
            print("OK", len(replies), flush=True)
        elif scenario == "concurrent":
            calls = [unary_call.future(b"call-%02d" % i, timeout=20) for i in range(50)]
            print("OK", sum(1 for c in calls if c.result() is not None), flush=True)
        elif scenario == "burst":
            per_round, rounds = int(args[0]), int(args[1])
            done = 0
            for r in range(rounds):
                calls = [unary_call.future(b"r%02d-c%03d" % (r, i), timeout=30) for i in range(per_round)]
                done += sum(1 for c in calls if c.result() is not None)
            print("OK", done, flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(int(sys.argv[2]))
    else:
        call(int(sys.argv[2]), sys.argv[3], *sys.argv[4:])
