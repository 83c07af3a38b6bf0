// Run-time options of the sanitizers the suites may be built with (FUSEDRNN_SANITIZE), compiled into every test
// executable; the runtimes call these hooks, if defined, before reading ASAN_OPTIONS and the like (which can still
// override them). allocator_may_return_null: an allocation too large for the sanitizer's allocator returns null
// instead of aborting the process, as malloc does, so the out-of-memory tests see the library report it.
#define FUSEDRNN_SANITIZER_HOOK extern "C" __attribute__((visibility("default"), used)) const char*

FUSEDRNN_SANITIZER_HOOK __asan_default_options() { return "allocator_may_return_null=1:detect_leaks=1"; }
FUSEDRNN_SANITIZER_HOOK __tsan_default_options() { return "allocator_may_return_null=1"; }
FUSEDRNN_SANITIZER_HOOK __ubsan_default_options() { return "print_stacktrace=1"; }
