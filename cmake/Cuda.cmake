# The CUDA language, when this machine has a CUDA compiler: FUSEDRNN_CUDA_FOUND is ON after include() if it has,
# with CUDA enabled for sm_80 and sm_90 (CMAKE_CUDA_ARCHITECTURES overrides them). Without one, the build goes on
# without the CUDA targets and says so. Debian's CUDA 11.8 refuses g++ 12 as nvcc's host compiler, so clang++-14 is
# the host compiler when it exists and CMAKE_CUDA_HOST_COMPILER is not given (./build.sh cuda-toolkit installs both).
include_guard(GLOBAL)
include(CheckLanguage)

option(FUSEDRNN_BUILD_CUDA "Build the CUDA targets when CMake finds a CUDA compiler" ON)
set(FUSEDRNN_CUDA_FOUND OFF)
if(FUSEDRNN_BUILD_CUDA)
    if(NOT CMAKE_CUDA_HOST_COMPILER)
        find_program(FUSEDRNN_CLANGXX_14 clang++-14)
        if(FUSEDRNN_CLANGXX_14)
            set(CMAKE_CUDA_HOST_COMPILER "${FUSEDRNN_CLANGXX_14}" CACHE FILEPATH "nvcc's host compiler")
        endif()
    endif()
    # check_language() configures a project of its own, which reads the host compiler from the environment.
    if(CMAKE_CUDA_HOST_COMPILER)
        set(ENV{CUDAHOSTCXX} "${CMAKE_CUDA_HOST_COMPILER}")
    endif()
    check_language(CUDA)
    if(CMAKE_CUDA_COMPILER)
        if(NOT CMAKE_CUDA_ARCHITECTURES)
            set(CMAKE_CUDA_ARCHITECTURES 80 90)
        endif()
        enable_language(CUDA)
        set(CMAKE_CUDA_STANDARD 17)
        set(CMAKE_CUDA_STANDARD_REQUIRED ON)
        find_package(CUDAToolkit REQUIRED)
        set(FUSEDRNN_CUDA_FOUND ON)
        message(STATUS "CUDA ${CMAKE_CUDA_COMPILER_VERSION} (host compiler ${CMAKE_CUDA_HOST_COMPILER}): "
                       "CUDA targets built for architectures ${CMAKE_CUDA_ARCHITECTURES}")
    else()
        message(STATUS "No CUDA compiler found (./build.sh cuda-toolkit installs one): CUDA targets are not built")
    endif()
endif()

# fusedrnn_cuda_warnings(<target>): the warnings of fusedrnn_enable_warnings for the target's CUDA sources, nvcc's
# own and the host compiler's.
function(fusedrnn_cuda_warnings target)
    target_compile_options(${target} PRIVATE
        $<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=-Wall,-Wextra,-Wshadow,-Wconversion>)
    if(FUSEDRNN_WARNINGS_AS_ERRORS)
        target_compile_options(${target} PRIVATE "$<$<COMPILE_LANGUAGE:CUDA>:SHELL:-Werror all-warnings>")
    endif()
endfunction()
