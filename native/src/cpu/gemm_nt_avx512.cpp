#include "cpu/gemm_nt_kernel.h"
#include "cpu/simd_avx512.h"

FUSEDRNN_DEFINE_GEMM_NT(f32_gemm_nt_avx512, Avx512F32)
FUSEDRNN_DEFINE_GEMM_NT(f64_gemm_nt_avx512, Avx512F64)
