#!/usr/bin/env bash
# The one entry point: installs what is missing, builds, tests, runs.
#   ./build.sh            build everything (Release)
#   ./build.sh test       build, then run every test suite (native CTest + xunit)
#   ./build.sh run [ARGS] build, then run the CLI with ARGS (no ARGS: `fusedrnn demo`)
#   ./build.sh bindings   regenerate src/FusedRnn.Native/Interop/*.g.cs from native/include/fusedrnn.h
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
ROOT=$(pwd)
CONFIG=${CONFIG:-Release}
ARTIFACTS="$ROOT/artifacts"
NATIVE_BUILD="$ARTIFACTS/native/${CONFIG,,}"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# Debian packages the build needs; installed only when missing (root or sudo required then).
ensure_packages() {
    local missing=()
    command -v cmake >/dev/null || missing+=(cmake)
    command -v g++ >/dev/null || missing+=(g++)
    command -v make >/dev/null || missing+=(make)
    [ -f /usr/include/gtest/gtest.h ] || missing+=(libgtest-dev)
    # The binding generator (and its drift test) parses the C header with libclang and clang's own headers.
    [ -e /usr/lib/llvm-14/lib/libclang-14.so.1 ] || missing+=(libclang1-14)
    compgen -G "/usr/lib/llvm-14/lib/clang/*/include/stddef.h" >/dev/null || missing+=(libclang-common-14-dev)
    [ ${#missing[@]} -eq 0 ] && return 0
    log "installing ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

ensure_dotnet() {
    if ! command -v dotnet >/dev/null; then
        echo "error: the .NET 10 SDK is required (https://dotnet.microsoft.com/download); 'dotnet' is not on PATH" >&2
        exit 1
    fi
}

build_native() {
    [ -f native/CMakeLists.txt ] || return 0
    log "native library ($CONFIG)"
    cmake -S native -B "$NATIVE_BUILD" -DCMAKE_BUILD_TYPE="$CONFIG" >/dev/null
    cmake --build "$NATIVE_BUILD" -j "$(nproc)"
}

build_managed() {
    log "managed projects ($CONFIG)"
    dotnet build Interop.sln -c "$CONFIG" -nologo -v:q
}

build_all() {
    ensure_packages
    ensure_dotnet
    build_native
    build_managed
}

run_tests() {
    build_all
    if [ -f native/CMakeLists.txt ]; then
        log "native tests (CTest)"
        ctest --test-dir "$NATIVE_BUILD" --output-on-failure -j "$(nproc)"
    fi
    log "managed tests (xunit)"
    dotnet test Interop.sln -c "$CONFIG" --no-build -nologo -v:q
    # The native kernel set is chosen once per process: rerun the cross-backend suites with each lower one forced.
    local isa
    for isa in avx2 scalar; do
        log "parity and reference tests with FUSEDRNN_ISA=$isa"
        FUSEDRNN_ISA=$isa dotnet test tests/FusedRnn.Tests -c "$CONFIG" --no-build -nologo -v:q \
            --filter "FullyQualifiedName~ParityTests|FullyQualifiedName~ReferenceTests|FullyQualifiedName~ConcurrencyTests"
    done
}

verb=${1:-build}
[ $# -gt 0 ] && shift
case "$verb" in
    build) build_all ;;
    test) run_tests ;;
    run)
        build_all
        [ $# -eq 0 ] && set -- demo
        exec dotnet "$ARTIFACTS/bin/FusedRnn.Cli/${CONFIG,,}/fusedrnn.dll" "$@"
        ;;
    bindings)
        ensure_packages
        ensure_dotnet
        dotnet run --project src/FusedRnn.BindGen -c "$CONFIG" -- --repo "$ROOT"
        ;;
    -h|--help|help) sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//' ;;
    *) echo "unknown verb '$verb'; try: build, test, run [ARGS], bindings" >&2; exit 2 ;;
esac
