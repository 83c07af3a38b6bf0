#include "cpu/recurrent_step_kernel.h"
#include "cpu/simd_avx2.h"

// Elman RNN cells: tanh and relu share one file per ISA.
FUSEDRNN_DEFINE_RECURRENT_STEP(f32_rnn_tanh_step_avx2, Avx2F32, RnnCell<TanhActivation>)
FUSEDRNN_DEFINE_RECURRENT_STEP(f64_rnn_tanh_step_avx2, Avx2F64, RnnCell<TanhActivation>)
FUSEDRNN_DEFINE_RECURRENT_STEP(f32_rnn_relu_step_avx2, Avx2F32, RnnCell<ReluActivation>)
FUSEDRNN_DEFINE_RECURRENT_STEP(f64_rnn_relu_step_avx2, Avx2F64, RnnCell<ReluActivation>)
FUSEDRNN_DEFINE_RECURRENT_STEP(f32_rnn_variant_step_avx2, Avx2F32, RnnVariantCell)
FUSEDRNN_DEFINE_RECURRENT_STEP(f64_rnn_variant_step_avx2, Avx2F64, RnnVariantCell)
