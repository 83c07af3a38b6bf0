#include "cpu/gemm_nt_kernel.h"
#include "cpu/simd_avx2.h"

FUSEDRNN_DEFINE_GEMM_NT(f32_gemm_nt_avx2, Avx2F32)
FUSEDRNN_DEFINE_GEMM_NT(f64_gemm_nt_avx2, Avx2F64)
