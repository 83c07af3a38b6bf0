// Vector traits for the avx512 kernel set (AVX-512F): Avx512F32 (16 floats per register) and Avx512F64 (8 doubles).
// Included only by *_avx512.cpp, which CMake compiles with -mavx512f ...; see simd_avx2.h for the shape every traits
// struct has.
#pragma once

// GCC 12's AVX-512 intrinsics initialize their "undefined" vectors from themselves, which its own
// -Wuninitialized reports (GCC bug 105593, fixed in 13).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include <limits>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

namespace fusedrnn::cpu {
// Internal linkage: the kernel templates are compiled once per ISA with different flags, and an inline function
// with external linkage could be merged by the linker with the copy built for a wider ISA.
namespace {

struct Avx512F32 {
    using Scalar = float;
    using Vec = __m512;
    static constexpr int lanes = 16;
    static constexpr int accumulators = 24;  // per GEMM tile, of 32 registers (the rest: weights, a broadcast)
    static constexpr int step_rows = 4;      // batch rows per weight pass of a step: 4 rows x 4 gates = 16

    static Vec zero() { return _mm512_setzero_ps(); }
    static Vec set1(float value) { return _mm512_set1_ps(value); }
    static Vec load(const float* source) { return _mm512_loadu_ps(source); }
    static void store(float* destination, Vec value) { _mm512_storeu_ps(destination, value); }
    static Vec load_weights(const float* source) { return _mm512_loadu_ps(source); }
    // Every NaN as the canonical quiet NaN (see round_to_float in kernels.h).
    static void store_narrow(float* destination, Vec value) {
        const Vec nan = _mm512_set1_ps(std::numeric_limits<float>::quiet_NaN());
        _mm512_storeu_ps(destination, _mm512_mask_blend_ps(_mm512_cmp_ps_mask(value, value, _CMP_UNORD_Q), value, nan));
    }

    static Vec add(Vec a, Vec b) { return _mm512_add_ps(a, b); }
    static Vec sub(Vec a, Vec b) { return _mm512_sub_ps(a, b); }
    static Vec mul(Vec a, Vec b) { return _mm512_mul_ps(a, b); }
    static Vec div(Vec a, Vec b) { return _mm512_div_ps(a, b); }
    static Vec fma(Vec a, Vec b, Vec c) { return _mm512_fmadd_ps(a, b, c); }    // a*b + c
    static Vec fnma(Vec a, Vec b, Vec c) { return _mm512_fnmadd_ps(a, b, c); }  // c - a*b
    static Vec max(Vec a, Vec b) { return _mm512_max_ps(a, b); }                // b if either is NaN
    static Vec min(Vec a, Vec b) { return _mm512_min_ps(a, b); }                // b if either is NaN
    static Vec abs(Vec value) { return _mm512_abs_ps(value); }
    static Vec select_less(Vec a, Vec b, Vec if_less, Vec otherwise) {
        return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, b, _CMP_LT_OQ), otherwise, if_less);
    }
    // 2^n from t = n + 0x1.8p23 (n integral, |n| <= 126): n sits in the low bits of t, moved into the exponent.
    static Vec exp2_of_rounded(Vec t) {
        const __m512i bits = _mm512_add_epi32(_mm512_castps_si512(t), _mm512_set1_epi32(127));
        return _mm512_castsi512_ps(_mm512_slli_epi32(bits, 23));
    }
    static void prefetch(const void* address) { _mm_prefetch(static_cast<const char*>(address), _MM_HINT_T0); }
    static float sum(Vec value) { return _mm512_reduce_add_ps(value); }
};

struct Avx512F64 {
    using Scalar = double;
    using Vec = __m512d;
    static constexpr int lanes = 8;
    static constexpr int accumulators = 16;
    static constexpr int step_rows = 4;

    static Vec zero() { return _mm512_setzero_pd(); }
    static Vec set1(double value) { return _mm512_set1_pd(value); }
    static Vec load(const double* source) { return _mm512_loadu_pd(source); }
    static void store(double* destination, Vec value) { _mm512_storeu_pd(destination, value); }
    static Vec load_weights(const float* source) { return _mm512_cvtps_pd(_mm256_loadu_ps(source)); }
    // Rounded to float32, every NaN as the canonical quiet NaN (see round_to_float in kernels.h).
    static void store_narrow(float* destination, Vec value) {
        const Vec nan = _mm512_set1_pd(std::numeric_limits<double>::quiet_NaN());
        const Vec canonical = _mm512_mask_blend_pd(_mm512_cmp_pd_mask(value, value, _CMP_UNORD_Q), value, nan);
        _mm256_storeu_ps(destination, _mm512_cvtpd_ps(canonical));
    }

    static Vec add(Vec a, Vec b) { return _mm512_add_pd(a, b); }
    static Vec sub(Vec a, Vec b) { return _mm512_sub_pd(a, b); }
    static Vec mul(Vec a, Vec b) { return _mm512_mul_pd(a, b); }
    static Vec div(Vec a, Vec b) { return _mm512_div_pd(a, b); }
    static Vec fma(Vec a, Vec b, Vec c) { return _mm512_fmadd_pd(a, b, c); }
    static Vec fnma(Vec a, Vec b, Vec c) { return _mm512_fnmadd_pd(a, b, c); }
    static Vec max(Vec a, Vec b) { return _mm512_max_pd(a, b); }
    static Vec min(Vec a, Vec b) { return _mm512_min_pd(a, b); }
    static Vec abs(Vec value) { return _mm512_abs_pd(value); }
    static Vec select_less(Vec a, Vec b, Vec if_less, Vec otherwise) {
        return _mm512_mask_blend_pd(_mm512_cmp_pd_mask(a, b, _CMP_LT_OQ), otherwise, if_less);
    }
    // 2^n from t = n + 0x1.8p52 (n integral, |n| <= 1022): n sits in the low bits of t, moved into the exponent.
    static Vec exp2_of_rounded(Vec t) {
        const __m512i bits = _mm512_add_epi64(_mm512_castpd_si512(t), _mm512_set1_epi64(1023));
        return _mm512_castsi512_pd(_mm512_slli_epi64(bits, 52));
    }
    static void prefetch(const void* address) { _mm_prefetch(static_cast<const char*>(address), _MM_HINT_T0); }
    static double sum(Vec value) { return _mm512_reduce_add_pd(value); }
};

}  // namespace
}  // namespace fusedrnn::cpu
