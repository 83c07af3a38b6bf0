#include "cpu/recurrent_step_kernel.h"
#include "cpu/simd_avx512.h"

FUSEDRNN_DEFINE_RECURRENT_STEP(f32_lstm_step_avx512, Avx512F32, LstmCell)
FUSEDRNN_DEFINE_RECURRENT_STEP(f64_lstm_step_avx512, Avx512F64, LstmCell)
FUSEDRNN_DEFINE_RECURRENT_STEP(f32_lstm_variant_step_avx512, Avx512F32, LstmVariantCell)
FUSEDRNN_DEFINE_RECURRENT_STEP(f64_lstm_variant_step_avx512, Avx512F64, LstmVariantCell)
