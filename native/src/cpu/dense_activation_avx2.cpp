#include "cpu/dense_activation_kernel.h"
#include "cpu/simd_avx2.h"

FUSEDRNN_DEFINE_DENSE_ACTIVATION(f32_dense_activation_avx2, Avx2F32)
FUSEDRNN_DEFINE_DENSE_ACTIVATION(f64_dense_activation_avx2, Avx2F64)
