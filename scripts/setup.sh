#!/usr/bin/env bash
# Installs every build and test dependency of spanwire from Debian's archive.
# Idempotent: packages already present are skipped, apt is not touched when nothing is missing.
set -euo pipefail

BUILD_PKGS=(
  build-essential cmake ninja-build pkg-config git
  clang llvm libbpf-dev bpftool libelf-dev libdw-dev libcapstone-dev zlib1g-dev
  libprotobuf-dev protobuf-compiler libgrpc++-dev protobuf-compiler-grpc
  libspdlog-dev libfmt-dev libcli11-dev nlohmann-json3-dev libyaml-cpp-dev
  libcurl4-openssl-dev libnghttp2-dev libhttp-parser-dev libjemalloc-dev
  prometheus-cpp-dev libcpp-httplib-dev libabsl-dev
)
TEST_PKGS=(
  libgtest-dev libgmock-dev libbenchmark-dev
  python3 python3-pytest python3-grpcio python3-protobuf python3-yaml curl nginx-light nghttp2-client nghttp2-server nghttp2-proxy openssl procps iproute2 util-linux tcpdump libcurl3-gnutls golang-go
  libclang-rt-14-dev wrk
  redis-server redis-tools python3-redis
  postgresql-15 postgresql-client-15 python3-psycopg2 python3-asyncpg
  mariadb-server mariadb-client python3-pymysql libdbd-mariadb-perl
)

if [ "$(id -u)" -ne 0 ]; then
  echo "setup.sh: must run as root (it installs Debian packages); try: sudo $0" >&2
  exit 1
fi

want=("${BUILD_PKGS[@]}")
if [ "${1:-}" != "--build-only" ]; then want+=("${TEST_PKGS[@]}"); fi

missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup.sh: all ${#want[@]} packages already installed"
  exit 0
fi

echo "setup.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
