#include "cpu/recurrent_step_kernel.h"
#include "cpu/simd_avx2.h"

FUSEDRNN_DEFINE_RECURRENT_STEP(f32_lstm_step_avx2, Avx2F32, LstmCell)
FUSEDRNN_DEFINE_RECURRENT_STEP(f64_lstm_step_avx2, Avx2F64, LstmCell)
FUSEDRNN_DEFINE_RECURRENT_STEP(f32_lstm_variant_step_avx2, Avx2F32, LstmVariantCell)
FUSEDRNN_DEFINE_RECURRENT_STEP(f64_lstm_variant_step_avx2, Avx2F64, LstmVariantCell)
