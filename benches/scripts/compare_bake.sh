#!/usr/bin/env bash
# Side by side: `kiln bake` of a 24-cell matrix over a shared base, and the same 24 cells built
# by 24 `docker build` runs (the loop users write today) — nothing changed, one file of one
# implementation changed — and kiln's first build with -j 2 against -j 1.
#
#   benches/scripts/compare_bake.sh [ROUNDS]       (needs busybox-static, hyperfine)
#
# The matrix: base (1) + impl-a, impl-b, impl-c × version v1..v3 × mode "", debug (18)
# + tester × version v1..v5 (5) = 24 cells. Every Dockerfile has a RUN step (busybox base).
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds="${1:-10}"
kiln="$PWD/target/release/kiln"
[ -x "$kiln" ] || cargo build --release -p kiln-cli

work="$(mktemp -d)"
prefix="kb$$"
cleanup() {
  docker images --filter "label=kiln.bench=$prefix" -q | sort -u | xargs -r docker rmi -f > /dev/null 2>&1 || true
  docker rmi -f "$prefix-busybox:1" > /dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# A busybox base made locally (no pull).
mkdir -p "$work/rootfs/bin"
cp /bin/busybox "$work/rootfs/bin/"
for applet in sh echo cat; do ln -sf busybox "$work/rootfs/bin/$applet"; done
tar -C "$work/rootfs" -c . | docker import - "$prefix-busybox:1" > /dev/null

m="$work/matrix"
mkdir -p "$m/base/etc" "$m/tester"
printf 'FROM %s\nLABEL kiln.bench=%s\nCOPY etc/ /etc/\nRUN echo base > /etc/base\n' "$prefix-busybox:1" "$prefix" > "$m/base/Dockerfile"
echo base > "$m/base/etc/motd"
for impl in a b c; do
  mkdir -p "$m/impl-$impl/src"
  printf 'ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nARG VERSION\nARG BUILD_MODE\nCOPY src/ /src/\nRUN echo "$VERSION $BUILD_MODE" > /build-info\n' > "$m/impl-$impl/Dockerfile"
  for n in $(seq 20); do echo "impl $impl file $n" > "$m/impl-$impl/src/f$n.c"; done
done
printf 'ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nARG VERSION\nCOPY run.sh /run.sh\nRUN echo "$VERSION" > /tester-version\n' > "$m/tester/Dockerfile"
echo 'echo test' > "$m/tester/run.sh"
{
  echo 'version = 1'
  echo "[[image]]"; echo "name = \"$prefix-base\""; echo 'context = "base"'
  for impl in a b c; do
    echo "[[image]]"; echo "name = \"$prefix-impl-$impl\""; echo "context = \"impl-$impl\""
    echo "requires = [{ image = \"$prefix-base\", as = \"BASE_IMAGE\" }]"
    echo 'matrix = { version = ["v1", "v2", "v3"], mode = ["", "debug"] }'
  done
  echo "[[image]]"; echo "name = \"$prefix-tester\""; echo 'context = "tester"'
  echo "requires = [{ image = \"$prefix-base\", as = \"BASE_IMAGE\" }]"
  echo 'matrix = { version = ["v1", "v2", "v3", "v4", "v5"] }'
} > "$m/kiln.toml"

# The same 24 cells as `docker build` commands, parents first.
docker_loop="$work/docker-loop.sh"
{
  echo "set -e"
  echo "docker build -q -t $prefix-d-base:latest $m/base > /dev/null"
  for impl in a b c; do
    for version in v1 v2 v3; do
      for mode in "" debug; do
        echo "docker build -q -t $prefix-d-impl-$impl-$version:latest${mode:+-$mode} --build-arg BASE_IMAGE=$prefix-d-base:latest --build-arg VERSION=$version --build-arg BUILD_MODE=$mode $m/impl-$impl > /dev/null"
      done
    done
  done
  for version in v1 v2 v3 v4 v5; do
    echo "docker build -q -t $prefix-d-tester-$version:latest --build-arg BASE_IMAGE=$prefix-d-base:latest --build-arg VERSION=$version $m/tester > /dev/null"
  done
} > "$docker_loop"
export DOCKER_CLI_HINTS=false

bake() { KILN_CACHE_DIR="$work/cache" "$kiln" bake -q -f "$m/kiln.toml" --log-dir "$work/logs" "$@" > /dev/null; }

echo "== first build of the 24 cells, no layer cache: -j 1 against -j 2"
for jobs in 1 2; do
  docker images --filter "label=kiln.bench=$prefix" -q | sort -u | xargs -r docker rmi -f > /dev/null 2>&1 || true
  rm -rf "$work/cache"
  start=$(date +%s.%N)
  KILN_NO_CACHE=1 bake -j "$jobs"
  end=$(date +%s.%N)
  echo "kiln bake -j $jobs: $(echo "$end - $start" | bc) s"
done
bash "$docker_loop" 2> /dev/null

echo "== nothing changed: kiln bake (whole process) against 24 docker build runs"
hyperfine --warmup 2 --runs "$rounds" -N --export-json "$work/unchanged.json" \
  "env KILN_CACHE_DIR=$work/cache $kiln bake -q -f $m/kiln.toml --log-dir $work/logs" \
  "bash $docker_loop"
python3 -c 'import json,sys
for r in json.load(open(sys.argv[1]))["results"]: print("median %.1f ms  %s" % (r["median"] * 1000, r["command"][:70]))' "$work/unchanged.json"

echo "== one file of impl-a changed: only its 6 cells rebuild (a new change for each tool)"
for round in $(seq 3); do
  echo "change $round for kiln" >> "$m/impl-a/src/f1.c"
  start=$(date +%s.%N)
  out=$(KILN_CACHE_DIR="$work/cache" "$kiln" bake -q -f "$m/kiln.toml" --log-dir "$work/logs" --json)
  end=$(date +%s.%N)
  kiln_s=$(echo "$end - $start" | bc)
  rebuilt=$(echo "$out" | python3 -c 'import json,sys; print(sum(c["outcome"]=="built" for c in json.load(sys.stdin)["cells"]))')
  echo "change $round for docker" >> "$m/impl-a/src/f1.c"
  start=$(date +%s.%N); bash "$docker_loop" 2> /dev/null; end=$(date +%s.%N)
  docker_s=$(echo "$end - $start" | bc)
  echo "round $round: kiln bake $kiln_s s ($rebuilt cells built), 24 docker builds $docker_s s"
done
