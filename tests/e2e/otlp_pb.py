"""The OTLP protobuf messages in Python, for the end-to-end receivers, and the
JSON lines they write.

load() runs protoc on the repository's own .proto files (proto/) into a
temporary directory and imports the generated modules, so the tests decode
exactly the schema the sensor encodes with. The span lines have the shape of
tests/e2e/otlp_sink.cpp's, so tests treat the gRPC and HTTP receivers alike.
"""
import importlib
import importlib.util
import logging
import math
import pathlib
import shutil
import subprocess
import sys
import tempfile
from types import SimpleNamespace

PROTO_ROOT = pathlib.Path(__file__).resolve().parents[2] / "proto"

TRACE_PROTOS = [
    "opentelemetry/proto/common/v1/common.proto",
    "opentelemetry/proto/resource/v1/resource.proto",
    "opentelemetry/proto/trace/v1/trace.proto",
    "opentelemetry/proto/collector/trace/v1/trace_service.proto",
    "google/rpc/status.proto",
]
METRICS_PROTOS = [
    "opentelemetry/proto/metrics/v1/metrics.proto",
    "opentelemetry/proto/collector/metrics/v1/metrics_service.proto",
]

log = logging.getLogger("otlp_pb")


def _protoc(out, proto_root, files):
    subprocess.run(["protoc", f"--python_out={out}", f"-I{proto_root}", *files],
                   check=True, capture_output=True, text=True, timeout=60)


def _import_file(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load(proto_root=PROTO_ROOT):
    """Generates and imports the modules. Returns a namespace with
    trace_service, status (google.rpc) and metrics_service (None when the
    metrics protos are missing or do not compile)."""
    proto_root = pathlib.Path(proto_root)
    missing = [p for p in TRACE_PROTOS if not (proto_root / p).exists()]
    if missing:
        raise RuntimeError(f"missing proto files under {proto_root}: {', '.join(missing)}")
    out = pathlib.Path(tempfile.mkdtemp(prefix="otlp_pb_"))
    try:
        try:
            _protoc(out, proto_root, TRACE_PROTOS)
        except subprocess.CalledProcessError as e:
            raise RuntimeError(f"protoc failed: {e.stderr.strip()}") from None
        have_metrics = all((proto_root / p).exists() for p in METRICS_PROTOS)
        if have_metrics:
            try:
                _protoc(out, proto_root, METRICS_PROTOS)
            except subprocess.CalledProcessError as e:
                log.warning("metrics protos do not compile, metrics will only be counted: %s", e.stderr.strip())
                have_metrics = False
        else:
            log.warning("no metrics protos under %s: metrics will only be counted", proto_root)
        # Regular packages, so an installed "opentelemetry" distribution cannot
        # shadow ours; "google" stays untouched (google.protobuf lives there),
        # which is why the Status module is imported by file instead.
        for directory in [out / "opentelemetry", *(out / "opentelemetry").rglob("*")]:
            if directory.is_dir():
                (directory / "__init__.py").touch()
        sys.path.insert(0, str(out))
        try:
            trace_service = importlib.import_module("opentelemetry.proto.collector.trace.v1.trace_service_pb2")
            metrics_service = None
            if have_metrics:
                metrics_service = importlib.import_module(
                    "opentelemetry.proto.collector.metrics.v1.metrics_service_pb2")
            status = _import_file("spanwire_google_rpc_status_pb2", out / "google" / "rpc" / "status_pb2.py")
        finally:
            sys.path.remove(str(out))
    finally:
        shutil.rmtree(out, ignore_errors=True)  # everything needed is imported by now
    return SimpleNamespace(trace_service=trace_service, metrics_service=metrics_service, status=status)


# ---------------------------------------------------------------- JSON lines

def _finite(x):
    # nlohmann::json (the gRPC sink) writes NaN and infinities as null.
    return x if math.isfinite(x) else None


def any_value(value):
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "bytes_value":
        return value.bytes_value.hex()
    if kind == "kvlist_value":
        return attributes(value.kvlist_value.values)
    if kind == "array_value":
        return [any_value(v) for v in value.array_value.values]
    if kind == "double_value":
        return _finite(value.double_value)
    return getattr(value, kind)


def attributes(key_values):
    return {kv.key: any_value(kv.value) for kv in key_values}


def span_lines(request, call):
    """One dict per span of an ExportTraceServiceRequest, keys and order as otlp_sink's."""
    lines = []
    for rs in request.resource_spans:
        resource = attributes(rs.resource.attributes)
        for ss in rs.scope_spans:
            for span in ss.spans:
                lines.append({
                    "export_call": call,
                    "trace_id": span.trace_id.hex(),
                    "span_id": span.span_id.hex(),
                    "parent_span_id": span.parent_span_id.hex(),
                    "name": span.name,
                    "kind": int(span.kind),
                    "start": span.start_time_unix_nano,
                    "end": span.end_time_unix_nano,
                    "status_code": int(span.status.code),
                    "status_message": span.status.message,
                    "attributes": attributes(span.attributes),
                    "resource": resource,
                    "scope": ss.scope.name,
                })
    return lines


def _optional(message, field):
    return _finite(getattr(message, field)) if message.HasField(field) else None


def _point_common(metric, kind, point, call, resource, scope):
    return {
        "export_call": call,
        "name": metric.name,
        "description": metric.description,
        "unit": metric.unit,
        "type": kind,
        "attributes": attributes(point.attributes),
        "resource": resource,
        "scope": scope,
        "start": point.start_time_unix_nano,
        "time": point.time_unix_nano,
    }


def _number(point):
    which = point.WhichOneof("value")
    if which == "as_int":
        return point.as_int
    if which == "as_double":
        return _finite(point.as_double)
    return None


def metric_point_lines(request, call):
    """One dict per data point of an ExportMetricsServiceRequest: the metric's
    name, unit and type ("gauge", "sum", "histogram", "exponential_histogram",
    "summary"), the point's attributes, resource and times, and its values
    ("value" for gauges and sums; "count", "sum", buckets ... otherwise)."""
    lines = []
    for rm in request.resource_metrics:
        resource = attributes(rm.resource.attributes)
        for sm in rm.scope_metrics:
            scope = sm.scope.name
            for metric in sm.metrics:
                kind = metric.WhichOneof("data")
                if kind is None:
                    continue
                data = getattr(metric, kind)
                for point in data.data_points:
                    line = _point_common(metric, kind, point, call, resource, scope)
                    if kind in ("gauge", "sum"):
                        line["value"] = _number(point)
                    if kind == "sum":
                        line["is_monotonic"] = data.is_monotonic
                    if kind in ("sum", "histogram", "exponential_histogram"):
                        line["temporality"] = int(data.aggregation_temporality)
                    if kind == "histogram":
                        line.update(count=point.count, sum=_optional(point, "sum"),
                                    bucket_counts=list(point.bucket_counts),
                                    explicit_bounds=[_finite(b) for b in point.explicit_bounds],
                                    min=_optional(point, "min"), max=_optional(point, "max"))
                    elif kind == "exponential_histogram":
                        line.update(count=point.count, sum=_optional(point, "sum"), scale=point.scale,
                                    zero_count=point.zero_count,
                                    positive={"offset": point.positive.offset,
                                              "bucket_counts": list(point.positive.bucket_counts)},
                                    negative={"offset": point.negative.offset,
                                              "bucket_counts": list(point.negative.bucket_counts)},
                                    min=_optional(point, "min"), max=_optional(point, "max"))
                    elif kind == "summary":
                        line.update(count=point.count, sum=_finite(point.sum),
                                    quantiles=[[q.quantile, _finite(q.value)] for q in point.quantile_values])
                    lines.append(line)
    return lines


def count_data_points(request):
    return sum(len(getattr(m, m.WhichOneof("data")).data_points)
               for rm in request.resource_metrics for sm in rm.scope_metrics for m in sm.metrics
               if m.WhichOneof("data") is not None)
