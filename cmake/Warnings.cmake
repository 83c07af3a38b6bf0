# fusedrnn_enable_warnings(<target>): strict warnings for our own code. FUSEDRNN_WARNINGS_AS_ERRORS turns
# them into errors (on by default; switch it off when trying a compiler the code has not been built with).
include_guard(GLOBAL)

option(FUSEDRNN_WARNINGS_AS_ERRORS "Treat compiler warnings as errors" ON)

function(fusedrnn_enable_warnings target)
    if(MSVC)
        target_compile_options(${target} PRIVATE /W4 /permissive-)
        if(FUSEDRNN_WARNINGS_AS_ERRORS)
            target_compile_options(${target} PRIVATE /WX)
        endif()
    else()
        # C++ sources only: a target's CUDA sources get theirs from fusedrnn_cuda_warnings (cmake/Cuda.cmake).
        target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:
            -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion -Wcast-align
            -Wnon-virtual-dtor -Wold-style-cast -Woverloaded-virtual -Wnull-dereference
            -Wdouble-promotion -Wformat=2 -Wimplicit-fallthrough>)
        if(FUSEDRNN_WARNINGS_AS_ERRORS)
            target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:-Werror>)
        endif()
    endif()
endfunction()
