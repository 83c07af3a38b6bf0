#!/usr/bin/env bash
# The one entry point: installs what is missing, builds, tests, runs.
#   ./build.sh            build everything (Release)
#   ./build.sh test       build, then run every test suite (native CTest + xunit)
#   ./build.sh run [ARGS] build the CLI, then run it with ARGS (no ARGS: `fusedrnn demo`); only its output on stdout
#   ./build.sh pack       pack FusedRnn, FusedRnn.Native, FusedRnn.Hosting and the fusedrnn .NET tool into artifacts/packages/
#   ./build.sh bindings   regenerate src/FusedRnn.Native/Interop/*.g.cs from native/include/fusedrnn.h
#   ./build.sh cuda-toolkit  install Debian's CUDA toolkit (non-free), so that later builds compile the CUDA sources
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
    apt_install "${missing[@]}"
}

# What only the test verb needs: clang-14 with its sanitizer and libFuzzer runtimes (native sanitizer builds, the
# C ABI fuzzer, the managed fuzzers' libFuzzer driver; clang-14 also links the Native AOT test app, with zlib).
ensure_test_packages() {
    local missing=()
    command -v clang-14 >/dev/null || missing+=(clang-14)
    command -v clang++-14 >/dev/null || missing+=(clang-14)
    compgen -G "/usr/lib/llvm-14/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a" >/dev/null || missing+=(libclang-rt-14-dev)
    [ -f /usr/include/zlib.h ] || missing+=(zlib1g-dev)
    apt_install $(printf '%s\n' "${missing[@]}" | sort -u)
}

# apt_install [PACKAGE...]: installs the packages named, if any (root or sudo required then); output to stderr.
apt_install() {
    [ $# -eq 0 ] && return 0
    log "installing $*"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >&2
}

# Debian bookworm's CUDA 11.8 toolkit (nvcc, cuBLAS, the runtime) from the non-free component (with contrib), which
# this adds to apt's sources when it is missing, and clang-14, nvcc's host compiler (CUDA 11.8 refuses g++ 12). About 1.6 GB is
# downloaded. No GPU is needed: the native build compiles the CUDA sources whenever CMake finds nvcc.
install_cuda_toolkit() {
    if command -v nvcc >/dev/null || [ -x /usr/bin/nvcc ]; then
        log "CUDA toolkit present: $(nvcc --version | tail -n 1)"
    else
        local sources=/etc/apt/sources.list.d/fusedrnn-non-free.sources
        if ! grep -rqsE 'non-free([[:space:]]|$)' /etc/apt/sources.list /etc/apt/sources.list.d/; then
            log "adding bookworm's non-free component to apt's sources ($sources)"
            local sudo=""
            [ "$(id -u)" -eq 0 ] || sudo="sudo"
            printf '%s\n' 'Types: deb' 'URIs: http://deb.debian.org/debian' 'Suites: bookworm' 'Components: contrib non-free' \
                'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg' | $sudo tee "$sources" >/dev/null
        fi
        apt_install nvidia-cuda-toolkit
    fi
    command -v clang++-14 >/dev/null || apt_install clang-14
}

ensure_dotnet() {
    if ! command -v dotnet >/dev/null; then
        echo "error: the .NET 10 SDK is required (https://dotnet.microsoft.com/download); 'dotnet' is not on PATH" >&2
        exit 1
    fi
}

# Build output goes to stderr, whatever the verb: stdout is for what `run` prints (`./build.sh run info --json | jq`).
# What the native build includes, passed on every configure (the build folder's cache keeps the last values):
# everything for build and test, the library alone for run and pack.
NATIVE_ALL=(-DFUSEDRNN_BUILD_TESTS=ON -DFUSEDRNN_BUILD_BENCHMARKS=ON)
NATIVE_LIBRARY_ONLY=(-DFUSEDRNN_BUILD_TESTS=OFF -DFUSEDRNN_BUILD_BENCHMARKS=OFF)

build_native() {
    [ -f native/CMakeLists.txt ] || return 0
    log "native library ($CONFIG${*:+; $*})"
    cmake -S native -B "$NATIVE_BUILD" -DCMAKE_BUILD_TYPE="$CONFIG" "$@" >/dev/null
    cmake --build "$NATIVE_BUILD" -j "$(nproc)" >&2
}

# build_managed [PROJECT]: the whole solution, or one project and what it references.
build_managed() {
    log "managed projects ($CONFIG${1:+; $1})"
    dotnet build "${1:-Interop.sln}" -c "$CONFIG" -nologo -v:q >&2
}

build_all() {
    ensure_packages
    ensure_dotnet
    build_native "${NATIVE_ALL[@]}"
    build_managed
}

CLI_PROJECT=src/FusedRnn.Cli/FusedRnn.Cli.csproj

# The packages a user references (FusedRnn.Native depends on FusedRnn, FusedRnn.Hosting on both: a feed needs them all)
# and the fusedrnn tool.
pack_all() {
    ensure_packages
    ensure_dotnet
    build_native "${NATIVE_LIBRARY_ONLY[@]}"
    local packages="$ARTIFACTS/packages" project
    log "packages ($CONFIG) -> $packages"
    mkdir -p "$packages"
    rm -f "$packages"/FusedRnn.*.nupkg "$packages"/FusedRnn.*.snupkg
    for project in src/FusedRnn/FusedRnn.csproj src/FusedRnn.Native/FusedRnn.Native.csproj src/FusedRnn.Hosting/FusedRnn.Hosting.csproj "$CLI_PROJECT"; do
        dotnet pack "$project" -c "$CONFIG" -o "$packages" -nologo -v:q >&2
    done
    ls "$packages"/*.nupkg
}

# ---- managed file-reader fuzzers (fuzz/README.md) -------------------------------------------------------------------
# libFuzzer + SharpFuzz on each managed reader (safetensors, .npy, state_dict import) for FUZZ_SECONDS each (default
# 60; 0 skips). Fails on any exception but the documented ones, printing the input. Longer runs: fuzz/fuzz.sh.
run_managed_fuzzers() {
    local seconds=${FUZZ_SECONDS:-60}
    [ "$seconds" -gt 0 ] || { log "managed fuzzers skipped (FUZZ_SECONDS=0)"; return 0; }
    log "managed fuzzers (${seconds} s per reader)"
    dotnet tool restore >/dev/null   # SharpFuzz.CommandLine, pinned in .config/dotnet-tools.json
    CONFIG="$CONFIG" FUZZ_OUT="$ARTIFACTS/fuzz" fuzz/fuzz.sh ci "$seconds"
}
# ---- end managed file-reader fuzzers -----------------------------------------------------------------------------

# ---- native_sanitizer_and_fuzz_checks: the native suites under sanitizers, and the C ABI fuzzer ---------------------
# The native suites built with ASan + UBSan (artifacts/native/asan; UBSan is fatal, and LeakSanitizer fails any test
# executable that leaks, fusedrnn_leak_tests' create/forward/destroy loop among them) and with TSan
# (artifacts/native/tsan), then the libFuzzer harness native/fuzz built with clang-14 -fsanitize=fuzzer,address,
# undefined (artifacts/native/fuzz), run for FUSEDRNN_FUZZ_SECONDS (60) from its seed corpus; any report fails.
# The full kernel-set x thread matrix under sanitizers would take several times the rest of the run on 2 cores, so:
#  - ASan + UBSan: every test once as discovered (best kernel set, float32, default threads), then the whole suites
#    in both precisions on avx2 with 3 threads and on reference with 1 (the avx512 and avx2 kernels are the same
#    templates; the reference kernels are other code);
#  - TSan: the tests that share calls between threads (threading, chunking) on the best set with 3 threads (the
#    split and the barriers do not depend on the kernel set).
native_sanitizer_and_fuzz_checks() {
    [ -f native/CMakeLists.txt ] || return 0
    local jobs
    jobs=$(nproc)
    local sanitized=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DFUSEDRNN_BUILD_BENCHMARKS=OFF -DFUSEDRNN_BUILD_CUDA=OFF)

    log "native tests with ASan + UBSan"
    cmake -S native -B "$ARTIFACTS/native/asan" "${sanitized[@]}" -DFUSEDRNN_SANITIZE=address,undefined >/dev/null
    cmake --build "$ARTIFACTS/native/asan" -j "$jobs" >&2
    ctest --test-dir "$ARTIFACTS/native/asan" --output-on-failure -j "$jobs" \
        -E '\.isa_(avx512\.float(32|64)\.threads_[123]|avx2\.float(32|64)\.threads_[12]|reference\.float(32|64)\.threads_[23])$'

    log "native tests with TSan"
    cmake -S native -B "$ARTIFACTS/native/tsan" "${sanitized[@]}" -DFUSEDRNN_SANITIZE=thread >/dev/null
    cmake --build "$ARTIFACTS/native/tsan" -j "$jobs" >&2
    local threaded='ThreadedForward*:WorkerThreads*:WorkerTeam*:Cases/ThreadedForwardTest.*:Cases/ChunkedForwardTest.*'
    FUSEDRNN_TEST_THREADS=3 FUSEDRNN_THREAD_LIMIT=3 "$ARTIFACTS/native/tsan/tests/fusedrnn_tests" --gtest_filter="$threaded" --gtest_brief=1

    log "fuzzing the C ABI (${FUSEDRNN_FUZZ_SECONDS:-60} s)"
    cmake -S native -B "$ARTIFACTS/native/fuzz" -DCMAKE_CXX_COMPILER=clang++-14 -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DFUSEDRNN_SANITIZE=address,undefined -DFUSEDRNN_BUILD_FUZZERS=ON -DFUSEDRNN_BUILD_TESTS=OFF \
        -DFUSEDRNN_BUILD_BENCHMARKS=OFF -DFUSEDRNN_BUILD_CUDA=OFF -DFUSEDRNN_FUZZ_SECONDS="${FUSEDRNN_FUZZ_SECONDS:-60}" >/dev/null
    cmake --build "$ARTIFACTS/native/fuzz" -j "$jobs" >&2
    ctest --test-dir "$ARTIFACTS/native/fuzz" --output-on-failure
}
# ---- end of native_sanitizer_and_fuzz_checks -------------------------------------------------------------------------

run_tests() {
    build_all
    ensure_test_packages
    if [ -f native/CMakeLists.txt ]; then
        log "native tests (CTest)"
        ctest --test-dir "$NATIVE_BUILD" --output-on-failure -j "$(nproc)"
        native_sanitizer_and_fuzz_checks
    fi
    log "managed tests (xunit)"
    dotnet test Interop.sln -c "$CONFIG" --no-build -nologo -v:q
    # The native kernel set is chosen once per process: rerun the cross-backend suites with each lower one forced.
    local isa
    for isa in avx2 scalar; do
        log "parity, reference and cell variant tests with FUSEDRNN_ISA=$isa"
        FUSEDRNN_ISA=$isa dotnet test tests/FusedRnn.Tests -c "$CONFIG" --no-build -nologo -v:q \
            --filter "FullyQualifiedName~ParityTests|FullyQualifiedName~ReferenceTests|FullyQualifiedName~ConcurrencyTests|FullyQualifiedName~NonFiniteTests|FullyQualifiedName~ActivationTests|FullyQualifiedName~CellVariantTests|FullyQualifiedName~StreamingTests"
    done
    run_managed_fuzzers
}

verb=${1:-build}
[ $# -gt 0 ] && shift
case "$verb" in
    build) build_all ;;
    test) run_tests ;;
    pack) pack_all ;;
    run)
        ensure_packages
        ensure_dotnet
        build_native "${NATIVE_LIBRARY_ONLY[@]}"
        build_managed "$CLI_PROJECT"
        [ $# -eq 0 ] && set -- demo
        exec dotnet "$ARTIFACTS/bin/FusedRnn.Cli/${CONFIG,,}/fusedrnn.dll" "$@"
        ;;
    bindings)
        ensure_packages
        ensure_dotnet
        dotnet run --project src/FusedRnn.BindGen -c "$CONFIG" -- --repo "$ROOT"
        ;;
    cuda-toolkit) install_cuda_toolkit ;;
    -h|--help|help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//' ;;
    *) echo "unknown verb '$verb'; try: build, test, run [ARGS], pack, bindings, cuda-toolkit" >&2; exit 2 ;;
esac
