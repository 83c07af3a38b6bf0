#include "cpu/gemm_nt_kernel.h"
#include "cpu/simd_avx2.h"

FUSEDRNN_DEFINE_GEMM_NT(avx2, Avx2)
