#!/usr/bin/env bash
# Builds the sensor image from deploy/Dockerfile and, with --smoke, runs it on
# this host (privileged, host PID and network, as the DaemonSet does) and
# checks that it prints the spans of a few loopback requests.
#   sudo scripts/image.sh [--tag spanwire:dev] [--smoke] [--base-from-apt]
# Uses docker when its daemon answers, else podman (installed from Debian).
# --base-from-apt: for machines that reach Debian's mirror but no container
#   registry: debian:12 and debian:12-slim are made locally with debootstrap.
# Not part of CI: the build alone takes ~6 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."

TAG=spanwire:dev SMOKE=0 BASE_FROM_APT=0
while [ $# -gt 0 ]; do
  case "$1" in
    --tag) TAG=$2; shift 2 ;;
    --smoke) SMOKE=1; shift ;;
    --base-from-apt) BASE_FROM_APT=1; shift ;;
    *) echo "image.sh: unknown option $1 (use --tag T, --smoke, --base-from-apt)" >&2; exit 2 ;;
  esac
done

WORK=$(mktemp -d /tmp/spanwire-image.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
  ENGINE=docker
else
  command -v podman >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
    podman runc uidmap fuse-overlayfs slirp4netns containernetworking-plugins >/dev/null
  ENGINE=podman
  # Containers keep this shell's open-file limit and at most 32768 processes
  # (podman's own process limit) instead of raising them, which some
  # sandboxes refuse; runc accepts the hybrid cgroup v1/v2 hierarchies that
  # crun rejects.
  NPROC=$(ulimit -u); { [ "$NPROC" = unlimited ] || [ "$NPROC" -gt 32768 ]; } && NPROC=32768
  NOFILE=$(ulimit -n); [ "$NOFILE" = unlimited ] && NOFILE=1048576
  cat >"$WORK/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=$NOFILE:$NOFILE", "nproc=$NPROC:$NPROC"]
[engine]
runtime = "runc"
EOF
  export CONTAINERS_CONF="$WORK/containers.conf"
fi
echo "image.sh: building with $ENGINE"

if [ "$BASE_FROM_APT" = 1 ]; then
  command -v debootstrap >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >/dev/null
  debootstrap --variant=minbase bookworm "$WORK/rootfs" http://deb.debian.org/debian >"$WORK/debootstrap.log"
  rm -f "$WORK/rootfs/etc/apt/sources.list"
  cat >"$WORK/rootfs/etc/apt/sources.list.d/debian.sources" <<'EOF'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  rm -rf "$WORK"/rootfs/var/lib/apt/lists/* "$WORK"/rootfs/var/cache/apt/*.bin
  tar -C "$WORK/rootfs" -c . | $ENGINE import - docker.io/library/debian:12 >/dev/null
  $ENGINE tag docker.io/library/debian:12 docker.io/library/debian:12-slim
fi
PULL=()
[ "$BASE_FROM_APT" = 1 ] && [ "$ENGINE" = podman ] && PULL=(--pull=never)

$ENGINE build "${PULL[@]}" --network=host -f deploy/Dockerfile -t "$TAG" .
if $ENGINE run --rm --entrypoint /usr/bin/ldd "$TAG" /usr/bin/spanwire | grep "not found"; then
  echo "image.sh: the image lacks the libraries above" >&2
  exit 1
fi
[ "$SMOKE" = 1 ] || exit 0

# --- smoke run: the image traces a loopback HTTP server ---------------------
mountpoint -q /sys/kernel/tracing || mount -t tracefs nodev /sys/kernel/tracing
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
NAME=spanwire-smoke-$$
/usr/bin/python3 -m http.server "$PORT" --bind 127.0.0.1 --directory "$WORK" >/dev/null 2>&1 &
SERVER=$!
trap '$ENGINE rm -f "$NAME" >/dev/null 2>&1 || true; kill "$SERVER" 2>/dev/null || true; rm -rf "$WORK"' EXIT
$ENGINE run -d --name "$NAME" --privileged --pid=host --network=host \
  -v /sys/kernel/tracing:/sys/kernel/tracing:ro -v /sys/kernel/btf:/sys/kernel/btf:ro -v /sys/fs/bpf:/sys/fs/bpf \
  "$TAG" run --no-k8s --port "$PORT" >/dev/null
for _ in $(seq 60); do  # attached once it says so, at most 30 s
  $ENGINE logs "$NAME" 2>&1 | grep -q "hooks attached" && break
  sleep 0.5
done
for _ in 1 2 3; do curl -s -o /dev/null "http://127.0.0.1:$PORT/"; done
sleep 2
$ENGINE stop -t 15 "$NAME" >/dev/null
LOGS=$($ENGINE logs "$NAME" 2>&1)
echo "$LOGS" | grep -E "SERVER|CLIENT" || true
SERVER_SPANS=$(echo "$LOGS" | grep -c "SERVER python3.* GET / -> 200" || true)
if [ "$SERVER_SPANS" -ge 3 ]; then
  echo "image.sh: $TAG traced $SERVER_SPANS of 3 requests"
else
  echo "image.sh: $TAG printed $SERVER_SPANS server spans for 3 requests; its log:" >&2
  echo "$LOGS" >&2
  exit 1
fi
