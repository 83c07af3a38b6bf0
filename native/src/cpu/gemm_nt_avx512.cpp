#include "cpu/gemm_nt_kernel.h"
#include "cpu/simd_avx512.h"

FUSEDRNN_DEFINE_GEMM_NT(avx512, Avx512)
