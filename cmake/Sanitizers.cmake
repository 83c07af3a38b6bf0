# FUSEDRNN_SANITIZE=address|undefined|address,undefined builds the library and its tests with those
# sanitizers (GCC/Clang). Empty (the default) builds without.
include_guard(GLOBAL)

set(FUSEDRNN_SANITIZE "" CACHE STRING "Sanitizers to build with: address, undefined, or address,undefined")
set_property(CACHE FUSEDRNN_SANITIZE PROPERTY STRINGS "" "address" "undefined" "address,undefined")

if(FUSEDRNN_SANITIZE)
    string(REPLACE "," ";" _fusedrnn_sanitizer_list "${FUSEDRNN_SANITIZE}")
    foreach(_sanitizer IN LISTS _fusedrnn_sanitizer_list)
        if(NOT _sanitizer MATCHES "^(address|undefined)$")
            message(FATAL_ERROR "FUSEDRNN_SANITIZE: unknown sanitizer '${_sanitizer}' (use address and/or undefined)")
        endif()
    endforeach()
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
    target_compile_options(${target} PRIVATE ${_flags})
    target_link_options(${target} PRIVATE ${_flags})
endfunction()
