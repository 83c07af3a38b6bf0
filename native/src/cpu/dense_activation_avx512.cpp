#include "cpu/dense_activation_kernel.h"
#include "cpu/simd_avx512.h"

FUSEDRNN_DEFINE_DENSE_ACTIVATION(f32_dense_activation_avx512, Avx512F32)
FUSEDRNN_DEFINE_DENSE_ACTIVATION(f64_dense_activation_avx512, Avx512F64)
