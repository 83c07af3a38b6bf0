// A dense layer's activation on one row (DenseActivationFn in kernels.h) over a vector traits struct V, built on
// vector_math.h's exp, sigmoid and tanh (their error bounds are its bounds; softmax adds a division and a sum).
#pragma once

#include "cpu/kernels.h"
#include "cpu/vector_math.h"

#include <fusedrnn.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>

namespace fusedrnn::cpu {
// Internal linkage: see simd_avx512.h.
namespace {

// op on every vector of values [count], each result stored to out as float32; the last, partial vector goes through
// a lane buffer (its lanes past count are computed from zeros and never stored).
template <class V, class Op>
void map_row(const typename V::Scalar* values, int64_t count, float* out, Op op) {
    constexpr std::size_t lanes = V::lanes;
    int64_t i = 0;
    for (; i + static_cast<int64_t>(lanes) <= count; i += static_cast<int64_t>(lanes)) {
        V::store_narrow(out + i, op(V::load(values + i)));
    }
    if (i < count) {
        typename V::Scalar lane_values[lanes] = {};
        float narrow[lanes];
        std::copy(values + i, values + count, lane_values);
        V::store_narrow(narrow, op(V::load(lane_values)));
        std::copy(narrow, narrow + (count - i), out + i);
    }
}

// The largest value of the row, NaNs skipped (they make softmax NaN through their own exp); -inf for none.
template <class V>
typename V::Scalar row_max(const typename V::Scalar* values, int64_t count) {
    using T = typename V::Scalar;
    constexpr std::size_t lanes = V::lanes;
    typename V::Vec largest = V::set1(-std::numeric_limits<T>::infinity());
    int64_t i = 0;
    for (; i + static_cast<int64_t>(lanes) <= count; i += static_cast<int64_t>(lanes)) {
        largest = V::max(V::load(values + i), largest);  // the second operand when the first is NaN
    }
    T lane_values[lanes];
    V::store(lane_values, largest);
    T result = lane_values[0];
    for (std::size_t lane = 1; lane < lanes; ++lane) {
        result = std::max(result, lane_values[lane]);
    }
    for (; i < count; ++i) {
        result = values[i] > result ? values[i] : result;
    }
    return result;
}

// Sum of e^(v - shift) over the row; when `store` each value is replaced by its e^(v - shift).
template <class V>
typename V::Scalar sum_of_shifted_exp(typename V::Scalar* values, int64_t count, typename V::Scalar shift, bool store) {
    using T = typename V::Scalar;
    constexpr std::size_t lanes = V::lanes;
    const typename V::Vec shift_vector = V::set1(shift);
    typename V::Vec sum = V::zero();
    int64_t i = 0;
    for (; i + static_cast<int64_t>(lanes) <= count; i += static_cast<int64_t>(lanes)) {
        const typename V::Vec e = exp_vector<V>(V::sub(V::load(values + i), shift_vector));
        if (store) {
            V::store(values + i, e);
        }
        sum = V::add(sum, e);
    }
    T total = V::sum(sum);
    if (i < count) {
        T lane_values[lanes] = {};
        std::copy(values + i, values + count, lane_values);
        V::store(lane_values, exp_vector<V>(V::sub(V::load(lane_values), shift_vector)));
        for (int64_t lane = 0; lane < count - i; ++lane) {
            total += lane_values[lane];
            if (store) {
                values[i + lane] = lane_values[lane];
            }
        }
    }
    return total;
}

template <class V>
void dense_activation(int32_t activation, typename V::Scalar* values, int64_t count, float* out) {
    using Vec = typename V::Vec;
    using T = typename V::Scalar;
    switch (activation) {
    case FRNN_DENSE_RELU:
        return map_row<V>(values, count, out, [](Vec x) { return V::max(V::zero(), x); });  // NaN stays NaN
    case FRNN_DENSE_TANH:
        return map_row<V>(values, count, out, [](Vec x) { return tanh_vector<V>(x); });
    case FRNN_DENSE_SIGMOID:
        return map_row<V>(values, count, out, [](Vec x) { return sigmoid_vector<V>(x); });
    case FRNN_DENSE_SOFTMAX: {
        const T sum = sum_of_shifted_exp<V>(values, count, row_max<V>(values, count), true);
        const Vec divisor = V::set1(sum);
        return map_row<V>(values, count, out, [&](Vec e) { return V::div(e, divisor); });
    }
    case FRNN_DENSE_LOG_SOFTMAX: {
        const T largest = row_max<V>(values, count);
        const Vec log_sum = V::set1(std::log(sum_of_shifted_exp<V>(values, count, largest, false)));
        const Vec shift = V::set1(largest);
        return map_row<V>(values, count, out, [&](Vec x) { return V::sub(V::sub(x, shift), log_sum); });
    }
    default:
        return map_row<V>(values, count, out, [](Vec x) { return x; });
    }
}

}  // namespace
}  // namespace fusedrnn::cpu

// Defines <datatype>_dense_activation_<isa> of kernels.h as dense_activation<Traits>.
#define FUSEDRNN_DEFINE_DENSE_ACTIVATION(function, traits)                                                    \
    void fusedrnn::cpu::function(int32_t activation, traits::Scalar* values, int64_t count, float* out) {      \
        dense_activation<traits>(activation, values, count, out);                                              \
    }
