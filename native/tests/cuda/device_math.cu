// The device half of the device math suite (see device_math.h).
#include "device_math.h"

#include <cuda_runtime.h>

namespace fusedrnn::cuda_tests {
namespace {

template <class T>
__global__ void evaluate_kernel(CellRules rules, const T* inputs, int64_t count, T* outputs) {
    const int64_t index = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (index < count) {
        evaluate(rules, inputs, count, index, outputs);
    }
}

template <class T>
cudaError_t launch(const CellRules& rules, const T* inputs, int64_t count, T* outputs) {
    constexpr int threads = 128;
    const auto blocks = static_cast<unsigned>((count + threads - 1) / threads);
    evaluate_kernel<T><<<blocks, threads>>>(rules, inputs, count, outputs);
    const cudaError_t launched = cudaGetLastError();
    return launched != cudaSuccess ? launched : cudaDeviceSynchronize();
}

}  // namespace

cudaError_t evaluate_on_device(const CellRules& rules, const float* inputs, int64_t count, float* outputs) {
    return launch(rules, inputs, count, outputs);
}

cudaError_t evaluate_on_device(const CellRules& rules, const double* inputs, int64_t count, double* outputs) {
    return launch(rules, inputs, count, outputs);
}

}  // namespace fusedrnn::cuda_tests
