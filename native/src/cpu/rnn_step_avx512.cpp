#include "cpu/recurrent_step_kernel.h"
#include "cpu/simd_avx512.h"

// Elman RNN cells: tanh and relu share one file per ISA.
FUSEDRNN_DEFINE_RECURRENT_STEP(rnn_tanh_step_avx512, Avx512, RnnCell<TanhActivation>)
FUSEDRNN_DEFINE_RECURRENT_STEP(rnn_relu_step_avx512, Avx512, RnnCell<ReluActivation>)
