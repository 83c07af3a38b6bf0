#include "cpu/recurrent_step_kernel.h"
#include "cpu/simd_avx2.h"

FUSEDRNN_DEFINE_RECURRENT_STEP(lstm_step_avx2, Avx2, LstmCell)
