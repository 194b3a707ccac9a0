#!/usr/bin/env python3
"""Side by side: `kiln build` and `docker build` (classic builder) of the same context, same daemon.

Scenarios:
  first      both build from scratch (`--no-cache`): upload, every step, layer commit;
  unchanged  both build again with nothing changed (after one warm-up build each).

Each round runs the two tools in alternating order and records wall time and peak RSS of the
whole process (os.wait4). Prints a Markdown table for docs/PERFORMANCE.md.

    benches/scripts/compare_build.py [--scenario first|unchanged] [--rounds 3]
        [--context benches/corpus] [--kiln target/release/kiln]
"""
import argparse
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def run(command, env=None):
    """Runs `command`; returns (seconds, peak RSS in MiB)."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    stderr = process.stderr.read().decode(errors="replace")
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{' '.join(command)} failed:\n{stderr}")
    return elapsed, usage.ru_maxrss / 1024


def remove(tag):
    subprocess.run(["docker", "rmi", "-f", tag], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", choices=["first", "unchanged"], default="first")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--context", default=os.path.join(ROOT, "benches", "corpus"))
    parser.add_argument("--settle", type=float, default=3.0, help="seconds to wait before a first build")
    parser.add_argument("--kiln", default=os.path.join(ROOT, "target", "release", "kiln"))
    args = parser.parse_args()

    if not os.path.exists(os.path.join(args.context, "Dockerfile")):
        subprocess.run(["cargo", "run", "--quiet", "--release", "-p", "kiln-benches", "--bin", "make-corpus",
                        "--", "large", args.context], check=True, cwd=ROOT)
    docker_env = dict(os.environ, DOCKER_BUILDKIT="0")
    no_cache = ["--no-cache"] if args.scenario == "first" else []
    tools = {
        "docker build": (["docker", "build", "-q", *no_cache, "-t", "kiln-bench-docker:latest", args.context],
                         docker_env, "kiln-bench-docker:latest"),
        "kiln build": ([args.kiln, "build", args.context, "-q", *no_cache, "--tag", "kiln-bench-kiln:latest"],
                       None, "kiln-bench-kiln:latest"),
    }
    if args.scenario == "unchanged":
        for command, env, _ in tools.values():
            run(command, env)

    results = {name: [] for name in tools}
    for round_index in range(args.rounds):
        order = list(tools) if round_index % 2 == 0 else list(reversed(tools))
        for name in order:
            command, env, tag = tools[name]
            if args.scenario == "first":
                remove(tag)
                # Let the daemon finish deleting and the disk settle, so no run pays for another.
                subprocess.run(["sync"])
                time.sleep(args.settle)
            seconds, rss = run(command, env)
            results[name].append((seconds, rss))
            print(f"round {round_index + 1}: {name}: {seconds:.2f} s, {rss:.1f} MiB", file=sys.stderr)

    def seconds(value):
        return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"

    print(f"| scenario: {args.scenario} ({args.rounds} rounds) | median wall | min | max | peak RSS |")
    print("|---|---|---|---|---|")
    medians = {}
    for name, samples in results.items():
        times = [s for s, _ in samples]
        medians[name] = statistics.median(times)
        print(f"| {name} | {seconds(medians[name])} | {seconds(min(times))} | {seconds(max(times))} | "
              f"{max(r for _, r in samples):.1f} MiB |")
    ratio = medians["kiln build"] / medians["docker build"]
    print(f"\nkiln / docker median wall time: {ratio:.3f}× (docker / kiln: {1 / ratio:.0f}×)")
    for _, _, tag in tools.values():
        remove(tag)
    return 0


if __name__ == "__main__":
    sys.exit(main())
