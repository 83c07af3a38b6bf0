// Worst errors of the vector exp / sigmoid / tanh (src/cpu/vector_math.h) against libm, measured by code built
// for one ISA (vector_math_check_<isa>.cpp) and asserted by vector_math_test.cpp, which is built for the baseline:
// gtest and std templates must not be compiled with wider-ISA flags, or the linker may keep that copy for all.
#pragma once

namespace fusedrnn::test {

struct VectorMathErrors {
    double exp_relative;
    double sigmoid_relative;
    double tanh_relative;
    double tanh_absolute;
    bool nan_propagates;
};

VectorMathErrors vector_math_errors_avx2_f32();
VectorMathErrors vector_math_errors_avx2_f64();
VectorMathErrors vector_math_errors_avx512_f32();
VectorMathErrors vector_math_errors_avx512_f64();

}  // namespace fusedrnn::test

#ifdef FUSEDRNN_VECTOR_MATH_CHECK_TRAITS
#include "cpu/vector_math.h"

#include <cmath>
#include <cstdint>

namespace fusedrnn::test {
namespace {

// Inputs of V's precision over several scales (the largest within exp's clamp), against libm in double on the same
// inputs.
template <class V>
VectorMathErrors measure_vector_math() {
    using T = typename V::Scalar;
    constexpr bool is_float = sizeof(T) == sizeof(float);
    VectorMathErrors errors{0.0, 0.0, 0.0, 0.0, true};
    uint64_t state = 0x9E3779B97F4A7C15u;
    const double scales[] = {is_float ? 87.0 : 700.0, 20.0, 1.0, 0.1, 1e-3, 1e-9};
    const double smallest_sigmoid = is_float ? 1e-37 : 1e-300;
    for (int iteration = 0; iteration < 60000; ++iteration) {
        T x[V::lanes];
        for (T& value : x) {
            state = state * 6364136223846793005u + 1442695040888963407u;  // an LCG: no std templates here
            const double unit = static_cast<double>(state >> 11) * 0x1p-53 * 2.0 - 1.0;
            value = static_cast<T>(unit * scales[iteration % 6]);
        }
        T e[V::lanes], s[V::lanes], t[V::lanes];
        V::store(e, fusedrnn::cpu::exp_vector<V>(V::load(x)));
        V::store(s, fusedrnn::cpu::sigmoid_vector<V>(V::load(x)));
        V::store(t, fusedrnn::cpu::tanh_vector<V>(V::load(x)));
        for (int lane = 0; lane < V::lanes; ++lane) {
            const double input = static_cast<double>(x[lane]);
            const double exp_ref = std::exp(input);
            const double sigmoid_ref = 1.0 / (1.0 + std::exp(-input));
            const double tanh_ref = std::tanh(input);
            errors.exp_relative = std::fmax(errors.exp_relative, std::fabs(e[lane] - exp_ref) / exp_ref);
            if (sigmoid_ref > smallest_sigmoid) {
                errors.sigmoid_relative =
                    std::fmax(errors.sigmoid_relative, std::fabs(s[lane] - sigmoid_ref) / sigmoid_ref);
            }
            errors.tanh_absolute = std::fmax(errors.tanh_absolute, std::fabs(t[lane] - tanh_ref));
            if (tanh_ref != 0.0) {
                errors.tanh_relative =
                    std::fmax(errors.tanh_relative, std::fabs(t[lane] - tanh_ref) / std::fabs(tanh_ref));
            }
        }
    }
    T nan[V::lanes];
    for (T& value : nan) {
        value = static_cast<T>(std::nan(""));
    }
    T out[V::lanes];
    V::store(out, fusedrnn::cpu::sigmoid_vector<V>(V::load(nan)));
    errors.nan_propagates = std::isnan(out[0]);
    V::store(out, fusedrnn::cpu::tanh_vector<V>(V::load(nan)));
    errors.nan_propagates = errors.nan_propagates && std::isnan(out[0]);
    return errors;
}

}  // namespace
}  // namespace fusedrnn::test
#endif
