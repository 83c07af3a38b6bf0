# Per-file instruction-set flags, so kernel files for one ISA (lstm_step_avx512.cpp) are compiled for it
# while the rest of the library stays baseline x86-64 and loads on any machine; dispatch picks at run time.
include_guard(GLOBAL)

# Flags (GCC/Clang spelling) for each ISA name a kernel file may target.
set(FUSEDRNN_ISA_FLAGS_avx2 -mavx2 -mfma -mf16c)
set(FUSEDRNN_ISA_FLAGS_avx512 -mavx512f -mavx512bw -mavx512dq -mavx512vl -mavx2 -mfma -mf16c)

# fusedrnn_set_isa_flags(<isa> <file>...): compile the given source files with the flags of <isa>.
function(fusedrnn_set_isa_flags isa)
    if(NOT DEFINED FUSEDRNN_ISA_FLAGS_${isa})
        message(FATAL_ERROR "fusedrnn_set_isa_flags: unknown ISA '${isa}'")
    endif()
    if(MSVC)
        if(isa STREQUAL "avx512")
            set(_flags /arch:AVX512)
        else()
            set(_flags /arch:AVX2)
        endif()
    else()
        set(_flags ${FUSEDRNN_ISA_FLAGS_${isa}})
    endif()
    set_property(SOURCE ${ARGN} APPEND PROPERTY COMPILE_OPTIONS ${_flags})
endfunction()
