// common/cell_math.h on the device against the same functions on the host (this is the suite's host half; see
// device_math.h): every activation with its ONNX default alpha/beta, clip, and the LSTM and GRU unit updates, in both
// precisions, over values from -20 to 20 and the non-finite ones. The device's exp, tanh and log1p are CUDA's (a few ulps from glibc's) and nvcc contracts a * b + c
// into FMAs, so the two agree to a tolerance, not bit for bit. Without a CUDA device every test is skipped, with the
// runtime's reason; CI builds this suite (proving the device code compiles for sm_80 and sm_90) and runs it that way.
#include "device_math.h"

#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

namespace {

using fusedrnn::ActivationRule;
using fusedrnn::CellRules;
using fusedrnn::cuda_tests::evaluate;
using fusedrnn::cuda_tests::evaluate_on_device;

// The reason no device can run the suite, or empty when one can.
std::string missing_device() {
    int devices = 0;
    const cudaError_t status = cudaGetDeviceCount(&devices);
    if (status != cudaSuccess) {
        return std::string("no CUDA device: ") + cudaGetErrorName(status) + " (" + cudaGetErrorString(status) + ")";
    }
    return devices == 0 ? "no CUDA device: the driver reports none" : "";
}

// `count` values of device memory, freed with the array; status says whether the allocation succeeded.
template <class T>
struct DeviceArray {
    explicit DeviceArray(std::size_t count) {
        void* memory = nullptr;
        status = cudaMalloc(&memory, count * sizeof(T));
        data = static_cast<T*>(memory);
    }
    ~DeviceArray() { cudaFree(data); }
    DeviceArray(const DeviceArray&) = delete;
    DeviceArray& operator=(const DeviceArray&) = delete;

    T* data = nullptr;
    cudaError_t status = cudaSuccess;
};

#define REQUIRE_CUDA(call)                                                                        \
    do {                                                                                          \
        const cudaError_t status_ = (call);                                                       \
        ASSERT_EQ(status_, cudaSuccess) << #call << ": " << cudaGetErrorString(status_);          \
    } while (0)

template <class T>
class DeviceMathTest : public ::testing::Test {
protected:
    void SetUp() override {
        const std::string reason = missing_device();
        if (!reason.empty()) {
            GTEST_SKIP() << reason;
        }
    }

    static std::vector<T> inputs() {
        std::vector<T> values;
        for (int step = -400; step <= 400; ++step) {
            values.push_back(static_cast<T>(step) / T(20));
        }
        values.push_back(std::numeric_limits<T>::quiet_NaN());
        values.push_back(std::numeric_limits<T>::infinity());
        values.push_back(-std::numeric_limits<T>::infinity());
        return values;
    }

    void expect_device_matches_host(const CellRules& rules) {
        const std::vector<T> host_inputs = inputs();
        const int64_t count = static_cast<int64_t>(host_inputs.size());
        std::vector<T> expected(static_cast<std::size_t>(3 * count));
        for (int64_t index = 0; index < count; ++index) {
            evaluate(rules, host_inputs.data(), count, index, expected.data());
        }
        const DeviceArray<T> device_inputs(host_inputs.size());
        const DeviceArray<T> device_outputs(expected.size());
        ASSERT_EQ(device_inputs.status, cudaSuccess) << cudaGetErrorString(device_inputs.status);
        ASSERT_EQ(device_outputs.status, cudaSuccess) << cudaGetErrorString(device_outputs.status);
        REQUIRE_CUDA(cudaMemcpy(device_inputs.data, host_inputs.data(), host_inputs.size() * sizeof(T),
                                cudaMemcpyHostToDevice));
        REQUIRE_CUDA(evaluate_on_device(rules, device_inputs.data, count, device_outputs.data));
        std::vector<T> actual(expected.size());
        REQUIRE_CUDA(
            cudaMemcpy(actual.data(), device_outputs.data, actual.size() * sizeof(T), cudaMemcpyDeviceToHost));

        const double tolerance = std::is_same_v<T, float> ? 2e-6 : 1e-14;
        for (std::size_t index = 0; index < expected.size(); ++index) {
            const double want = static_cast<double>(expected[index]);
            const double got = static_cast<double>(actual[index]);
            if (std::isnan(want) || std::isinf(want)) {
                EXPECT_TRUE(std::isnan(want) ? std::isnan(got) : got == want)
                    << "output " << index << ": host " << want << ", device " << got;
            } else {
                EXPECT_NEAR(got, want, tolerance * std::fmax(1.0, std::fabs(want))) << "output " << index;
            }
        }
    }
};

using Precisions = ::testing::Types<float, double>;
TYPED_TEST_SUITE(DeviceMathTest, Precisions);

TYPED_TEST(DeviceMathTest, EveryActivationMatchesTheHost) {
    const ActivationRule activations[] = {
        {FRNN_ACTIVATION_IDENTITY, 0.0f, 0.0f},   {FRNN_ACTIVATION_RELU, 0.0f, 0.0f},
        {FRNN_ACTIVATION_TANH, 0.0f, 0.0f},       {FRNN_ACTIVATION_SIGMOID, 0.0f, 0.0f},
        {FRNN_ACTIVATION_AFFINE, 1.0f, 0.0f},     {FRNN_ACTIVATION_LEAKY_RELU, 0.01f, 0.0f},
        {FRNN_ACTIVATION_THRESHOLDED_RELU, 1.0f, 0.0f}, {FRNN_ACTIVATION_SCALED_TANH, 1.0f, 1.0f},
        {FRNN_ACTIVATION_HARD_SIGMOID, 0.2f, 0.5f}, {FRNN_ACTIVATION_ELU, 1.0f, 0.0f},
        {FRNN_ACTIVATION_SOFTSIGN, 0.0f, 0.0f},   {FRNN_ACTIVATION_SOFTPLUS, 0.0f, 0.0f}};
    for (const ActivationRule& activation : activations) {
        SCOPED_TRACE("activation kind " + std::to_string(activation.kind));
        CellRules rules{};
        rules.gates = activation;
        rules.candidate = {FRNN_ACTIVATION_TANH, 0.0f, 0.0f};
        rules.output = {FRNN_ACTIVATION_TANH, 0.0f, 0.0f};
        this->expect_device_matches_host(rules);
    }
}

TYPED_TEST(DeviceMathTest, ClipAndCoupledGateMatchTheHost) {
    CellRules rules{};
    rules.gates = {FRNN_ACTIVATION_SIGMOID, 0.0f, 0.0f};
    rules.candidate = {FRNN_ACTIVATION_TANH, 0.0f, 0.0f};
    rules.output = {FRNN_ACTIVATION_TANH, 0.0f, 0.0f};
    rules.clip = 3.0f;
    rules.coupled_input_forget = true;
    this->expect_device_matches_host(rules);
}

}  // namespace
