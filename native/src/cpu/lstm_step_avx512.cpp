#include "cpu/recurrent_step_kernel.h"
#include "cpu/simd_avx512.h"

FUSEDRNN_DEFINE_RECURRENT_STEP(lstm_step_avx512, Avx512, LstmCell)
