#!/usr/bin/env bash
# Makes Whisper models of the real tiny/base/small shapes with random weights (compute cost
# does not depend on the weight values) and runs `thoth bench` on them, for comparison with
# whisper.cpp's published bench figures. Models are cached in build/bench-models.
#
#   bench/run-reference-shapes.sh [--json] [--threads N] [SHAPE:TYPE ...]
#     SHAPE: tiny.en, base.en, small.en, tiny, base, small    TYPE: f16, q8_0, q5_1, ...
#   default: tiny.en:f16 tiny.en:q8_0 tiny.en:q5_1 base.en:f16 base.en:q8_0 base.en:q5_1
#
# Needs a built `thoth` (build/src/cli/thoth, or $THOTH), python3-numpy and the shared data
# ($THOTH_SHARED, default ../shared beside the repository).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
shared="${THOTH_SHARED:-$root/../shared}"
thoth="${THOTH:-$root/build/src/cli/thoth}"
dir="$root/build/bench-models"
[ -x "$thoth" ] || { echo "run-reference-shapes: build thoth first (ninja -C build thoth)" >&2; exit 1; }
[ -d "$shared/models/templates" ] || { echo "run-reference-shapes: no shared data at $shared (set THOTH_SHARED)" >&2; exit 1; }

# RSS as the reference measures it: a process transcribing jfk.wav alone.
bench_args=(--audio "$shared/speech/long-en.wav" --rss-audio "$shared/speech/jfk.wav")
specs=()
while (($#)); do
  case "$1" in
    --json) bench_args+=(--json); shift ;;
    --threads) bench_args+=(--threads "$2"); shift 2 ;;
    --windows|--tokens) bench_args+=("$1" "$2"); shift 2 ;;
    *) specs+=("$1"); shift ;;
  esac
done
((${#specs[@]})) || specs=(tiny.en:f16 tiny.en:q8_0 tiny.en:q5_1 base.en:f16 base.en:q8_0 base.en:q5_1)

mkdir -p "$dir"
models=()
for spec in "${specs[@]}"; do
  shape="${spec%%:*}" type="${spec#*:}"
  dims="${shape%.en}"
  # The templates carry vocabulary, filters and contexts, which tiny/base/small share; --dims
  # sets the widths and depths.
  template="$shared/models/templates/tiny${shape#"$dims"}.bin"
  f16="$dir/$shape-f16.bin"
  if [ ! -f "$f16" ]; then
    echo "run-reference-shapes: making $f16" >&2
    # Debian's python3 (python3-numpy), not whatever python3 comes first on PATH.
    /usr/bin/python3 "$shared/tools/make-random-whisper.py" "$template" "$f16.tmp" --dims "$dims"
    mv "$f16.tmp" "$f16"
  fi
  out="$dir/$shape-$type.bin"
  if [ "$type" != f16 ] && [ ! -f "$out" ]; then
    echo "run-reference-shapes: quantizing $out" >&2
    "$thoth" models quantize "$f16" "$out.tmp" "$type" >&2
    mv "$out.tmp" "$out"
  fi
  models+=(--model "$out")
done
exec "$thoth" bench "${models[@]}" "${bench_args[@]}"
