// The reference set's dense activation: the formulas of frnn_dense_activation in T with libm, one value at a time.
#include "cpu/kernels.h"

#include <fusedrnn.h>

#include <cmath>
#include <limits>

namespace fusedrnn::cpu {
namespace {

template <class T>
void dense_activation(int32_t activation, T* values, int64_t count, float* out) {
    T largest = -std::numeric_limits<T>::infinity();  // NaNs skipped, as the vector sets do
    T sum = 0;
    if (activation == FRNN_DENSE_SOFTMAX || activation == FRNN_DENSE_LOG_SOFTMAX) {
        for (int64_t i = 0; i < count; ++i) {
            largest = values[i] > largest ? values[i] : largest;
        }
        for (int64_t i = 0; i < count; ++i) {
            sum += std::exp(values[i] - largest);
        }
    }
    for (int64_t i = 0; i < count; ++i) {
        const T x = values[i];
        T y = x;
        switch (activation) {
        case FRNN_DENSE_RELU: y = x < 0 ? T(0) : x; break;
        case FRNN_DENSE_TANH: y = std::tanh(x); break;
        case FRNN_DENSE_SIGMOID: y = T(1) / (T(1) + std::exp(-x)); break;
        case FRNN_DENSE_SOFTMAX: y = std::exp(x - largest) / sum; break;
        case FRNN_DENSE_LOG_SOFTMAX: y = (x - largest) - std::log(sum); break;
        default: break;
        }
        out[i] = round_to_float(y);
    }
}

}  // namespace

void f32_dense_activation_reference(int32_t activation, float* values, int64_t count, float* out) {
    dense_activation(activation, values, count, out);
}

void f64_dense_activation_reference(int32_t activation, double* values, int64_t count, float* out) {
    dense_activation(activation, values, count, out);
}

}  // namespace fusedrnn::cpu
