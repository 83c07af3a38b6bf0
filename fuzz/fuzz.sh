#!/usr/bin/env bash
# Fuzzes FusedRnn's managed file readers with libFuzzer + SharpFuzz (fuzz/README.md).
#   fuzz/fuzz.sh build                          driver + instrumented fuzzing host, under $FUZZ_OUT
#   fuzz/fuzz.sh run TARGET [SECONDS] [FLAG...] fuzz one target (0 or no SECONDS: until stopped or a crash);
#                                               FLAGs go to libFuzzer, e.g. -jobs=2 -workers=2
#   fuzz/fuzz.sh ci [SECONDS]                   build, then every target for SECONDS (default 60); fails on a finding
#   fuzz/fuzz.sh repro TARGET FILE...           run TARGET once per FILE in-process and print what escaped
#   fuzz/fuzz.sh targets                        list the targets
# Environment: FUZZ_OUT (default artifacts/fuzz), CONFIG (Release), FUZZ_DOTNET_ARTIFACTS (an ArtifactsPath for the
# dotnet build, to keep it apart from another build), CLANG (clang-14).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)
CONFIG=${CONFIG:-Release}
FUZZ_OUT=${FUZZ_OUT:-$ROOT/artifacts/fuzz}
CLANG=${CLANG:-clang-14}
APP="$FUZZ_OUT/app"
DRIVER="$FUZZ_OUT/driver/libfuzzer-dotnet-driver"
TARGETS=(safetensors npy rnn statedict onnx keras sequencemodel snapshot)
# The dictionary each target's fuzzer uses (fuzz/dict/NAME.dict), if any.
declare -A DICT=([safetensors]=safetensors [npy]=npy [rnn]=safetensors [onnx]=onnx [sequencemodel]=sequencemodel)
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { echo "fuzz.sh: $*" >&2; exit 2; }

is_target() { local t; for t in "${TARGETS[@]}"; do [ "$t" = "$1" ] && return 0; done; return 1; }

build() {
    command -v "$CLANG" >/dev/null || die "$CLANG not found (Debian: apt-get install clang-14 libclang-rt-14-dev; ./build.sh test installs them)"
    mkdir -p "$(dirname "$DRIVER")"
    if [ ! -x "$DRIVER" ] || [ fuzz/driver/libfuzzer_dotnet_driver.cpp -nt "$DRIVER" ]; then
        log "fuzz driver ($CLANG -fsanitize=fuzzer)"
        "$CLANG" -std=c++17 -O2 -g -Wall -Wextra -Werror -fsanitize=fuzzer \
            fuzz/driver/libfuzzer_dotnet_driver.cpp -o "$DRIVER"
    fi

    log "instrumented fuzzing host ($CONFIG)"
    local artifacts=()
    [ -n "${FUZZ_DOTNET_ARTIFACTS:-}" ] && artifacts=("-p:ArtifactsPath=$FUZZ_DOTNET_ARTIFACTS")
    # A fresh copy every time: SharpFuzz rewrites FusedRnn.Core.dll in place, and only this copy may be instrumented.
    rm -rf "$APP"
    dotnet publish fuzz/FusedRnn.Fuzz -c "$CONFIG" -o "$APP" -nologo -v:q "${artifacts[@]}"
    dotnet tool restore >/dev/null
    dotnet tool run sharpfuzz "$APP/FusedRnn.Core.dll" >/dev/null
}

# run TARGET SECONDS [FLAG...]: libFuzzer writes what it learns to a work corpus (kept between runs, never to the
# committed seeds) and a finding to $FUZZ_OUT/findings/TARGET-crash-* (or -timeout-*, -oom-*).
run() {
    local target=$1 seconds=${2:-0}
    shift 2 || shift $#
    is_target "$target" || die "unknown target '$target'; targets: ${TARGETS[*]}"
    [ -x "$DRIVER" ] && [ -f "$APP/FusedRnn.Fuzz.dll" ] || die "not built; run: fuzz/fuzz.sh build"
    local work="$FUZZ_OUT/work/$target" findings="$FUZZ_OUT/findings"
    mkdir -p "$work" "$findings"
    local flags=(-timeout=10 -max_len=32768 -print_final_stats=1 "-artifact_prefix=$findings/$target-")
    [ -n "${DICT[$target]:-}" ] && flags+=("-dict=fuzz/dict/${DICT[$target]}.dict")
    [ "$seconds" -gt 0 ] && flags+=("-max_total_time=$seconds")
    log "fuzzing '$target'$([ "$seconds" -gt 0 ] && echo " for $seconds s")"
    # The driver bounds the managed process's resident memory after each input (a reader that trusts a size in the
    # file shows there). Not DOTNET_GCHeapHardLimit: with one, the managed backend's free-memory check (heap limit
    # minus the machine's memory load) refuses even a tiny workspace once the machine uses more than the limit.
    DOTNET_TieredPGO=0 "$DRIVER" --target=dotnet --target-arg="$APP/FusedRnn.Fuzz.dll" --target-arg="$target" \
        --target-rss-limit-mb="${FUZZ_RSS_LIMIT_MB:-1024}" "${flags[@]}" "$@" "$work" "fuzz/corpus/$target"
}

# Prints a finding so that it can be recreated from a CI log alone.
report_findings() {
    local file
    for file in "$FUZZ_OUT"/findings/*; do
        [ -f "$file" ] || continue
        echo "---- finding $file ($(wc -c <"$file") bytes), first bytes:" >&2
        od -A x -t x1z -v "$file" | head -n 32 >&2
        echo "---- the whole file, to recreate it with: base64 -d > FILE" >&2
        base64 -w 100 "$file" >&2
    done
}

ci() {
    local seconds=${1:-60} target failed=()
    build
    rm -rf "$FUZZ_OUT/findings"
    for target in "${TARGETS[@]}"; do
        run "$target" "$seconds" || failed+=("$target")
    done
    if [ ${#failed[@]} -gt 0 ]; then
        report_findings
        echo "fuzz.sh: finding(s) in: ${failed[*]}; reproduce with: fuzz/fuzz.sh repro TARGET FILE (fuzz/README.md)" >&2
        return 1
    fi
}

verb=${1:-}
[ $# -gt 0 ] && shift
case "$verb" in
    build) build ;;
    run) [ $# -ge 1 ] || die "usage: fuzz/fuzz.sh run TARGET [SECONDS] [FLAG...]"; run "$@" ;;
    ci) ci "$@" ;;
    repro)
        [ $# -ge 2 ] || die "usage: fuzz/fuzz.sh repro TARGET FILE..."
        artifacts=()
        [ -n "${FUZZ_DOTNET_ARTIFACTS:-}" ] && artifacts=("-p:ArtifactsPath=$FUZZ_DOTNET_ARTIFACTS")
        exec dotnet run --project fuzz/FusedRnn.Fuzz -c "$CONFIG" "${artifacts[@]}" -- "$@"
        ;;
    targets) printf '%s\n' "${TARGETS[@]}" ;;
    *) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; [ -z "$verb" ] || [ "$verb" = help ] || exit 2 ;;
esac
