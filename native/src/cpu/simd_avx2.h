// Vector traits for the avx2 kernel set (AVX2 + FMA): Avx2F32 (8 floats per register) and Avx2F64 (4 doubles).
// Included only by *_avx2.cpp, which CMake compiles with -mavx2 -mfma. The kernel templates (*_kernel.h,
// vector_math.h) use nothing but these members, so every kernel is written once for every vector set and precision:
//   Scalar          the arithmetic type (float or double)
//   Vec, lanes      a register of `lanes` Scalars
//   accumulators    registers a GEMM tile may keep as sums; step_rows: batch rows per weight pass of a step
//   load/store      Scalars; load_weights: `lanes` float32 weights as a Vec (widened in double precision)
//   store_narrow    `lanes` values rounded to float32, NaN canonical
//   arithmetic, select_less, exp2_of_rounded (2^n for exp), prefetch, sum
#pragma once

#include <immintrin.h>

#include <limits>

namespace fusedrnn::cpu {
// Internal linkage: see simd_avx512.h.
namespace {

struct Avx2F32 {
    using Scalar = float;
    using Vec = __m256;
    static constexpr int lanes = 8;
    static constexpr int accumulators = 8;  // per GEMM tile, of 16 registers (the rest: weights, broadcasts)
    static constexpr int step_rows = 2;     // batch rows per weight pass of a step: 2 rows x 4 gates = 8

    static Vec zero() { return _mm256_setzero_ps(); }
    static Vec set1(float value) { return _mm256_set1_ps(value); }
    static Vec load(const float* source) { return _mm256_loadu_ps(source); }
    static void store(float* destination, Vec value) { _mm256_storeu_ps(destination, value); }
    static Vec load_weights(const float* source) { return _mm256_loadu_ps(source); }
    // Every NaN as the canonical quiet NaN (see round_to_float in kernels.h).
    static void store_narrow(float* destination, Vec value) {
        const Vec nan = _mm256_set1_ps(std::numeric_limits<float>::quiet_NaN());
        _mm256_storeu_ps(destination, _mm256_blendv_ps(value, nan, _mm256_cmp_ps(value, value, _CMP_UNORD_Q)));
    }

    static Vec add(Vec a, Vec b) { return _mm256_add_ps(a, b); }
    static Vec sub(Vec a, Vec b) { return _mm256_sub_ps(a, b); }
    static Vec mul(Vec a, Vec b) { return _mm256_mul_ps(a, b); }
    static Vec div(Vec a, Vec b) { return _mm256_div_ps(a, b); }
    static Vec fma(Vec a, Vec b, Vec c) { return _mm256_fmadd_ps(a, b, c); }    // a*b + c
    static Vec fnma(Vec a, Vec b, Vec c) { return _mm256_fnmadd_ps(a, b, c); }  // c - a*b
    static Vec max(Vec a, Vec b) { return _mm256_max_ps(a, b); }                // b if either is NaN
    static Vec min(Vec a, Vec b) { return _mm256_min_ps(a, b); }                // b if either is NaN
    static Vec abs(Vec value) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), value); }
    static Vec select_less(Vec a, Vec b, Vec if_less, Vec otherwise) {
        return _mm256_blendv_ps(otherwise, if_less, _mm256_cmp_ps(a, b, _CMP_LT_OQ));
    }
    // As Avx512F32::exp2_of_rounded.
    static Vec exp2_of_rounded(Vec t) {
        const __m256i bits = _mm256_add_epi32(_mm256_castps_si256(t), _mm256_set1_epi32(127));
        return _mm256_castsi256_ps(_mm256_slli_epi32(bits, 23));
    }
    static void prefetch(const void* address) { _mm_prefetch(static_cast<const char*>(address), _MM_HINT_T0); }
    static float sum(Vec value) {
        __m128 quad = _mm_add_ps(_mm256_castps256_ps128(value), _mm256_extractf128_ps(value, 1));
        quad = _mm_add_ps(quad, _mm_movehl_ps(quad, quad));
        return _mm_cvtss_f32(_mm_add_ss(quad, _mm_movehdup_ps(quad)));
    }
};

struct Avx2F64 {
    using Scalar = double;
    using Vec = __m256d;
    static constexpr int lanes = 4;
    static constexpr int accumulators = 8;
    static constexpr int step_rows = 2;

    static Vec zero() { return _mm256_setzero_pd(); }
    static Vec set1(double value) { return _mm256_set1_pd(value); }
    static Vec load(const double* source) { return _mm256_loadu_pd(source); }
    static void store(double* destination, Vec value) { _mm256_storeu_pd(destination, value); }
    static Vec load_weights(const float* source) { return _mm256_cvtps_pd(_mm_loadu_ps(source)); }
    // Rounded to float32, every NaN as the canonical quiet NaN (see round_to_float in kernels.h).
    static void store_narrow(float* destination, Vec value) {
        const Vec nan = _mm256_set1_pd(std::numeric_limits<double>::quiet_NaN());
        const Vec canonical = _mm256_blendv_pd(value, nan, _mm256_cmp_pd(value, value, _CMP_UNORD_Q));
        _mm_storeu_ps(destination, _mm256_cvtpd_ps(canonical));
    }

    static Vec add(Vec a, Vec b) { return _mm256_add_pd(a, b); }
    static Vec sub(Vec a, Vec b) { return _mm256_sub_pd(a, b); }
    static Vec mul(Vec a, Vec b) { return _mm256_mul_pd(a, b); }
    static Vec div(Vec a, Vec b) { return _mm256_div_pd(a, b); }
    static Vec fma(Vec a, Vec b, Vec c) { return _mm256_fmadd_pd(a, b, c); }
    static Vec fnma(Vec a, Vec b, Vec c) { return _mm256_fnmadd_pd(a, b, c); }
    static Vec max(Vec a, Vec b) { return _mm256_max_pd(a, b); }
    static Vec min(Vec a, Vec b) { return _mm256_min_pd(a, b); }
    static Vec abs(Vec value) { return _mm256_andnot_pd(_mm256_set1_pd(-0.0), value); }
    static Vec select_less(Vec a, Vec b, Vec if_less, Vec otherwise) {
        return _mm256_blendv_pd(otherwise, if_less, _mm256_cmp_pd(a, b, _CMP_LT_OQ));
    }
    // As Avx512F64::exp2_of_rounded.
    static Vec exp2_of_rounded(Vec t) {
        const __m256i bits = _mm256_add_epi64(_mm256_castpd_si256(t), _mm256_set1_epi64x(1023));
        return _mm256_castsi256_pd(_mm256_slli_epi64(bits, 52));
    }
    static void prefetch(const void* address) { _mm_prefetch(static_cast<const char*>(address), _MM_HINT_T0); }
    static double sum(Vec value) {
        const __m128d pair = _mm_add_pd(_mm256_castpd256_pd128(value), _mm256_extractf128_pd(value, 1));
        return _mm_cvtsd_f64(_mm_add_sd(pair, _mm_unpackhi_pd(pair, pair)));
    }
};

}  // namespace
}  // namespace fusedrnn::cpu
