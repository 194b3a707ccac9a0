#!/usr/bin/env bash
# Side by side: `docker push` and `kiln push` of an image whose layers the registry already has,
# and `kiln exists --remote` (a manifest HEAD) — against a local docker-registry with htpasswd
# auth, started here on a free loopback port.
#
#   benches/scripts/compare_push.sh [RUNS]        (needs docker-registry, htpasswd, hyperfine)
set -euo pipefail
cd "$(dirname "$0")/../.."
runs="${1:-20}"
kiln="$PWD/target/release/kiln"
[ -x "$kiln" ] || cargo build --release -p kiln-cli

work="$(mktemp -d)"
trap 'kill "$registry_pid" 2>/dev/null || true; rm -rf "$work"' EXIT
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
htpasswd -Bbn bench 'b3nch?pass' > "$work/htpasswd"
cat > "$work/config.yml" <<YAML
version: 0.1
log: { level: error }
storage: { filesystem: { rootdirectory: $work/storage } }
http: { addr: 127.0.0.1:$port }
auth: { htpasswd: { realm: bench, path: $work/htpasswd } }
YAML
docker-registry serve "$work/config.yml" > "$work/registry.log" 2>&1 &
registry_pid=$!
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$port/v2/" && break; sleep 0.1; done

export DOCKER_CONFIG="$work/docker"
mkdir -p "$DOCKER_CONFIG"
echo 'b3nch?pass' | docker login -u bench --password-stdin "127.0.0.1:$port" > /dev/null 2>&1

# A multi-layer image: a base and four layers of 1-8 MiB.
mkdir -p "$work/context"
{
  echo "FROM scratch"
  for n in 1 2 4 8; do
    head -c "$((n * 1024 * 1024))" /dev/urandom > "$work/context/layer$n.bin"
    echo "COPY layer$n.bin /layer$n.bin"
  done
} > "$work/context/Dockerfile"
ref="127.0.0.1:$port/bench/push:latest"
DOCKER_BUILDKIT=0 docker build -q -t "$ref" "$work/context" > /dev/null
docker push "$ref" > /dev/null   # the registry now has every layer

hyperfine -N -w 2 -r "$runs" --export-markdown "$work/push.md" \
  "docker push $ref" \
  "$kiln push $ref"
cat "$work/push.md"
hyperfine -N -w 3 -r "$((runs * 2))" --export-markdown "$work/exists.md" \
  "$kiln exists $ref --remote"
cat "$work/exists.md"
docker rmi -f "$ref" > /dev/null
