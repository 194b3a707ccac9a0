#!/usr/bin/env python3
"""Side by side: `kiln build` and `docker build` (classic builder) of the same context, same daemon.

Scenarios:
  first        both build from scratch (`--no-cache`, kiln also `--force`; BuildKit's cache
               pruned before each build): upload, every step, layer commit;
  unchanged    both build again with nothing changed (after one warm-up build each);
  one-byte     one byte of one file changed before each round (same size, new time), then both
               build: `docker build` sends the whole context again, kiln (BuildKit, its own
               session) sends what the daemon asks for; kiln's `context_sent` is recorded;
  second-mode  before each round one byte changes and both build the default mode (untimed);
               then, timed, both build the same context under a second build mode
               (`--mode debug`, `--build-arg BUILD_MODE=debug`).

The changed-file scenarios build with a Dockerfile of their own, outside the context:
`FROM scratch`, `ARG BUILD_MODE`, `COPY . /ctx/`. Each tag's previous image is removed before
it is built again (outside the timing); BuildKit's cache keeps an 849 MB snapshot per kiln build
that copied the context, which `docker builder prune` reclaims. Each round runs the two tools in alternating
order and records wall time and peak RSS of the whole process (os.wait4). Prints a Markdown
table for docs/PERFORMANCE.md.

    benches/scripts/compare_build.py [--scenario first|unchanged|one-byte|second-mode]
        [--rounds 3] [--context benches/corpus] [--kiln target/release/kiln]
        [--builder buildkit|classic|auto]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
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


def run_kiln(command):
    """Runs a `kiln ... --json` command; returns (seconds, peak RSS in MiB, its report)."""
    with tempfile.TemporaryFile() as errors:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors)
        stdout = process.stdout.read()
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - started
        if os.waitstatus_to_exitcode(status) != 0:
            errors.seek(0)
            sys.exit(f"{' '.join(command)} failed:\n{errors.read().decode(errors='replace')}")
    return elapsed, usage.ru_maxrss / 1024, json.loads(stdout)


def read_first_byte(path):
    with open(path, "rb") as file:
        return file.read(1)[0]


def write_first_byte(path, value):
    """Changes the first byte of `path` in place: same size, new modification time."""
    with open(path, "r+b") as file:
        file.write(bytes([value]))


def first_file(context):
    """The first regular file of the context in walk order, other than the Dockerfile and dot files."""
    for directory, subdirectories, files in os.walk(context):
        subdirectories.sort()
        for name in sorted(files):
            if name != "Dockerfile" and not name.startswith("."):
                return os.path.join(directory, name)
    sys.exit(f"no file to change in {context}")


def human(size):
    for unit in ["B", "KiB", "MiB", "GiB"]:
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024


def changed_context(args):
    """The one-byte and second-mode scenarios."""
    builder = args.builder or "buildkit"
    workdir = tempfile.mkdtemp(prefix="kiln-bench-")
    dockerfile = os.path.join(workdir, "Dockerfile")
    with open(dockerfile, "w") as file:
        file.write("FROM scratch\nARG BUILD_MODE\nCOPY . /ctx/\n")
    target = first_file(args.context)
    original = read_first_byte(target)
    docker_env = dict(os.environ, DOCKER_BUILDKIT="0")
    tags = ["kiln-bench-docker:latest", "kiln-bench-docker:debug", "kiln-bench-kiln:latest",
            "kiln-bench-kiln:debug"]

    def docker(mode):
        extra = ["--build-arg", f"BUILD_MODE={mode}"] if mode else []
        tag = "kiln-bench-docker:" + (mode or "latest")
        remove(tag)  # the image it replaces would stay as an 849 MB dangling image
        return run(["docker", "build", "-q", *extra, "-f", dockerfile, "-t", tag, args.context], docker_env)

    def kiln(mode):
        extra = ["--mode", mode] if mode else []
        tag = "kiln-bench-kiln:" + (mode or "latest")
        remove(tag)
        return run_kiln([args.kiln, "build", args.context, "-f", dockerfile, "--builder", builder,
                         *extra, "--tag", tag, "--json"])

    # Warm-up: each tool has built the context once, so the daemon (and kiln) know it.
    docker_seconds, _ = docker("")
    kiln_seconds, _, report = kiln("")
    print(f"warm-up: docker build {docker_seconds:.2f} s; kiln build {kiln_seconds:.2f} s, sent "
          f"{human(report.get('context_sent', {}).get('bytes', 0))}", file=sys.stderr)
    if args.scenario == "second-mode":
        docker("debug")
        kiln("debug")

    timed_mode = "debug" if args.scenario == "second-mode" else ""
    results = {"docker build": [], "kiln build": []}
    sent = []
    context_bytes = 0
    for round_index in range(args.rounds):
        # A value not seen before: every round is a change no build has had.
        write_first_byte(target, (original + 1 + round_index) % 256)
        if args.scenario == "second-mode":
            docker("")
            kiln("")
        order = ["docker build", "kiln build"] if round_index % 2 == 0 else ["kiln build", "docker build"]
        for name in order:
            if name == "docker build":
                seconds, rss = docker(timed_mode)
            else:
                seconds, rss, report = kiln(timed_mode)
                if report["outcome"] != "built":
                    sys.exit(f"kiln did not build: {report['outcome']}: {report['reason']}")
                context_sent = report.get("context_sent")
                if context_sent is None:
                    sys.exit("kiln's report has no context_sent: the context did not go through the session")
                sent.append(context_sent["bytes"])
                context_bytes = context_sent["context_bytes"]
            results[name].append((seconds, rss))
            extra = f", sent {human(sent[-1])}" if name == "kiln build" else ""
            print(f"round {round_index + 1}: {name}: {seconds:.2f} s, {rss:.1f} MiB{extra}", file=sys.stderr)

    label = "one byte changed" if args.scenario == "one-byte" else "second build mode"
    print(f"| {label} ({args.rounds} rounds) | median wall | min | max | file data sent (median) |")
    print("|---|---|---|---|---|")
    medians = {}
    for name, samples in results.items():
        times = [s for s, _ in samples]
        medians[name] = statistics.median(times)
        data = f"{human(statistics.median(sent))} (max {human(max(sent))})" if name == "kiln build" \
            else f"{human(context_bytes)} (the whole context)"
        print(f"| {name} | {format_seconds(medians[name])} | {format_seconds(min(times))} | "
              f"{format_seconds(max(times))} | {data} |")
    ratio = medians["kiln build"] / medians["docker build"]
    print(f"\nkiln / docker median wall time: {ratio:.3f}×; kiln sent at most {max(sent)} bytes of file data")
    # The changed byte goes back, so the corpus is as generated.
    write_first_byte(target, original)
    for tag in tags:
        remove(tag)
    return 0


def format_seconds(value):
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def remove(tag):
    subprocess.run(["docker", "rmi", "-f", tag], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", choices=["first", "unchanged", "one-byte", "second-mode"],
                        default="first")
    parser.add_argument("--builder", choices=["auto", "classic", "buildkit"],
                        help="kiln's --builder (the changed-file scenarios default to buildkit)")
    parser.add_argument("--rounds", type=int, default=3, help="at most 255")
    parser.add_argument("--context", default=os.path.join(ROOT, "benches", "corpus"))
    parser.add_argument("--settle", type=float, default=3.0, help="seconds to wait before a first build")
    parser.add_argument("--kiln", default=os.path.join(ROOT, "target", "release", "kiln"))
    args = parser.parse_args()

    if not os.path.exists(os.path.join(args.context, "Dockerfile")):
        subprocess.run(["cargo", "run", "--quiet", "--release", "-p", "kiln-benches", "--bin", "make-corpus",
                        "--", "large", args.context], check=True, cwd=ROOT)
    if args.scenario in ("one-byte", "second-mode"):
        return changed_context(args)
    docker_env = dict(os.environ, DOCKER_BUILDKIT="0")
    no_cache = ["--no-cache"] if args.scenario == "first" else []
    # `--force`: kiln would otherwise reuse an image it built from the same inputs under another tag.
    force = ["--force"] if args.scenario == "first" else []
    tools = {
        "docker build": (["docker", "build", "-q", *no_cache, "-t", "kiln-bench-docker:latest", args.context],
                         docker_env, "kiln-bench-docker:latest"),
        "kiln build": ([args.kiln, "build", args.context, "-q", *no_cache, *force,
                        *(["--builder", args.builder] if args.builder else []),
                        "--tag", "kiln-bench-kiln:latest"],
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
                # BuildKit keeps its copy of the context and its layers in the build cache: a
                # first build starts without them (the classic builder does not use it).
                subprocess.run(["docker", "builder", "prune", "-af"], stdout=subprocess.DEVNULL)
                # Let the daemon finish deleting and the disk settle, so no run pays for another.
                subprocess.run(["sync"])
                time.sleep(args.settle)
            seconds, rss = run(command, env)
            results[name].append((seconds, rss))
            print(f"round {round_index + 1}: {name}: {seconds:.2f} s, {rss:.1f} MiB", file=sys.stderr)

    seconds = format_seconds

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
