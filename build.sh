#!/usr/bin/env bash
# The one entry point: installs what is missing, builds, tests, runs.
#   ./build.sh            build everything (Release)
#   ./build.sh test       build, then run every test suite (native CTest + xunit)
#   ./build.sh run [ARGS] build, then run the CLI with ARGS (no ARGS: `fusedrnn demo`)
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
    [ -e /usr/lib/llvm-14/lib/libclang-14.so.1 ] || missing+=(libclang1-14)
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
    -h|--help|help) sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//' ;;
    *) echo "unknown verb '$verb'; try: build, test, run [ARGS]" >&2; exit 2 ;;
esac
