#include "cpu/recurrent_step_kernel.h"
#include "cpu/simd_avx2.h"

FUSEDRNN_DEFINE_RECURRENT_STEP(f32_gru_step_avx2, Avx2F32, GruCell)
FUSEDRNN_DEFINE_RECURRENT_STEP(f64_gru_step_avx2, Avx2F64, GruCell)
FUSEDRNN_DEFINE_RECURRENT_STEP(f32_gru_variant_step_avx2, Avx2F32, GruVariantCell)
FUSEDRNN_DEFINE_RECURRENT_STEP(f64_gru_variant_step_avx2, Avx2F64, GruVariantCell)
FUSEDRNN_DEFINE_GRU_RESET_BEFORE_STEP(f32_gru_reset_before_step_avx2, Avx2F32)
FUSEDRNN_DEFINE_GRU_RESET_BEFORE_STEP(f64_gru_reset_before_step_avx2, Avx2F64)
