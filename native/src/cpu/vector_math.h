// exp, sigmoid and tanh over a vector traits struct V (simd_avx2.h, simd_avx512.h), in V's precision, and a
// register-tile helper. Included only by the per-ISA kernel files.
//
// Error bounds, relative unless said (worst seen in native/tests/vector_math_test.cpp's sweep against libm's double
// exp / tanh are asserted there; the bounds leave room above them):
//  double (Scalar = double):
//  - exp: x is clamped to [-708, 708] (so 2^n stays a normal double; above it the result is +inf), reduced as
//    x = n ln2 + r with |r| <= ln2/2 (ln2 split in two, n*ln2_hi exact) and e^r summed as its degree-13 Taylor
//    polynomial (truncation < 4e-18) by Estrin's scheme with FMA, then scaled by 2^n exactly: <= 1e-15.
//  - sigmoid = 1 / (1 + exp(-x)): <= 2e-15 (for results above 1e-307, the clamp's bound).
//  - tanh = 1 - 2 / (exp(2x) + 1) for |x| >= 1/16, where the cancellation costs at most 16x: <= 1e-14, absolute
//    <= 1e-15; below 1/16 its Taylor series to x^11 (truncation < 1e-17): a few ulp.
//  float (Scalar = float), every operation in float32 with FMA:
//  - exp: x clamped to [-87, 88] (above 88 the result is +inf), reduced as above (ln2_hi = 0.693359375 has enough
//    trailing zeros for n*ln2_hi to be exact), e^r by its degree-7 Taylor polynomial (truncation < 8e-9): <= 3e-7.
//  - sigmoid: <= 4e-7 (results above 1e-37).
//  - tanh: x * P(x^2) / Q(x^2), Eigen's rational approximation (degrees 13/6 in x) on |x| <= 7.905 (beyond it
//    +-1, which tanh is in float), x itself below 4e-4 (where x^3/3 is below half an ulp): <= 5e-7, absolute
//    <= 4e-7 (a few float32 ulp of 1).
// NaN inputs give NaN (max/min take the operand order that propagates it); tanh keeps the sign of zero.
//
// The cell variants' other activations (activate, over an ActivationRule of kernels.h) are built on these, in V's
// precision: softplus(x) = max(x, 0) + log1p(e^-|x|) with log1p(u) = log(1 + u) * u / ((1 + u) - 1) (exact where 1 + u
// rounds to 1) and log on [1, 2] by 2 atanh((y - 1) / (y + 1)) after halving y above sqrt(2) (an odd series to s^23 in
// double, s^11 in float); elu's e^x - 1 loses relative (not absolute) accuracy near 0, as ONNX's formula does.
#pragma once

#include "cpu/kernels.h"

#include <fusedrnn.h>

#include <cstddef>
#include <limits>
#include <type_traits>

// Fully unrolls a loop over a register tile, so that every accumulator stays in a register.
#if defined(__GNUC__) || defined(__clang__)
#define FUSEDRNN_UNROLL _Pragma("GCC unroll 16")
#else
#define FUSEDRNN_UNROLL
#endif

namespace fusedrnn::cpu {
// Internal linkage: see simd_avx512.h.
namespace {

template <class V>
constexpr bool is_float32 = std::is_same_v<typename V::Scalar, float>;

// Zeroes a register tile of accumulators.
template <class V, std::size_t Rows, std::size_t Columns>
void zero_tile(typename V::Vec (&tile)[Rows][Columns]) {
FUSEDRNN_UNROLL
    for (auto& row : tile) {
FUSEDRNN_UNROLL
        for (auto& value : row) {
            value = V::zero();
        }
    }
}

template <class V>
typename V::Vec exp_vector(typename V::Vec x) {
    using Vec = typename V::Vec;
    using T = typename V::Scalar;
    // Per precision: the clamp, 1/ln2, ln2 in two parts (the first with trailing zeros, so n*ln2_hi is exact), and the
    // rounding constant that leaves round(x/ln2) in the low mantissa bits.
    constexpr T upper = is_float32<V> ? T(88.0) : T(708.0);
    constexpr T lower = is_float32<V> ? T(-87.0) : T(-708.0);
    constexpr T log2e = is_float32<V> ? T(0x1.715476p0) : T(0x1.71547652b82fep0);
    constexpr T ln2_hi = is_float32<V> ? T(0.693359375) : T(0x1.62e42fefa3800p-1);
    constexpr T ln2_lo = is_float32<V> ? T(-2.12194440e-4) : T(0x1.ef35793c7673p-45);
    constexpr T round_magic = is_float32<V> ? T(0x1.8p23) : T(0x1.8p52);
    const Vec limit = V::set1(upper);
    const Vec unclamped = x;
    x = V::min(limit, V::max(V::set1(lower), x));
    const Vec rounded = V::fma(x, V::set1(log2e), V::set1(round_magic));  // n + magic, n = round(x / ln2)
    const Vec n = V::sub(rounded, V::set1(round_magic));
    Vec r = V::fnma(n, V::set1(ln2_hi), x);
    r = V::fnma(n, V::set1(ln2_lo), r);
    constexpr T inverse_factorials[] = {
        T(1.0),
        T(1.0),
        T(1.0 / 2),
        T(1.0 / 6),
        T(1.0 / 24),
        T(1.0 / 120),
        T(1.0 / 720),
        T(1.0 / 5040),
        T(1.0 / 40320),
        T(1.0 / 362880),
        T(1.0 / 3628800),
        T(1.0 / 39916800),
        T(1.0 / 479001600),
        T(1.0 / 6227020800),
    };
    // Estrin's scheme: few dependent FMAs instead of Horner's many, since a step's activations sit on its critical
    // path.
    const auto terms = [&](int power) {  // 1/power! + r/(power+1)!
        return V::fma(V::set1(inverse_factorials[power + 1]), r, V::set1(inverse_factorials[power]));
    };
    const Vec r2 = V::mul(r, r);
    const Vec r4 = V::mul(r2, r2);
    const Vec terms0to7 = V::fma(V::fma(terms(6), r2, terms(4)), r4, V::fma(terms(2), r2, terms(0)));
    Vec sum = terms0to7;
    if constexpr (!is_float32<V>) {
        const Vec terms8to13 = V::fma(terms(12), r4, V::fma(terms(10), r2, terms(8)));
        sum = V::fma(terms8to13, V::mul(r4, r4), terms0to7);
    }
    const Vec result = V::mul(sum, V::exp2_of_rounded(rounded));
    // Above the clamp +inf, as exp(+inf) is, so that sigmoid(-inf) is exactly 0 and 0 * inf gives NaN as in PyTorch (a
    // clamped e^708 made sigmoid(-inf) 3e-308, and a GRU with an infinite state finite where it is NaN). Below it the
    // clamped minimum already rounds every activation built on exp to its limit.
    return V::select_less(limit, unclamped, V::set1(std::numeric_limits<T>::infinity()), result);
}

template <class V>
typename V::Vec sigmoid_vector(typename V::Vec x) {
    const typename V::Vec one = V::set1(1);
    return V::div(one, V::add(one, exp_vector<V>(V::sub(V::zero(), x))));
}

// Double: 1 - 2/(e^2x + 1), and the Taylor series below 1/16 (see the bounds at the top).
template <class V>
typename V::Vec tanh_f64(typename V::Vec x) {
    using Vec = typename V::Vec;
    const Vec one = V::set1(1.0);
    const Vec large = V::sub(one, V::div(V::set1(2.0), V::add(exp_vector<V>(V::add(x, x)), one)));
    const Vec square = V::mul(x, x);
    // tanh x = x - x^3/3 + 2x^5/15 - 17x^7/315 + 62x^9/2835 - 1382x^11/155925 + ...
    Vec series = V::set1(-1382.0 / 155925);
    series = V::fma(series, square, V::set1(62.0 / 2835));
    series = V::fma(series, square, V::set1(-17.0 / 315));
    series = V::fma(series, square, V::set1(2.0 / 15));
    series = V::fma(series, square, V::set1(-1.0 / 3));
    // x * (1 + x^2 * series), not x + x * (x^2 * series): the sum would turn -0 into +0.
    const Vec small = V::mul(x, V::fma(series, square, one));
    return V::select_less(V::abs(x), V::set1(0.0625), small, large);
}

// Float: Eigen's rational approximation (generic_fast_tanh_float), no cancellation anywhere; the clamp keeps
// x^13 finite and the quotient at +-1 beyond it.
template <class V>
typename V::Vec tanh_f32(typename V::Vec x) {
    using Vec = typename V::Vec;
    const Vec bound = V::set1(7.90531110763549805f);
    const Vec clamped = V::min(bound, V::max(V::sub(V::zero(), bound), x));
    const Vec square = V::mul(clamped, clamped);
    Vec numerator = V::set1(-2.76076847742355e-16f);
    numerator = V::fma(numerator, square, V::set1(2.00018790482477e-13f));
    numerator = V::fma(numerator, square, V::set1(-8.60467152213735e-11f));
    numerator = V::fma(numerator, square, V::set1(5.12229709037114e-08f));
    numerator = V::fma(numerator, square, V::set1(1.48572235717979e-05f));
    numerator = V::fma(numerator, square, V::set1(6.37261928875436e-04f));
    numerator = V::fma(numerator, square, V::set1(4.89352455891786e-03f));
    Vec denominator = V::set1(1.19825839466702e-06f);
    denominator = V::fma(denominator, square, V::set1(1.18534705686654e-04f));
    denominator = V::fma(denominator, square, V::set1(2.26843463243900e-03f));
    denominator = V::fma(denominator, square, V::set1(4.89352518554385e-03f));
    const Vec rational = V::div(V::mul(clamped, numerator), denominator);
    // NaN: the clamp's max/min keep it (x is their second operand), and every later operation propagates it.
    return V::select_less(V::abs(x), V::set1(4e-4f), x, rational);
}

template <class V>
typename V::Vec tanh_vector(typename V::Vec x) {
    if constexpr (is_float32<V>) {
        return tanh_f32<V>(x);
    } else {
        return tanh_f64<V>(x);
    }
}

// log(y) for y in [1, 2] (see the top of the file).
template <class V>
typename V::Vec log_1_to_2(typename V::Vec y) {
    using Vec = typename V::Vec;
    using T = typename V::Scalar;
    const Vec one = V::set1(T(1));
    // Above sqrt(2), log(y) = log(y / 2) + ln2, which keeps |s| <= 0.172.
    const Vec halve = V::select_less(V::set1(T(1.4142135623730951)), y, V::set1(T(1)), V::zero());
    const Vec scaled = V::mul(y, V::sub(one, V::mul(V::set1(T(0.5)), halve)));
    const Vec s = V::div(V::sub(scaled, one), V::add(scaled, one));
    const Vec s2 = V::mul(s, s);
    constexpr int terms = is_float32<V> ? 6 : 12;  // 1/1, 1/3, ..., s^(2*terms - 1)
    Vec series = V::set1(T(1) / T(2 * terms - 1));
    for (int term = terms - 2; term >= 0; --term) {
        series = V::fma(series, s2, V::set1(T(1) / T(2 * term + 1)));
    }
    const Vec log_scaled = V::mul(V::add(s, s), series);
    return V::fma(halve, V::set1(T(0.6931471805599453)), log_scaled);
}

// log(1 + e^x) without overflow or cancellation: max(x, 0) + log1p(e^-|x|).
template <class V>
typename V::Vec softplus_vector(typename V::Vec x) {
    using Vec = typename V::Vec;
    const Vec one = V::set1(1);
    const Vec u = exp_vector<V>(V::sub(V::zero(), V::abs(x)));  // in (0, 1]
    const Vec y = V::add(one, u);
    const Vec rounded_u = V::sub(y, one);
    // log1p(u) = log(y) * u / (y - 1) corrects the rounding of 1 + u; where it rounded to 1, log1p(u) = u.
    const Vec corrected = V::div(V::mul(log_1_to_2<V>(y), u), rounded_u);
    const Vec log1p = V::select_less(rounded_u, V::set1(std::numeric_limits<typename V::Scalar>::min()), u, corrected);
    // NaN: max(0, NaN) is NaN (its second operand), and so is every sum with it.
    return V::add(V::max(V::zero(), x), log1p);
}

// An activation of a cell variant (frnn_activation_kind, never DEFAULT; see fusedrnn.h for each formula).
template <class V>
typename V::Vec activate(const ActivationRule& rule, typename V::Vec x) {
    using Vec = typename V::Vec;
    using T = typename V::Scalar;
    const Vec alpha = V::set1(static_cast<T>(rule.alpha));
    const Vec beta = V::set1(static_cast<T>(rule.beta));
    const Vec one = V::set1(T(1));
    switch (rule.kind) {
    case FRNN_ACTIVATION_IDENTITY: return x;
    case FRNN_ACTIVATION_RELU: return V::max(V::zero(), x);
    case FRNN_ACTIVATION_TANH: return tanh_vector<V>(x);
    case FRNN_ACTIVATION_SIGMOID: return sigmoid_vector<V>(x);
    case FRNN_ACTIVATION_AFFINE: return V::fma(alpha, x, beta);
    case FRNN_ACTIVATION_LEAKY_RELU: return V::select_less(x, V::zero(), V::mul(alpha, x), x);
    case FRNN_ACTIVATION_THRESHOLDED_RELU: return V::select_less(alpha, x, x, V::zero());
    case FRNN_ACTIVATION_SCALED_TANH: return V::mul(alpha, tanh_vector<V>(V::mul(beta, x)));
    case FRNN_ACTIVATION_HARD_SIGMOID: return V::min(one, V::max(V::zero(), V::fma(alpha, x, beta)));
    case FRNN_ACTIVATION_ELU:
        return V::select_less(x, V::zero(), V::mul(alpha, V::sub(exp_vector<V>(x), one)), x);
    case FRNN_ACTIVATION_SOFTSIGN: return V::div(x, V::add(one, V::abs(x)));
    case FRNN_ACTIVATION_SOFTPLUS: return softplus_vector<V>(x);
    default: return x;  // unreachable: the spec was validated
    }
}

// x clipped to [-clip, clip] (clip > 0); NaN stays NaN.
template <class V>
typename V::Vec clip_vector(typename V::Vec x, typename V::Scalar clip) {
    return V::min(V::set1(clip), V::max(V::set1(-clip), x));
}

}  // namespace
}  // namespace fusedrnn::cpu
