#!/usr/bin/env bash
# Builds the parsers' fuzzer with libFuzzer and AddressSanitizer, then runs each target for a
# given time on its committed seed corpus.
#
#   Tests/Fuzz/run.sh [--seconds N] [target ...]     (default: 10 s each, every target)
#   Tests/Fuzz/run.sh --list
#
# New inputs the fuzzer finds go to $LGSP_FUZZ_WORK/<target> (default: a directory under
# $TMPDIR), so the repository's seeds stay as committed. A crash leaves its input in
# Tests/Fuzz/artifacts/<target>-crash-…; reproduce it with
#   LGSP_FUZZ_TARGET=<target> Tests/Fuzz/.build/debug/lgsp-fuzz Tests/Fuzz/artifacts/<file>
# and make it a regression test in Tests/GatewayTests/FuzzRegressionTests.swift.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/../../deploy/lib/ensure-tools.sh"

targets_all=(json csv xml number period units yaml retry-after)
seconds=10
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --list) printf '%s\n' "${targets_all[@]}"; exit 0 ;;
    -*) echo "unknown option $1" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
[ ${#targets[@]} -gt 0 ] || targets=("${targets_all[@]}")

cd "$here"
swift build -c debug -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library --product lgsp-fuzz
binary="$here/.build/debug/lgsp-fuzz"
work="${LGSP_FUZZ_WORK:-${TMPDIR:-/tmp}/lgsp-fuzz}"
mkdir -p "$here/artifacts"

failed=()
for target in "${targets[@]}"; do
  [ -d "$here/corpus/$target" ] || { echo "no seed corpus for $target" >&2; exit 2; }
  mkdir -p "$work/$target"
  log="$work/$target.log"
  echo "fuzzing $target for ${seconds}s"
  # -timeout: one input taking 10 s is a hang, reported like a crash. -rss_limit_mb bounds what
  # one input may make the parser hold. Inputs up to 64 KiB: larger only repeats the same code.
  if LGSP_FUZZ_TARGET="$target" ASAN_OPTIONS=detect_leaks=0 "$binary" \
      -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
      -artifact_prefix="$here/artifacts/$target-" "$work/$target" "$here/corpus/$target" >"$log" 2>&1; then
    grep -E '^stat::number_of_executed_units|^stat::new_units_added|^stat::peak_rss_mb' "$log" | tr '\n' ' ' | sed "s/^/  $target: /"
    echo
  else
    echo "  $target: FAILED (see $log)" >&2
    grep -E 'ERROR|Fatal error|SUMMARY|artifact' "$log" | head -5 >&2 || true
    failed+=("$target")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzzing found problems in: ${failed[*]}" >&2
  exit 1
fi
