// exp, sigmoid and tanh in double (and a register-tile helper) over a vector traits struct V (simd_avx2.h,
// simd_avx512.h). Included only by the per-ISA kernel files.
//
// Error bounds, relative (worst seen in a sweep of 4e6 values against long-double expl / tanhl in brackets):
//  - exp: x is clamped to [-708, 708] (so 2^n stays a normal double; above it the result is +inf), reduced as x = n ln2 + r with |r| <= ln2/2
//    (ln2 split in two, n*ln2_hi exact) and e^r summed as its degree-13 Taylor polynomial (truncation < 4e-18)
//    by Estrin's scheme with FMA, then scaled by 2^n exactly: <= 1e-15 [4.1e-16].
//  - sigmoid = 1 / (1 + exp(-x)): <= 2e-15 [4.5e-16] (for results above 1e-307, the clamp's bound).
//  - tanh = 1 - 2 / (exp(2x) + 1) for |x| >= 1/16, where the cancellation costs at most 16x: <= 1e-14 [4.7e-15],
//    absolute <= 1e-15 [3.6e-16]; below 1/16 its Taylor series to x^11 (truncation < 1e-17): a few ulp.
// NaN inputs give NaN (max/min take the operand order that propagates it); tanh keeps the sign of zero.
#pragma once

#include <cstddef>
#include <limits>

// Fully unrolls a loop over a register tile, so that every accumulator stays in a register.
#if defined(__GNUC__) || defined(__clang__)
#define FUSEDRNN_UNROLL _Pragma("GCC unroll 16")
#else
#define FUSEDRNN_UNROLL
#endif

namespace fusedrnn::cpu {
// Internal linkage: see simd_avx512.h.
namespace {

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
    const Vec limit = V::set1(708.0);
    const Vec unclamped = x;
    x = V::min(limit, V::max(V::set1(-708.0), x));
    const Vec round_magic = V::set1(0x1.8p52);
    const Vec rounded = V::fma(x, V::set1(0x1.71547652b82fep0), round_magic);  // n + magic, n = round(x / ln2)
    const Vec n = V::sub(rounded, round_magic);
    Vec r = V::fnma(n, V::set1(0x1.62e42fefa3800p-1), x);  // ln2_hi has 11 trailing zero bits: n*ln2_hi is exact
    r = V::fnma(n, V::set1(0x1.ef35793c7673p-45), r);      // ln2_lo
    constexpr double inverse_factorials[] = {
        1.0,
        1.0,
        1.0 / 2,
        1.0 / 6,
        1.0 / 24,
        1.0 / 120,
        1.0 / 720,
        1.0 / 5040,
        1.0 / 40320,
        1.0 / 362880,
        1.0 / 3628800,
        1.0 / 39916800,
        1.0 / 479001600,
        1.0 / 6227020800,
    };
    // Estrin's scheme: 4 dependent FMAs instead of Horner's 13, since a step's activations sit on its critical path.
    const auto terms = [&](int power) {  // 1/power! + r/(power+1)!
        return V::fma(V::set1(inverse_factorials[power + 1]), r, V::set1(inverse_factorials[power]));
    };
    const Vec r2 = V::mul(r, r);
    const Vec r4 = V::mul(r2, r2);
    const Vec terms0to7 = V::fma(V::fma(terms(6), r2, terms(4)), r4, V::fma(terms(2), r2, terms(0)));
    const Vec terms8to13 = V::fma(terms(12), r4, V::fma(terms(10), r2, terms(8)));
    const Vec sum = V::fma(terms8to13, V::mul(r4, r4), terms0to7);
    const Vec result = V::mul(sum, V::exp2_of_rounded(rounded));
    // Above the clamp +inf, as exp(+inf) is, so that sigmoid(-inf) is exactly 0 and 0 * inf gives NaN as in PyTorch (a
    // clamped e^708 made sigmoid(-inf) 3e-308, and a GRU with an infinite state finite where it is NaN). Below it the
    // clamped e^-708 already rounds every activation built on exp to its limit.
    return V::select_less(limit, unclamped, V::set1(std::numeric_limits<double>::infinity()), result);
}

template <class V>
typename V::Vec sigmoid_vector(typename V::Vec x) {
    const typename V::Vec one = V::set1(1.0);
    return V::div(one, V::add(one, exp_vector<V>(V::sub(V::zero(), x))));
}

template <class V>
typename V::Vec tanh_vector(typename V::Vec x) {
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

}  // namespace
}  // namespace fusedrnn::cpu
