#!/usr/bin/env python3
"""Make the benchmark corpus: 16,384 files, ~800 MB, deterministic, in DIR (default benches/corpus).

The layout is 64 directories of 256 files; sizes vary from 1 KiB to ~100 KiB around a 50 KiB
mean, contents are pseudo-random (incompressible) bytes from a fixed seed, so every machine gets
the same bytes. A Dockerfile that copies everything is written at the top.

    benches/scripts/make_corpus.py [DIR] [--files N] [--mean-kib K]
"""
import argparse
import os
import random
import sys

DOCKERFILE = "FROM scratch\nCOPY . /corpus/\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dir", nargs="?", default=os.path.join(os.path.dirname(__file__), "..", "corpus"))
    parser.add_argument("--files", type=int, default=16384)
    parser.add_argument("--mean-kib", type=int, default=50)
    parser.add_argument("--per-dir", type=int, default=256)
    args = parser.parse_args()

    root = os.path.abspath(args.dir)
    marker = os.path.join(root, ".corpus-complete")
    wanted = f"{args.files} {args.mean_kib} {args.per_dir}\n"
    if os.path.exists(marker) and open(marker).read() == wanted:
        print(f"corpus already complete in {root}", file=sys.stderr)
        return 0

    rng = random.Random(20261122)
    total = 0
    for index in range(args.files):
        directory = os.path.join(root, f"d{index // args.per_dir:03d}")
        os.makedirs(directory, exist_ok=True)
        size = rng.randint(1024, 2 * args.mean_kib * 1024 - 1024)
        with open(os.path.join(directory, f"f{index:05d}.bin"), "wb") as out:
            out.write(rng.randbytes(size))
        total += size
    with open(os.path.join(root, "Dockerfile"), "w") as out:
        out.write(DOCKERFILE)
    with open(os.path.join(root, ".dockerignore"), "w") as out:
        out.write(".corpus-complete\n")
    with open(marker, "w") as out:
        out.write(wanted)
    print(f"{args.files} files, {total / 1e6:.0f} MB in {root}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
