#include "gemv_ceiling.h"

#include "cpu/simd_avx512.h"

namespace {

using fusedrnn::cpu::Avx512F32;
using fusedrnn::cpu::Avx512F64;

// out = W h for W [4*hidden, hidden] stored in panels of 8 vectors x V::lanes rows, k-major: the recurrent product of
// one LSTM step at batch 1 with nothing else around it.
template <class V, class Weight>
void gemv(const Weight* weights, const typename V::Scalar* h, int64_t hidden, typename V::Scalar* out) {
    constexpr int vectors = 8;
    constexpr int64_t rows_per_block = vectors * V::lanes;
    for (int64_t block = 0; block < 4 * hidden / rows_per_block; ++block) {
        const Weight* panel = weights + block * hidden * rows_per_block;
        typename V::Vec sums[vectors];
        for (typename V::Vec& sum : sums) {
            sum = V::zero();
        }
        for (int64_t k = 0; k < hidden; ++k) {
            const typename V::Vec value = V::set1(h[k]);
#pragma GCC unroll 8
            for (int vector = 0; vector < vectors; ++vector) {
                const Weight* source = panel + k * rows_per_block + vector * V::lanes;
                typename V::Vec weight;
                if constexpr (sizeof(Weight) == sizeof(typename V::Scalar)) {
                    weight = V::load(source);
                } else {
                    weight = V::load_weights(source);
                }
                sums[vector] = V::fma(value, weight, sums[vector]);
            }
        }
        for (int vector = 0; vector < vectors; ++vector) {
            V::store(out + block * rows_per_block + vector * V::lanes, sums[vector]);
        }
    }
}

}  // namespace

void fusedrnn::bench::gemv_float_avx512(const float* weights, const float* h, int64_t hidden, float* out) {
    gemv<Avx512F32>(weights, h, hidden, out);
}

void fusedrnn::bench::gemv_widened_avx512(const float* weights, const double* h, int64_t hidden, double* out) {
    gemv<Avx512F64>(weights, h, hidden, out);
}

void fusedrnn::bench::gemv_double_avx512(const double* weights, const double* h, int64_t hidden, double* out) {
    gemv<Avx512F64>(weights, h, hidden, out);
}
