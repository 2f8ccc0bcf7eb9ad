"""The Kubernetes manifests users apply: they render with kustomize, have the
shape the API server accepts, and agree with what the binary really reads
(config file, environment variables, ports of its probes, kernel mounts).
No cluster is needed; nothing here loads BPF."""
import os
import pathlib
import re
import shutil
import subprocess

import pytest
import yaml

from conftest import cannot_run

ROOT = pathlib.Path(__file__).resolve().parents[2]
BASE = ROOT / "deploy" / "k8s"
LEAST = ROOT / "deploy" / "k8s-least-privilege"
KNOWN_KINDS = {("v1", "Namespace"), ("v1", "ServiceAccount"), ("v1", "ConfigMap"),
               ("rbac.authorization.k8s.io/v1", "ClusterRole"),
               ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"), ("apps/v1", "DaemonSet")}
# What the sensor needs from the node, by path inside the container.
NEEDED_MOUNTS = {"/sys/kernel/tracing", "/sys/fs/bpf", "/sys/kernel/btf"}
# Capabilities of the least-privilege variant, each documented in the README.
NEEDED_CAPS = {"BPF", "PERFMON", "SYS_PTRACE", "DAC_READ_SEARCH", "SYS_RESOURCE", "NET_ADMIN"}


def render(directory):
    """The manifests as kubectl apply -k would send them: kubectl's own kustomize
    when kubectl is installed, else the same assembly done here (resources,
    the config-map generator, strategic-merge patches are not needed for the base)."""
    kubectl = shutil.which("kubectl")
    if kubectl:
        out = subprocess.run([kubectl, "kustomize", str(directory)], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        return [d for d in yaml.safe_load_all(out.stdout) if d]
    if directory != BASE:
        cannot_run("kubectl is not installed: overlays are rendered only by kubectl's kustomize")
    print("\nNOTE: kubectl not installed; assembling deploy/k8s by hand")
    k = yaml.safe_load((directory / "kustomization.yaml").read_text())
    docs = []
    for r in k["resources"]:
        docs += [d for d in yaml.safe_load_all((directory / r).read_text()) if d]
    for gen in k.get("configMapGenerator", []):
        docs.append({"apiVersion": "v1", "kind": "ConfigMap",
                     "metadata": {"name": gen["name"], "namespace": k["namespace"]},
                     "data": {f: (directory / f).read_text() for f in gen["files"]}})
    return docs


def one(docs, kind):
    found = [d for d in docs if d["kind"] == kind]
    assert len(found) == 1, f"expected one {kind}, got {len(found)}"
    return found[0]


@pytest.mark.parametrize("directory", [BASE, LEAST], ids=["privileged", "least-privilege"])
def test_manifests_render_with_the_shape_the_api_accepts(directory):
    docs = render(directory)
    for d in docs:
        assert (d.get("apiVersion"), d.get("kind")) in KNOWN_KINDS, d.get("kind")
        assert d["metadata"].get("name"), d
        if d["kind"] not in ("Namespace", "ClusterRole", "ClusterRoleBinding"):
            assert d["metadata"].get("namespace") == "spanwire", d["metadata"]
    ds = one(docs, "DaemonSet")
    spec = ds["spec"]["template"]["spec"]
    assert ds["spec"]["selector"]["matchLabels"].items() <= ds["spec"]["template"]["metadata"]["labels"].items()
    assert spec["hostPID"] is True
    assert spec["serviceAccountName"] == one(docs, "ServiceAccount")["metadata"]["name"]
    binding = one(docs, "ClusterRoleBinding")
    assert binding["roleRef"]["name"] == one(docs, "ClusterRole")["metadata"]["name"]
    assert binding["subjects"][0]["name"] == spec["serviceAccountName"]
    # Least rights: read-only verbs only.
    for rule in one(docs, "ClusterRole")["rules"]:
        assert set(rule["verbs"]) <= {"get", "list", "watch"}, rule
    (container,) = spec["containers"]
    for key in ("requests", "limits"):
        assert {"cpu", "memory"} <= container["resources"][key].keys()
    sc = container["securityContext"]
    if directory == BASE:
        assert sc["privileged"] is True
    else:
        assert sc["privileged"] is False
        assert sc["capabilities"]["drop"] == ["ALL"]
        assert set(sc["capabilities"]["add"]) == NEEDED_CAPS


def test_daemonset_matches_what_the_binary_reads(tmp_path, build_dir):
    docs = render(BASE)
    ds = one(docs, "DaemonSet")
    spec = ds["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert NEEDED_MOUNTS <= mounts.keys()
    for path in NEEDED_MOUNTS:
        assert volumes[mounts[path]["name"]]["hostPath"]["path"] == path

    # The --config file is the ConfigMap's, and the binary accepts it.
    args = container["args"]
    config_path = pathlib.PurePosixPath(args[args.index("--config") + 1])
    mount = mounts[str(config_path.parent)]
    config_map = volumes[mount["name"]]["configMap"]["name"]
    data = next(d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == config_map)["data"]
    config_file = tmp_path / config_path.name
    config_file.write_text(data[config_path.name])

    env = {e["name"]: e for e in container["env"]}
    plain_env = {k: e["value"] for k, e in env.items() if "value" in e}
    def print_config(environment):
        res = subprocess.run([str(build_dir / "spanwire"), *args[:1], "--config", str(config_file), "--print-config"],
                             capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin:/bin", **environment})
        assert res.returncode == 0, res.stderr
        return res.stdout

    # Kubernetes expands $(NAME) from the variables above it.
    expanded = {k: v.replace("$(NODE_NAME)", "node-1") for k, v in plain_env.items()}
    full = print_config(expanded)
    effective = yaml.safe_load(full)

    # Every variable is one the binary reads (leaving it out changes the
    # effective settings), or feeds one through $(NAME).
    referenced = {m for v in plain_env.values() for m in re.findall(r"\$\((\w+)\)", v)}
    for name in env:
        if name in referenced:
            continue
        without = {k: v for k, v in expanded.items() if k != name}
        assert print_config(without) != full, f"{name} is set but the binary does not read it"
    assert effective["export"]["traces"]["endpoint"] == plain_env["OTEL_EXPORTER_OTLP_ENDPOINT"]
    assert effective["service"]["resource_attributes"].get("k8s.node.name") == "node-1"

    # Probes hit the health endpoint where the config serves it.
    port = int(effective["diagnostics"]["metrics_addr"].rsplit(":", 1)[1])
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": port}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": port}
    assert {p["containerPort"] for p in container["ports"]} == {port}


def test_image_installs_every_library_the_binary_links(build_dir):
    """The runtime stage of deploy/Dockerfile installs the Debian package of
    every shared library the binary needs directly (no container runtime is
    needed to check that; the image itself is built where one is)."""
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    runtime = dockerfile[dockerfile.rindex("FROM "):]
    install = re.search(r"apt-get install -y --no-install-recommends(.*?)&&", runtime, re.S).group(1)
    packages = set(install.replace("\\", " ").split())
    needed = subprocess.run(["readelf", "-d", str(build_dir / "spanwire")], capture_output=True, text=True,
                            check=True).stdout
    base_image = {"libc6", "libstdc++6", "libgcc-s1"}  # in every Debian image
    resolved = subprocess.run(["ldd", str(build_dir / "spanwire")], capture_output=True, text=True, check=True).stdout
    paths = dict(re.findall(r"^\s*(\S+) => (/\S+)", resolved, re.M))
    for lib in re.findall(r"NEEDED.*\[(.+)\]", needed):
        owner = subprocess.run(["dpkg", "-S", paths[lib]], capture_output=True, text=True)
        if owner.returncode != 0:  # /lib is a symlink to /usr/lib on Debian 12; dpkg knows one of the two
            owner = subprocess.run(["dpkg", "-S", os.path.realpath(paths[lib])], capture_output=True, text=True)
        assert owner.returncode == 0, f"no Debian package ships {paths[lib]}"
        package = owner.stdout.split(":")[0]
        assert package in packages | base_image, f"{lib} comes from {package}, missing in deploy/Dockerfile"
    # The image runs the sensor itself; the DaemonSet points it at the ConfigMap's file.
    assert 'ENTRYPOINT ["/usr/bin/spanwire"]' in runtime
    assert 'CMD ["run"]' in runtime
    daemonset = (ROOT / "deploy" / "k8s" / "daemonset.yaml").read_text()
    assert 'args: ["run", "--config", "/etc/spanwire/config.yaml"]' in daemonset
