#!/usr/bin/env bash
# Nothing changed: `kiln build` of a corpus it has built before, side by side with a bare stat
# walk of the same tree — `find DIR -printf '%s %T@ %i\n'` on one core, and two such `find`s
# over the two halves of the top-level directories at once (the walk on both cores).
#
#   benches/scripts/compare_noop.sh [DIR] [RUNS]   (DIR: benches/corpus or
#                                                  benches/corpus-100000, made by make-corpus;
#                                                  needs hyperfine)
set -euo pipefail
cd "$(dirname "$0")/../.."
dir="${1:-benches/corpus}"
runs="${2:-30}"
kiln="$PWD/target/release/kiln"
[ -x "$kiln" ] || cargo build --release -p kiln-cli
[ -f "$dir/Dockerfile" ] || { echo "no corpus in $dir: run target/release/make-corpus large|many-small" >&2; exit 1; }

work="$(mktemp -d)"
tag="kiln-bench-noop:$(basename "$dir")"
cleanup() {
  docker rmi -f "$tag" > /dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
export KILN_CACHE_DIR="$work/cache"

# The top-level directories in two halves, each walked by its own find.
mapfile -t tops < <(cd "$dir" && find . -mindepth 1 -maxdepth 1 -type d -printf '%P\n' | sort)
half=$(( ${#tops[@]} / 2 ))
{
  printf 'cd %q\n' "$PWD/$dir"
  printf "find %s -printf '%%s %%T@ %%i\\\\n' > /dev/null &\n" "${tops[*]:0:half}"
  printf "find %s -printf '%%s %%T@ %%i\\\\n' > /dev/null\n" "${tops[*]:half}"
  printf 'wait\n'
} > "$work/split.sh"

# The first build sends the context and records its stat index; the second is the first no-op.
"$kiln" build "$dir" --tag "$tag" > /dev/null
"$kiln" build "$dir" --tag "$tag" > /dev/null

hyperfine -N -w 5 -r "$runs" \
  "$kiln build $dir --tag $tag" \
  "find $dir -printf '%s %T@ %i\n'" \
  "bash $work/split.sh"
