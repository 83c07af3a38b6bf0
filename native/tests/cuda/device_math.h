// What the device math suite computes for each input, on the host (device_math_test.cpp) and on the device
// (device_math.cu): activate(rules.gates, clipped(rules, x)), then an LSTM unit and a GRU blend from x and its
// neighbours, so that one launch covers every function of common/cell_math.h.
#pragma once

#include "common/cell_math.h"

#include <cuda_runtime_api.h>

#include <cstdint>

namespace fusedrnn::cuda_tests {

template <class T>
FRNN_HOST_DEVICE void evaluate(const CellRules& rules, const T* inputs, int64_t count, int64_t index, T* outputs) {
    const T x = inputs[index];
    const T next = inputs[(index + 1) % count];
    const T previous = inputs[(index + count - 1) % count];
    outputs[3 * index] = cell_math::activate(rules.gates, cell_math::clipped(rules, x));
    T c = previous;
    outputs[3 * index + 1] = cell_math::lstm_unit(rules, x, next, previous, x * T(0.5), T(0.1), T(-0.2), T(0.3), c);
    outputs[3 * index + 2] = cell_math::gru_blend(cell_math::sigmoid(x), std::tanh(next), previous);
}

// evaluate() for every index < count on the device, inputs [count] and outputs [3 * count] in device memory; the
// launch's error, if any. Compiled by nvcc (device_math.cu), called from the GoogleTest suite, which the host
// compiler builds: nvcc's front end with clang-14 cannot parse GCC 12's <map>, which GoogleTest includes.
cudaError_t evaluate_on_device(const CellRules& rules, const float* inputs, int64_t count, float* outputs);
cudaError_t evaluate_on_device(const CellRules& rules, const double* inputs, int64_t count, double* outputs);

}  // namespace fusedrnn::cuda_tests
