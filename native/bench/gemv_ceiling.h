// The batch-1 ceiling probe: one LSTM step's recurrent product (4H x H weights times a vector h) with nothing else
// around it, to show how fast this core can run the inner loop of a batch-1 step (see "Benchmarks" in README.md).
// Built for AVX-512 in its own file (gemv_ceiling_avx512.cpp) with plain-C-typed entry points only: no std or
// Google Benchmark template may be compiled with wider-ISA flags, or the linker may keep that copy for the
// whole binary (as in tests/vector_math_check.h).
#pragma once

#include <cstdint>

namespace fusedrnn::bench {

// out[4*hidden] = W h, W in blocks of 8 vectors of rows [hidden/rows][hidden][rows]; 8 accumulators, as the kernels.
// Float precision: float32 weights, h and sums (128-row blocks). Double precision (64-row blocks): weights float32,
// widened to double as loaded (what the float64 kernels do), or already double (twice the bytes).
void gemv_float_avx512(const float* weights, const float* h, int64_t hidden, float* out);
void gemv_widened_avx512(const float* weights, const double* h, int64_t hidden, double* out);
void gemv_double_avx512(const double* weights, const double* h, int64_t hidden, double* out);

}  // namespace fusedrnn::bench
