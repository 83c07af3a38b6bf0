#include "gemv_ceiling.h"

#include "cpu/simd_avx512.h"

namespace {

using V = fusedrnn::cpu::Avx512;

template <class Weight>
typename V::Vec load_weights(const Weight* source) {
    if constexpr (sizeof(Weight) == sizeof(float)) {
        return V::widen(source);
    } else {
        return V::load(source);
    }
}

template <class Weight>
void gemv(const Weight* weights, const double* h, int64_t hidden, double* out) {
    constexpr int vectors = 8;
    constexpr int64_t rows_per_block = vectors * V::lanes;
    for (int64_t block = 0; block < 4 * hidden / rows_per_block; ++block) {
        const Weight* panel = weights + block * hidden * rows_per_block;
        V::Vec sums[vectors];
        for (V::Vec& sum : sums) {
            sum = V::zero();
        }
        for (int64_t k = 0; k < hidden; ++k) {
            const V::Vec value = V::set1(h[k]);
#pragma GCC unroll 8
            for (int vector = 0; vector < vectors; ++vector) {
                sums[vector] = V::fma(value, load_weights(panel + k * rows_per_block + vector * V::lanes), sums[vector]);
            }
        }
        for (int vector = 0; vector < vectors; ++vector) {
            V::store(out + block * rows_per_block + vector * V::lanes, sums[vector]);
        }
    }
}

}  // namespace

void fusedrnn::bench::gemv_widened_avx512(const float* weights, const double* h, int64_t hidden, double* out) {
    gemv(weights, h, hidden, out);
}

void fusedrnn::bench::gemv_double_avx512(const double* weights, const double* h, int64_t hidden, double* out) {
    gemv(weights, h, hidden, out);
}
