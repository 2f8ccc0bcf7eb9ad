"""Kubernetes metadata end to end: processes started inside cgroups laid out
the way the kubelet and containerd lay them out, a fake API server (real HTTP,
real list/watch shapes) describing their pods, and the real sensor on real
BPF: spans must name the pod, its workload and its service, and client spans
the service they called; through a watch event, a dropped watch and a 410."""
import json
import pathlib
import urllib.request

import pytest

from conftest import (HERE, PYTHON, attr, cannot_run, curl, free_port, read_line, start_sensor, start_sink,
                      wait_for_port)

NODE = "node-1"
SERVER, CLIENT = 2, 3


def cgroup2_root():
    for line in open("/proc/mounts"):
        dev, mnt, fstype = line.split()[:3]
        if fstype == "cgroup2":
            return pathlib.Path(mnt)
    return None


class FakePod:
    """A pod as the node sees it: a cgroup named after its UID and container id
    (systemd driver, containerd), and the API object that describes it."""

    def __init__(self, name, uid, container_id, ip, labels, owner_rs):
        self.name, self.uid, self.container_id, self.ip = name, uid, container_id, ip
        root = cgroup2_root()
        if root is None:
            cannot_run("no cgroup v2 hierarchy mounted: cannot place processes in pod-like cgroups")
        slug = uid.replace("-", "_")
        self.dirs = [root / "kubepods.slice", root / "kubepods.slice" / "kubepods-besteffort.slice",
                     root / "kubepods.slice" / "kubepods-besteffort.slice" / f"kubepods-besteffort-pod{slug}.slice"]
        self.dirs.append(self.dirs[-1] / f"cri-containerd-{container_id}.scope")
        for d in self.dirs:
            d.mkdir(exist_ok=True)
        self.object = {
            "kind": "Pod", "apiVersion": "v1",
            "metadata": {"name": name, "namespace": "shop", "uid": uid, "resourceVersion": "1", "labels": labels,
                         "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": owner_rs,
                                              "uid": f"rs-{uid}", "controller": True}]},
            "spec": {"nodeName": NODE, "containers": [{"name": "app", "image": "example/app:1"}]},
            "status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
                       "containerStatuses": [{"name": "app", "ready": True, "restartCount": 0,
                                              "containerID": f"containerd://{container_id}"}]},
        }

    def enter(self, pid):
        (self.dirs[-1] / "cgroup.procs").write_text(str(pid))

    def remove(self):
        for d in reversed(self.dirs):
            try:
                d.rmdir()
            except OSError:
                pass  # still in use by another pod of this test, or already gone


def replicaset(name, deployment, uid):
    return {"kind": "ReplicaSet", "apiVersion": "apps/v1",
            "metadata": {"name": name, "namespace": "shop", "uid": uid, "resourceVersion": "1",
                         "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": deployment,
                                              "uid": f"dep-{deployment}", "controller": True}]}}


@pytest.fixture
def pods(procs):
    made = []

    def make(*args, **kwargs):
        pod = FakePod(*args, **kwargs)
        made.append(pod)
        return pod
    yield make
    procs.stop_all()  # a cgroup can only be removed once its processes are gone
    for pod in made:
        pod.remove()


def control(port, body):
    req = urllib.request.Request(f"http://127.0.0.1:{port}/_control", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(req, timeout=5) as r:
        assert r.status == 200


def start_app(procs, host, name):
    port = free_port()
    proc = procs.start([PYTHON, str(HERE / "apps" / "http_app.py"), str(port), host], name)
    assert read_line(proc) == "ready"
    wait_for_port(port, host=host)
    return port, proc


def test_spans_carry_pod_workload_and_peer_metadata(procs, build_dir, tmp_path, pods):
    checkout = pods("checkout-7c9d8f6b5d-x2k4q", "5f0c3b9e-8a1d-4c2e-9b7f-1a2b3c4d5e6f", "ab" * 32, "127.0.0.3",
                    {"app.kubernetes.io/name": "checkout-api", "pod-template-hash": "7c9d8f6b5d"},
                    "checkout-7c9d8f6b5d")
    state = tmp_path / "cluster.json"
    state.write_text(json.dumps({
        "pods": [checkout.object],
        "replicasets": [replicaset("checkout-7c9d8f6b5d", "checkout", f"rs-{checkout.uid}")],
        "services": [{"kind": "Service", "apiVersion": "v1",
                      "metadata": {"name": "payments", "namespace": "shop", "uid": "svc-1", "resourceVersion": "1"},
                      "spec": {"clusterIP": "127.0.0.5", "clusterIPs": ["127.0.0.5"]}}],
    }))
    token = tmp_path / "token"
    token.write_text("s3cret-token")
    api = procs.start([PYTHON, str(HERE / "fake_apiserver.py"), "--state", str(state), "--token", "s3cret-token"],
                      "apiserver")
    api_port = int(read_line(api).rsplit(":", 1)[1])

    app_port, app = start_app(procs, "127.0.0.3", "checkout_app")
    checkout.enter(app.pid)
    sink = start_sink(procs, build_dir, tmp_path, "grpc")
    sensor = start_sensor(procs, build_dir, tmp_path, [
        "--otlp-endpoint", sink.endpoint, "--otlp-protocol", "grpc", "--batch-timeout-ms", "200",
        "--k8s-api", f"http://127.0.0.1:{api_port}", "--k8s-token-file", str(token), "--node-name", NODE])
    stats = sensor.wait_stats(lambda s: s.get("k8s_lists", 0) >= 4 and s.get("k8s_pods_cached", 0) >= 1)
    assert stats["k8s_pods_cached"] == 1, stats

    curl(f"http://127.0.0.3:{app_port}/hello")
    spans = sink.wait_for(lambda s: attr(s, "url.path") == "/hello", 2, timeout=20)
    server = next(s for s in spans if s["kind"] == SERVER)
    r = server["resource"]
    assert r["service.name"] == "checkout-api", r  # the app.kubernetes.io/name label
    assert r["service.namespace"] == "shop"
    assert r["k8s.namespace.name"] == "shop"
    assert r["k8s.pod.name"] == checkout.name and r["k8s.pod.uid"] == checkout.uid
    assert r["k8s.container.name"] == "app" and r["container.id"] == checkout.container_id
    assert r["k8s.deployment.name"] == "checkout" and r["k8s.replicaset.name"] == "checkout-7c9d8f6b5d"
    assert r["k8s.node.name"] == NODE
    client = next(s for s in spans if s["kind"] == CLIENT)
    assert attr(client, "peer.service") == "checkout-api", client["attributes"]
    assert "k8s.pod.name" not in client["resource"]  # curl runs on the host

    # A pod that appears later, through a watch event, after the watch was
    # dropped once and expired once (410: relist).
    control(api_port, {"op": "drop_watches"})
    control(api_port, {"op": "expire"})
    cart = pods("cart-5d8f9c7b6-abcde", "6a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4e", "cd" * 32, "127.0.0.4",
                {"pod-template-hash": "5d8f9c7b6"}, "cart-5d8f9c7b6")
    cart_port, cart_app = start_app(procs, "127.0.0.4", "cart_app")
    cart.enter(cart_app.pid)
    control(api_port, {"op": "add", "kind": "pods", "object": cart.object})
    stats = sensor.wait_stats(lambda s: s.get("k8s_pods_cached", 0) >= 2, timeout=20)
    assert stats["k8s_pods_cached"] == 2, stats
    assert stats["k8s_relists_gone"] + stats["k8s_watch_restarts"] >= 1, stats
    curl(f"http://127.0.0.4:{cart_port}/users/7")
    spans = sink.wait_for(lambda s: attr(s, "url.path") == "/users/7" and s["kind"] == SERVER, 1, timeout=20)
    r = spans[0]["resource"]
    # No label, no env: the owning workload's name (the ReplicaSet is not cached:
    # the Deployment name comes from the pod-template-hash naming rule).
    assert r["service.name"] == "cart" and r["k8s.deployment.name"] == "cart", r
    assert r["k8s.pod.name"] == cart.name

