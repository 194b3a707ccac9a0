#!/usr/bin/env bash
# A two-platform build (linux/amd64 + linux/arm64, the arm64 RUN under qemu) published as one
# index to a local docker-registry: the platforms one after the other (KILN_PLATFORM_JOBS=1)
# against side by side (KILN_PLATFORM_JOBS=2), every run a full rebuild (--force --no-cache); and
# each platform alone, the bound of the side-by-side build.
#
#   benches/scripts/compare_platforms.sh [RUNS]   (needs docker-registry, htpasswd, hyperfine,
#                                                 qemu-user-static and the arm64 busybox that
#                                                 .ci/setup installs)
set -euo pipefail
cd "$(dirname "$0")/../.."
runs="${1:-5}"
kiln="$PWD/target/release/kiln"
[ -x "$kiln" ] || cargo build --release -p kiln-cli
arm64_busybox=/usr/local/share/kiln-tests/busybox-arm64
[ -x "$arm64_busybox" ] || { echo "run .ci/setup first: $arm64_busybox is missing" >&2; exit 1; }

work="$(mktemp -d)"
base="kiln-bench-platforms-base"
cleanup() {
  kill "$registry_pid" 2>/dev/null || true
  docker rmi -f "$base-amd64:1" "$base-arm64:1" > /dev/null 2>&1 || true
  # Every run replaces the per-platform images: the earlier ones stay untagged under the repository.
  [ -n "${port:-}" ] && docker images -q "127.0.0.1:$port/bench/platforms" | sort -u \
    | xargs -r docker rmi -f > /dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
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
export KILN_REGISTRY_USERNAME=bench KILN_REGISTRY_PASSWORD='b3nch?pass'
export KILN_CACHE_DIR="$work/cache"

# One busybox base per architecture, made offline.
for arch in amd64 arm64; do
  mkdir -p "$work/base-$arch"
  if [ "$arch" = amd64 ]; then cp /bin/busybox "$work/base-$arch/busybox"; else cp "$arm64_busybox" "$work/base-$arch/busybox"; fi
  printf 'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "--install", "-s", "/bin"]\n' \
    > "$work/base-$arch/Dockerfile"
  "$kiln" build "$work/base-$arch" --platform "linux/$arch" --tag "$base-$arch:1" > /dev/null
done

# The same work on both platforms: 48 MiB through md5sum and a shell loop.
mkdir -p "$work/app"
cat > "$work/app/Dockerfile" <<DOCKERFILE
ARG TARGETARCH
FROM $base-\${TARGETARCH}:1
RUN head -c 50331648 /dev/zero | md5sum > /sum && i=0; while [ \$i -lt 100000 ]; do i=\$((i+1)); done
DOCKERFILE
ref="127.0.0.1:$port/bench/platforms:1"
build="$kiln build $work/app --tag $ref --push --force --no-cache --platform"

# Each platform alone too: side by side can be no faster than the slower of the two.
hyperfine -N -w 1 -r "$runs" --export-markdown "$work/platforms.md" \
  "env KILN_PLATFORM_JOBS=1 $build linux/amd64,linux/arm64" \
  "env KILN_PLATFORM_JOBS=2 $build linux/amd64,linux/arm64" \
  "$build linux/amd64" \
  "$build linux/arm64"
cat "$work/platforms.md"
