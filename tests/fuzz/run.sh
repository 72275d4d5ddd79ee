#!/usr/bin/env bash
# Build the libFuzzer targets with clang into build-fuzz/ (beside build/)
# and run each for FUZZ_SECONDS (20) on its seed corpus, corpus/<target>/.
# New inputs go to build-fuzz/corpus/<target>/, crashes to
# build-fuzz/crash-<target>-*; a crash fails the test (turn it into a unit
# test, then a seed).  clang missing: scripts/install-deps installs it.
#   bash tests/fuzz/run.sh [target...]
set -euo pipefail

SRC=${ISLET_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
OUT=${ISLET_FUZZ_BUILD:-$SRC/build-fuzz}
SECONDS_EACH=${FUZZ_SECONDS:-20}
TARGETS=("$@")
(( ${#TARGETS[@]} )) || TARGETS=(route words json toolout toolcmd base64 mcp ws wshandshake sio interp dockerfile lsp sigv4)

if ! command -v clang >/dev/null; then
  "$SRC/scripts/install-deps" || { echo "fuzz: cannot install clang" >&2; exit 1; }
fi
command -v clang >/dev/null || { echo "fuzz: no clang after install-deps" >&2; exit 1; }
# libFuzzer's runtime is only a Recommends of Debian's clang
rt=$(clang --print-runtime-dir)/libclang_rt.fuzzer-$(uname -m).a
if [[ ! -e "$rt" ]]; then
  ver=$(clang -dumpversion); ver=${ver%%.*}
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "libclang-rt-$ver-dev" >/dev/null \
    || { echo "fuzz: cannot install libclang-rt-$ver-dev (libFuzzer)" >&2; exit 1; }
fi

gen=()
command -v ninja >/dev/null && gen=(-G Ninja)
cmake -S "$SRC" -B "$OUT" "${gen[@]}" -DCMAKE_C_COMPILER=clang -DISLET_FUZZ=ON \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$OUT" --target fuzz_all

for t in "${TARGETS[@]}"; do
  seed=$SRC/tests/fuzz/corpus/$t
  [[ -d "$seed" ]] || { echo "fuzz: no seed corpus $seed" >&2; exit 1; }
  mkdir -p "$OUT/corpus/$t"
  echo "fuzz: $t for ${SECONDS_EACH}s" >&2
  # the first directory receives new inputs; the committed seeds stay as they are
  "$OUT/tests/fuzz/fuzz_$t" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$OUT/crash-$t-" "$OUT/corpus/$t" "$seed" 2>"$OUT/fuzz-$t.log" \
    || { tail -40 "$OUT/fuzz-$t.log" >&2; echo "fuzz: $t FAILED (log: $OUT/fuzz-$t.log)" >&2; exit 1; }
  grep -E '^stat::number_of_executed_runs|^Done' "$OUT/fuzz-$t.log" >&2 || true
done
echo "fuzz: all passed" >&2
