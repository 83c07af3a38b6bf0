// Shared helpers of the native tests: RAII over the C handles, owned weight/buffer sets viewed as the C
// structs, and the reference tolerance.
#pragma once

#include <fusedrnn.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

// Checks a call's status and that frnn_last_error() contains `message_part` (the message names the function).
#define EXPECT_FAILS(call, expected_status, message_part)                                                       \
    do {                                                                                                        \
        EXPECT_EQ((call), (expected_status));                                                                   \
        EXPECT_THAT(std::string(frnn_last_error()), ::testing::HasSubstr(message_part)) << "from " #call;       \
    } while (false)

namespace fusedrnn::test {

struct ModelDeleter {
    void operator()(frnn_model* model) const { EXPECT_EQ(frnn_model_destroy(model), FRNN_STATUS_OK); }
};
struct WorkspaceDeleter {
    void operator()(frnn_workspace* workspace) const {
        EXPECT_EQ(frnn_workspace_destroy(workspace), FRNN_STATUS_OK);
    }
};
using ModelPtr = std::unique_ptr<frnn_model, ModelDeleter>;
using WorkspacePtr = std::unique_ptr<frnn_workspace, WorkspaceDeleter>;

inline int64_t gate_count(int32_t cell_kind) {
    return cell_kind == FRNN_CELL_LSTM ? 4 : cell_kind == FRNN_CELL_GRU ? 3 : 1;
}

// num_threads of the models the tests make: FUSEDRNN_TEST_THREADS (CTest runs the suites with 1, 2 and 3),
// else 0, the library default.
inline int32_t test_thread_count() {
    const char* threads = std::getenv("FUSEDRNN_TEST_THREADS");
    return threads != nullptr ? static_cast<int32_t>(std::atoi(threads)) : 0;
}

// The kernel set the FUSEDRNN_ISA environment variable names ("scalar" is "reference"), or "" if none.
inline std::string requested_isa() {
    const char* forced = std::getenv("FUSEDRNN_ISA");
    const std::string name = forced != nullptr ? forced : "";
    if (name == "scalar") {
        return "reference";
    }
    return name == "avx512" || name == "avx2" || name == "reference" ? name : "";
}

// precision of the models the tests make: FUSEDRNN_TEST_PRECISION=float64 selects the exact mode (CTest runs the
// suites with both), anything else float32, the library default.
inline frnn_precision test_precision() {
    const char* precision = std::getenv("FUSEDRNN_TEST_PRECISION");
    return precision != nullptr && std::string(precision) == "float64" ? FRNN_PRECISION_FLOAT64 : FRNN_PRECISION_FLOAT32;
}

inline frnn_model_spec make_spec(frnn_cell_kind kind, int32_t input_size, int32_t hidden_size, int32_t num_layers = 1,
                                 int32_t num_directions = 1, int32_t proj_size = 0, bool has_bias = true) {
    frnn_model_spec spec{};
    spec.struct_size = sizeof spec;
    spec.cell_kind = kind;
    spec.input_size = input_size;
    spec.hidden_size = hidden_size;
    spec.num_layers = num_layers;
    spec.num_directions = num_directions;
    spec.proj_size = proj_size;
    spec.has_bias = has_bias;
    spec.num_threads = test_thread_count();
    spec.precision = test_precision();
    return spec;
}

// Canonical (PyTorch-layout) weights of one layer and direction; empty vectors are absent tensors.
struct LayerTensors {
    std::vector<float> weight_ih, weight_hh, bias_ih, bias_hh, weight_hr, weight_p;
};

template <class T>
const T* pointer_or_null(const std::vector<T>& values) {
    return values.empty() ? nullptr : values.data();
}

template <class T>
T* pointer_or_null(std::vector<T>& values) {
    return values.empty() ? nullptr : values.data();
}

template <class T>
int64_t count_of(const std::vector<T>& values) {
    return static_cast<int64_t>(values.size());
}

inline std::vector<frnn_layer_weights> view_weights(const std::vector<LayerTensors>& layers) {
    std::vector<frnn_layer_weights> views;
    for (const LayerTensors& layer : layers) {
        views.push_back({pointer_or_null(layer.weight_ih), count_of(layer.weight_ih), pointer_or_null(layer.weight_hh),
                         count_of(layer.weight_hh), pointer_or_null(layer.bias_ih), count_of(layer.bias_ih),
                         pointer_or_null(layer.bias_hh), count_of(layer.bias_hh), pointer_or_null(layer.weight_hr),
                         count_of(layer.weight_hr), pointer_or_null(layer.weight_p), count_of(layer.weight_p)});
    }
    return views;
}

inline std::vector<float> random_floats(std::mt19937& generator, std::size_t count, float bound) {
    std::uniform_real_distribution<float> distribution(-bound, bound);
    std::vector<float> values(count);
    for (float& value : values) {
        value = distribution(generator);
    }
    return values;
}

// Random weights of the right shapes for spec, uniform in +-1/sqrt(H) like PyTorch's default init.
inline std::vector<LayerTensors> random_weights(const frnn_model_spec& spec, std::mt19937& generator) {
    const int64_t gates = gate_count(spec.cell_kind);
    const int64_t hidden = spec.hidden_size;
    const int64_t out = spec.proj_size > 0 ? spec.proj_size : hidden;
    const float bound = 1.0f / std::sqrt(static_cast<float>(hidden));
    std::vector<LayerTensors> layers;
    for (int32_t layer = 0; layer < spec.num_layers; ++layer) {
        for (int32_t direction = 0; direction < spec.num_directions; ++direction) {
            const int64_t input = layer == 0 ? spec.input_size : spec.num_directions * out;
            LayerTensors tensors;
            tensors.weight_ih = random_floats(generator, static_cast<std::size_t>(gates * hidden * input), bound);
            tensors.weight_hh = random_floats(generator, static_cast<std::size_t>(gates * hidden * out), bound);
            if (spec.has_bias) {
                tensors.bias_ih = random_floats(generator, static_cast<std::size_t>(gates * hidden), bound);
                tensors.bias_hh = random_floats(generator, static_cast<std::size_t>(gates * hidden), bound);
            }
            if (spec.proj_size > 0) {
                tensors.weight_hr = random_floats(generator, static_cast<std::size_t>(out * hidden), bound);
            }
            if (spec.has_peepholes) {
                tensors.weight_p = random_floats(generator, static_cast<std::size_t>(3 * hidden), bound);
            }
            layers.push_back(std::move(tensors));
        }
    }
    return layers;
}

inline ModelPtr create_model(const frnn_model_spec& spec, const std::vector<LayerTensors>& layers) {
    std::vector<frnn_layer_weights> views = view_weights(layers);
    frnn_model* model = nullptr;
    EXPECT_EQ(frnn_model_create(&spec, views.data(), static_cast<int32_t>(views.size()), &model), FRNN_STATUS_OK)
        << frnn_last_error();
    return ModelPtr(model);
}

inline WorkspacePtr create_workspace(const frnn_model* model) {
    frnn_workspace* workspace = nullptr;
    EXPECT_EQ(frnn_workspace_create(model, &workspace), FRNN_STATUS_OK) << frnn_last_error();
    return WorkspacePtr(workspace);
}

// The buffers of one forward call, owned; empty vectors are passed as absent (NULL, count 0).
struct ForwardBuffers {
    int32_t seq_len = 0;
    int32_t batch = 0;
    bool batch_first = false;
    std::vector<float> x, h0, c0, y, hn, cn;
    std::vector<int32_t> lengths;

    // Shapes only; the buffers are filled by the caller.
    static ForwardBuffers shaped(int32_t seq_len, int32_t batch, bool batch_first, std::vector<int32_t> lengths) {
        ForwardBuffers buffers;
        buffers.seq_len = seq_len;
        buffers.batch = batch;
        buffers.batch_first = batch_first;
        buffers.lengths = std::move(lengths);
        return buffers;
    }

    frnn_forward_args args() {
        frnn_forward_args result{};
        result.seq_len = seq_len;
        result.batch = batch;
        result.batch_first = batch_first ? 1 : 0;
        result.x = pointer_or_null(x);
        result.x_count = count_of(x);
        result.h0 = pointer_or_null(h0);
        result.h0_count = count_of(h0);
        result.c0 = pointer_or_null(c0);
        result.c0_count = count_of(c0);
        result.lengths = pointer_or_null(lengths);
        result.lengths_count = count_of(lengths);
        result.y = pointer_or_null(y);
        result.y_count = count_of(y);
        result.hn = pointer_or_null(hn);
        result.hn_count = count_of(hn);
        result.cn = pointer_or_null(cn);
        result.cn_count = count_of(cn);
        return result;
    }
};

// The project's tolerance against references: |got - expected| <= 1e-5 * max(1, |expected|) element-wise.
constexpr double reference_tolerance = 1e-5;

// Against a float64 evaluation of the same equations on the same float32 weights and inputs. The library
// computes in double and rounds only its outputs, so it lands within about half a float32 ulp (6e-8 relative).
constexpr double float64_reference_tolerance = 2e-6;

// The largest |got - expected| / max(1, |expected|) over all elements, the quantity the tolerances bound.
template <class Reference>
double worst_error(const std::vector<float>& got, const std::vector<Reference>& expected) {
    double worst = 0.0;
    for (std::size_t index = 0; index < std::min(got.size(), expected.size()); ++index) {
        const double reference = static_cast<double>(expected[index]);
        const double difference = std::fabs(static_cast<double>(got[index]) - reference);
        worst = std::max(worst, difference / std::max(1.0, std::fabs(reference)));
    }
    return worst;
}

template <class Reference>
::testing::AssertionResult all_close(const std::vector<float>& got, const std::vector<Reference>& expected,
                                     double relative_tolerance = reference_tolerance) {
    if (got.size() != expected.size()) {
        return ::testing::AssertionFailure() << "size " << got.size() << " != expected " << expected.size();
    }
    for (std::size_t index = 0; index < got.size(); ++index) {
        const double reference = static_cast<double>(expected[index]);
        const double tolerance = relative_tolerance * std::max(1.0, std::fabs(reference));
        const double difference = std::fabs(static_cast<double>(got[index]) - reference);
        if (!(difference <= tolerance)) {
            return ::testing::AssertionFailure() << "element " << index << ": got " << got[index] << ", expected "
                                                 << reference << " (difference " << difference << " > " << tolerance
                                                 << "; worst relative error " << worst_error(got, expected) << ")";
        }
    }
    return ::testing::AssertionSuccess();
}

// Records a number as a test property (in --gtest_output=xml/json), e.g. a worst error, to watch headroom.
inline void record_property(const std::string& key, double value) {
    char text[32];
    std::snprintf(text, sizeof text, "%.3g", value);
    ::testing::Test::RecordProperty(key, text);
}

template <class Reference>
void record_worst_error(const std::string& output_name, const std::vector<float>& got,
                        const std::vector<Reference>& expected) {
    record_property("worst_error_" + output_name, worst_error(got, expected));
}

}  // namespace fusedrnn::test
