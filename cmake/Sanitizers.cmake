# FUSEDRNN_SANITIZE=address|undefined|address,undefined|thread builds the library and its tests with those
# sanitizers (GCC/Clang); thread (for the worker threads) cannot be combined with address. Empty (the default)
# builds without. FUSEDRNN_BUILD_FUZZERS builds the libFuzzer harnesses (native/fuzz) as well, and instruments
# the library for them (Clang only; with FUSEDRNN_SANITIZE=address,undefined, as ./build.sh test builds them).
include_guard(GLOBAL)

option(FUSEDRNN_BUILD_FUZZERS "Build the libFuzzer harnesses of native/fuzz (Clang)" OFF)
if(FUSEDRNN_BUILD_FUZZERS AND NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "FUSEDRNN_BUILD_FUZZERS needs Clang (libFuzzer); e.g. -DCMAKE_CXX_COMPILER=clang++-14")
endif()

set(FUSEDRNN_SANITIZE "" CACHE STRING "Sanitizers to build with: address, undefined, address,undefined or thread")
set_property(CACHE FUSEDRNN_SANITIZE PROPERTY STRINGS "" "address" "undefined" "address,undefined" "thread"
                                               "thread,undefined")

if(FUSEDRNN_SANITIZE)
    string(REPLACE "," ";" _fusedrnn_sanitizer_list "${FUSEDRNN_SANITIZE}")
    foreach(_sanitizer IN LISTS _fusedrnn_sanitizer_list)
        if(NOT _sanitizer MATCHES "^(address|undefined|thread)$")
            message(FATAL_ERROR
                "FUSEDRNN_SANITIZE: unknown sanitizer '${_sanitizer}' (use address and/or undefined, or thread)")
        endif()
    endforeach()
    if("address" IN_LIST _fusedrnn_sanitizer_list AND "thread" IN_LIST _fusedrnn_sanitizer_list)
        message(FATAL_ERROR "FUSEDRNN_SANITIZE: address and thread cannot be combined")
    endif()
    if(MSVC)
        message(FATAL_ERROR "FUSEDRNN_SANITIZE is only supported with GCC and Clang")
    endif()
endif()

# fusedrnn_enable_sanitizers(<target>): compile and link <target> with the sanitizers chosen above.
function(fusedrnn_enable_sanitizers target)
    if(NOT FUSEDRNN_SANITIZE)
        return()
    endif()
    # Frame pointers give readable reports; recovering is off so a finding fails the test run.
    set(_flags -fsanitize=${FUSEDRNN_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
    if(FUSEDRNN_BUILD_FUZZERS)
        # Coverage feedback for libFuzzer from this target's code; the harness links the fuzzer runtime itself.
        list(APPEND _flags -fsanitize=fuzzer-no-link)
    endif()
    target_compile_options(${target} PRIVATE ${_flags})
    target_link_options(${target} PRIVATE ${_flags})
endfunction()
