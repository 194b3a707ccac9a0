#!/usr/bin/env bash
# Side by side: one test of two containers on a fresh network, start to teardown — `kiln run`
# against the same steps done with docker CLI commands in a shell script — and 16 experiments
# at once, each on its own pool subnet (every subnet checked for clashes).
#
#   benches/scripts/compare_run.sh [ROUNDS]        (needs busybox-static, hyperfine)
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds="${1:-10}"
kiln="$PWD/target/release/kiln"
[ -x "$kiln" ] || cargo build --release -p kiln-cli

work="$(mktemp -d)"
image="kiln-bench-run/busybox:1"
cleanup() {
  docker ps -aq --filter label=dev.kiln.managed=true --filter "label=dev.kiln.owner" | xargs -r docker rm -f > /dev/null 2>&1 || true
  docker rm -f kb-server kb-client > /dev/null 2>&1 || true
  docker network rm kb-net > /dev/null 2>&1 || true
  docker rmi -f "$image" > /dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/rootfs/bin"
cp /bin/busybox "$work/rootfs/bin/"
for applet in sh echo nc sleep; do ln -sf busybox "$work/rootfs/bin/$applet"; done
tar -C "$work/rootfs" -c . | docker import - "$image" > /dev/null

server='echo listening; echo pong | nc -l -p 7000'
client='for i in 1 2 3 4 5 6 7 8 9 10; do a=$(echo ping | nc -w 2 server 7000) && [ -n "$a" ] && break; sleep 0.1; done; [ "$a" = pong ]'
cat > "$work/kiln.toml" <<TOML
version = 1
[[test]]
name = "pair"
timeout = "60s"
  [[test.service]]
  name = "server"
  image = "$image"
  command = ["sh", "-c", "$server"]
  ready = { log = "listening" }
  [[test.service]]
  name = "client"
  image = "$image"
  command = ["sh", "-c", "${client//\"/\\\"}"]
  depends_on = ["server"]
  verdict = true
TOML

# The same test on a pool subnet, for the parallel runs.
sed 's/^timeout = "60s"$/timeout = "60s"\nnetwork = { subnet = "pool" }/' "$work/kiln.toml" > "$work/kiln-pool.toml"

# The same steps by hand: network, server, wait for its line, client, logs, removal.
cat > "$work/by-hand.sh" <<SH
set -e
docker network create kb-net > /dev/null
docker run -d --name kb-server --network kb-net --network-alias server $image sh -c '$server' > /dev/null
until docker logs kb-server 2>&1 | grep -q listening; do sleep 0.1; done
docker run --name kb-client --network kb-net $image sh -c '$client'
docker logs kb-server > /dev/null 2>&1
docker logs kb-client > /dev/null 2>&1
docker rm -f kb-server kb-client > /dev/null
docker network rm kb-net > /dev/null
SH

echo "== one test of two containers, start to teardown"
hyperfine --warmup 1 --runs "$rounds" -N --export-json "$work/pair.json" \
  "env KILN_CACHE_DIR=$work/cache $kiln run -q -f $work/kiln.toml" \
  "bash $work/by-hand.sh"
python3 -c 'import json,sys
for r in json.load(open(sys.argv[1]))["results"]: print("median %.1f ms  %s" % (r["median"] * 1000, r["command"][:70]))' "$work/pair.json"

echo "== 16 experiments at once, each on a pool subnet"
start=$(date +%s.%N)
pids=()
for n in $(seq 16); do
  env KILN_CACHE_DIR="$work/cache" "$kiln" run -q -f "$work/kiln-pool.toml" --name "par$n" --subnet-pool 10.218.0.0/16 --json > "$work/par$n.json" &
  pids+=($!)
done
failed=0
for pid in "${pids[@]}"; do wait "$pid" || failed=$((failed + 1)); done
end=$(date +%s.%N)
python3 - "$work" <<'PY'
import ipaddress, json, pathlib, sys
work = pathlib.Path(sys.argv[1])
subnets = []
for report in sorted(work.glob("par*.json")):
    folder = pathlib.Path(json.loads(report.read_text())["folder"])
    metrics = json.loads((folder / "metrics.json").read_text())
    subnets.append(ipaddress.ip_network(metrics["tests"][0]["subnet"] or "0.0.0.0/32"))
clashes = sum(1 for i, a in enumerate(subnets) for b in subnets[i + 1:] if a.overlaps(b))
print(f"{len(subnets)} experiments, {len(set(subnets))} distinct subnets, {clashes} clashes")
PY
echo "failed runs: $failed; wall time for all 16: $(echo "$end - $start" | bc) s"
