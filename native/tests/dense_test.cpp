// frnn_dense_*: every activation against a float64 transcription of y = activation(W x + b), the same bits for every
// thread count, and every bad argument with its status and message.
#include "test_support.h"

#include <cstring>

namespace fusedrnn::test {
namespace {

struct DenseDeleter {
    void operator()(frnn_dense* dense) const { EXPECT_EQ(frnn_dense_destroy(dense), FRNN_STATUS_OK); }
};
using DensePtr = std::unique_ptr<frnn_dense, DenseDeleter>;

const frnn_dense_activation all_activations[] = {FRNN_DENSE_IDENTITY, FRNN_DENSE_RELU,    FRNN_DENSE_TANH,
                                                 FRNN_DENSE_SIGMOID,  FRNN_DENSE_SOFTMAX, FRNN_DENSE_LOG_SOFTMAX};

frnn_dense_spec dense_spec(int32_t inputs, int32_t outputs, int32_t activation, bool has_bias = true,
                           int32_t threads = test_thread_count()) {
    frnn_dense_spec spec{};
    spec.struct_size = sizeof spec;
    spec.input_size = inputs;
    spec.output_size = outputs;
    spec.activation = activation;
    spec.num_threads = threads;
    spec.precision = test_precision();
    spec.has_bias = has_bias;
    return spec;
}

// A dense layer's tensors and a workspace to run it in (borrowed from a small model, as a sequence model's heads
// borrow the one of the network before them).
struct DenseCase {
    frnn_dense_spec spec;
    std::vector<float> weight, bias;
    ModelPtr model;
    WorkspacePtr workspace;

    explicit DenseCase(frnn_dense_spec given, uint32_t seed = 1) : spec(given) {
        std::mt19937 generator(seed);
        weight = random_floats(generator, static_cast<std::size_t>(spec.output_size) * spec.input_size,
                               1.0f / std::sqrt(static_cast<float>(spec.input_size)));
        if (spec.has_bias) {
            bias = random_floats(generator, static_cast<std::size_t>(spec.output_size), 0.5f);
        }
        frnn_model_spec model_spec = make_spec(FRNN_CELL_RNN_TANH, 2, 3);
        std::vector<LayerTensors> layers = random_weights(model_spec, generator);
        std::vector<frnn_layer_weights> views = view_weights(layers);
        frnn_model* created_model = nullptr;
        EXPECT_EQ(frnn_model_create(&model_spec, views.data(), 1, &created_model), FRNN_STATUS_OK);
        model.reset(created_model);
        frnn_workspace* created_workspace = nullptr;
        EXPECT_EQ(frnn_workspace_create(model.get(), &created_workspace), FRNN_STATUS_OK);
        workspace.reset(created_workspace);
    }

    frnn_status create(frnn_dense** dense) const {
        return frnn_dense_create(&spec, pointer_or_null(weight), count_of(weight), pointer_or_null(bias),
                                 count_of(bias), dense);
    }

    DensePtr make() const {
        frnn_dense* dense = nullptr;
        EXPECT_EQ(create(&dense), FRNN_STATUS_OK) << frnn_last_error();
        return DensePtr(dense);
    }

    std::vector<float> run(const frnn_dense* dense, const std::vector<float>& x) const {
        const int64_t rows = count_of(x) / spec.input_size;
        std::vector<float> y(static_cast<std::size_t>(rows * spec.output_size), -7.0f);
        EXPECT_EQ(frnn_dense_forward(dense, workspace.get(), rows, x.data(), count_of(x), y.data(), count_of(y)),
                  FRNN_STATUS_OK)
            << frnn_last_error();
        return y;
    }

    // y = activation(W x + b) in double, the formulas of frnn_dense_activation.
    std::vector<double> reference(const std::vector<float>& x) const {
        const int64_t inputs = spec.input_size, outputs = spec.output_size, rows = count_of(x) / inputs;
        std::vector<double> y(static_cast<std::size_t>(rows * outputs));
        for (int64_t row = 0; row < rows; ++row) {
            double* out = &y[static_cast<std::size_t>(row * outputs)];
            for (int64_t j = 0; j < outputs; ++j) {
                double sum = bias.empty() ? 0.0 : bias[j];
                for (int64_t k = 0; k < inputs; ++k) {
                    sum += static_cast<double>(weight[j * inputs + k]) * x[row * inputs + k];
                }
                out[j] = sum;
            }
            double largest = -INFINITY, exp_sum = 0;
            for (int64_t j = 0; j < outputs; ++j) largest = std::max(largest, out[j]);
            for (int64_t j = 0; j < outputs; ++j) exp_sum += std::exp(out[j] - largest);
            for (int64_t j = 0; j < outputs; ++j) {
                const double v = out[j];
                switch (spec.activation) {
                case FRNN_DENSE_RELU: out[j] = std::max(0.0, v); break;
                case FRNN_DENSE_TANH: out[j] = std::tanh(v); break;
                case FRNN_DENSE_SIGMOID: out[j] = 1 / (1 + std::exp(-v)); break;
                case FRNN_DENSE_SOFTMAX: out[j] = std::exp(v - largest) / exp_sum; break;
                case FRNN_DENSE_LOG_SOFTMAX: out[j] = v - largest - std::log(exp_sum); break;
                default: break;
                }
            }
        }
        return y;
    }
};

std::vector<float> random_rows(int64_t rows, int64_t inputs, uint32_t seed) {
    std::mt19937 generator(seed);
    return random_floats(generator, static_cast<std::size_t>(rows * inputs), 1.0f);
}

// Float64 rounds once to float32 (plus the vector activations' 1e-14); float32 sums in float32 (inputs of at most a
// few hundred products of magnitude below one).
double tolerance() { return test_precision() == FRNN_PRECISION_FLOAT64 ? 1e-7 : 2e-6; }

TEST(Dense, EveryActivationMatchesTheFloat64Formula) {
    struct Size {
        int32_t inputs, outputs;
        int64_t rows;
    };
    // Outputs below, at and past a panel width, a ragged last block, and depths from 1 to past the GEMM's blocking.
    const Size sizes[] = {{1, 1, 1}, {5, 7, 3}, {16, 16, 2}, {64, 33, 5}, {257, 100, 9}, {3, 1000, 1}};
    for (const frnn_dense_activation activation : all_activations) {
        for (const Size& size : sizes) {
            for (const bool has_bias : {true, false}) {
                DenseCase dense_case(dense_spec(size.inputs, size.outputs, activation, has_bias));
                DensePtr dense = dense_case.make();
                const std::vector<float> x = random_rows(size.rows, size.inputs, 7);
                const std::vector<float> y = dense_case.run(dense.get(), x);
                const std::vector<double> expected = dense_case.reference(x);
                for (std::size_t i = 0; i < y.size(); ++i) {
                    ASSERT_NEAR(y[i], expected[i], tolerance() * std::max(1.0, std::abs(expected[i])))
                        << "activation " << activation << ", " << size.inputs << " -> " << size.outputs << ", row "
                        << i / static_cast<std::size_t>(size.outputs) << ", bias " << has_bias;
                }
            }
        }
    }
}

TEST(Dense, ResultsAreTheSameBitsForEveryThreadCount) {
    // 4 rows x 1000 outputs x 64 inputs: enough multiply-adds to split between the threads.
    const std::vector<float> x = random_rows(4, 64, 3);
    for (const frnn_dense_activation activation : {FRNN_DENSE_TANH, FRNN_DENSE_SOFTMAX}) {
        std::vector<float> first;
        for (const int32_t threads : {1, 2, 3}) {
            DenseCase dense_case(dense_spec(64, 1000, activation, true, threads));
            DensePtr dense = dense_case.make();
            const std::vector<float> y = dense_case.run(dense.get(), x);
            if (first.empty()) {
                first = y;
            } else {
                EXPECT_EQ(std::memcmp(y.data(), first.data(), y.size() * sizeof(float)), 0) << threads << " threads";
            }
        }
    }
}

TEST(Dense, SoftmaxIsStableForLargeValuesAndNaNSpreadsOnlyInItsRow) {
    DenseCase dense_case(dense_spec(1, 40, FRNN_DENSE_SOFTMAX, false));
    std::fill(dense_case.weight.begin(), dense_case.weight.end(), 1.0f);
    dense_case.weight[0] = 2.0f;
    DensePtr dense = dense_case.make();
    // Row 0: 1000 and 2000, far past e^88; row 1: NaN.
    const std::vector<float> y = dense_case.run(dense.get(), {1000.0f, NAN});
    double row_sum = 0;
    for (int j = 0; j < 40; ++j) {
        ASSERT_TRUE(std::isfinite(y[j]));
        row_sum += y[j];
        EXPECT_TRUE(std::isnan(y[40 + j]));
    }
    EXPECT_NEAR(y[0], 1.0, 1e-7);
    EXPECT_NEAR(row_sum, 1.0, 1e-6);
}

TEST(Dense, RunsOnTheWorkspaceOfAnyModelAndAfterItsForwards) {
    DenseCase dense_case(dense_spec(8, 20, FRNN_DENSE_SIGMOID));
    DensePtr dense = dense_case.make();
    const std::vector<float> x = random_rows(2, 8, 5);
    const std::vector<float> before = dense_case.run(dense.get(), x);
    ForwardBuffers buffers;
    buffers.seq_len = 3;
    buffers.batch = 2;
    buffers.x.assign(3 * 2 * 2, 0.5f);
    buffers.y.resize(3 * 2 * 3);
    frnn_forward_args args = buffers.args();
    ASSERT_EQ(frnn_model_forward(dense_case.model.get(), dense_case.workspace.get(), &args), FRNN_STATUS_OK);
    EXPECT_EQ(dense_case.run(dense.get(), x), before);
}

TEST(DenseCreate, RejectsBadSpecsAndWeights) {
    DenseCase good(dense_spec(4, 3, FRNN_DENSE_IDENTITY));
    frnn_dense* dense = nullptr;
    const auto fails_with = [&](DenseCase& bad, frnn_status status, const char* message) {
        EXPECT_FAILS(bad.create(&dense), status, message);
        EXPECT_EQ(dense, nullptr);
    };
    EXPECT_FAILS(frnn_dense_create(&good.spec, good.weight.data(), 12, good.bias.data(), 3, nullptr),
                 FRNN_STATUS_NULL_POINTER, "out_dense");
    EXPECT_FAILS(frnn_dense_create(nullptr, good.weight.data(), 12, good.bias.data(), 3, &dense),
                 FRNN_STATUS_NULL_POINTER, "spec is NULL");
    {
        DenseCase bad = DenseCase(good.spec);
        bad.spec.struct_size = 8;
        fails_with(bad, FRNN_STATUS_INVALID_ARGUMENT, "sizeof(frnn_dense_spec)");
    }
    {
        DenseCase bad(good.spec);
        bad.spec.input_size = 0;
        fails_with(bad, FRNN_STATUS_INVALID_ARGUMENT, "spec->input_size is 0");
    }
    {
        DenseCase bad(good.spec);
        bad.spec.output_size = -3;
        fails_with(bad, FRNN_STATUS_INVALID_ARGUMENT, "spec->output_size is -3");
    }
    {
        DenseCase bad(good.spec);
        bad.spec.activation = 6;
        fails_with(bad, FRNN_STATUS_INVALID_ARGUMENT, "spec->activation is 6");
    }
    {
        DenseCase bad(good.spec);
        bad.spec.precision = 2;
        fails_with(bad, FRNN_STATUS_INVALID_ARGUMENT, "spec->precision is 2");
    }
    {
        DenseCase bad(good.spec);
        bad.spec.num_threads = -1;
        fails_with(bad, FRNN_STATUS_INVALID_ARGUMENT, "spec->num_threads is -1");
    }
    {
        DenseCase bad(good.spec);
        const unsigned char two = 2;
        std::memcpy(&bad.spec.has_bias, &two, 1);
        fails_with(bad, FRNN_STATUS_INVALID_ARGUMENT, "spec->has_bias");
    }
    {
        DenseCase bad(good.spec);
        bad.spec.reserved[6] = 1;
        fails_with(bad, FRNN_STATUS_INVALID_ARGUMENT, "spec->reserved[6]");
    }
    {
        DenseCase bad(good.spec);
        bad.weight.pop_back();
        fails_with(bad, FRNN_STATUS_SHAPE_MISMATCH, "weight_count is 11 but the dense layer needs output_size*input_size = 3*4 = 12");
    }
    {
        DenseCase bad(good.spec);
        bad.weight.clear();
        fails_with(bad, FRNN_STATUS_NULL_POINTER, "weight is NULL");
    }
    {
        DenseCase bad(good.spec);
        bad.bias.clear();
        fails_with(bad, FRNN_STATUS_NULL_POINTER, "bias is NULL");
    }
    {
        DenseCase bad(dense_spec(4, 3, FRNN_DENSE_IDENTITY, false));
        bad.bias = {1, 2, 3};
        fails_with(bad, FRNN_STATUS_INVALID_ARGUMENT, "bias must be NULL with count 0 because spec->has_bias is 0");
    }
    // A newer caller's struct with a field this library does not know set.
    struct {
        frnn_dense_spec spec;
        uint32_t newer_field;
    } newer{good.spec, 1};
    newer.spec.struct_size = sizeof newer;
    EXPECT_FAILS(frnn_dense_create(&newer.spec, good.weight.data(), 12, good.bias.data(), 3, &dense),
                 FRNN_STATUS_UNSUPPORTED, "a field of a newer fusedrnn.h");
}

TEST(DenseForward, RejectsBadHandlesRowsAndBuffers) {
    DenseCase dense_case(dense_spec(4, 3, FRNN_DENSE_SOFTMAX));
    DensePtr dense = dense_case.make();
    frnn_workspace* workspace = dense_case.workspace.get();
    std::vector<float> x(2 * 4, 0.5f), y(2 * 3);
    EXPECT_FAILS(frnn_dense_forward(nullptr, workspace, 2, x.data(), 8, y.data(), 6), FRNN_STATUS_NULL_POINTER, "dense");
    EXPECT_FAILS(frnn_dense_forward(dense.get(), nullptr, 2, x.data(), 8, y.data(), 6), FRNN_STATUS_NULL_POINTER,
                 "workspace");
    EXPECT_FAILS(frnn_dense_forward(reinterpret_cast<frnn_dense*>(workspace), workspace, 2, x.data(), 8, y.data(), 6),
                 FRNN_STATUS_INVALID_HANDLE, "dense is not a live frnn_dense");
    EXPECT_FAILS(frnn_dense_forward(dense.get(), workspace, 0, x.data(), 0, y.data(), 0), FRNN_STATUS_INVALID_ARGUMENT,
                 "rows is 0");
    EXPECT_FAILS(frnn_dense_forward(dense.get(), workspace, int64_t{1} << 40, x.data(), 8, y.data(), 6),
                 FRNN_STATUS_INVALID_ARGUMENT, "rows is 1099511627776");
    EXPECT_FAILS(frnn_dense_forward(dense.get(), workspace, 2, nullptr, 8, y.data(), 6), FRNN_STATUS_NULL_POINTER,
                 "x is NULL");
    EXPECT_FAILS(frnn_dense_forward(dense.get(), workspace, 2, x.data(), 8, nullptr, 6), FRNN_STATUS_NULL_POINTER,
                 "y is NULL");
    EXPECT_FAILS(frnn_dense_forward(dense.get(), workspace, 2, x.data(), 7, y.data(), 6), FRNN_STATUS_SHAPE_MISMATCH,
                 "x_count is 7 but the dense layer needs rows*input_size = 2*4 = 8");
    EXPECT_FAILS(frnn_dense_forward(dense.get(), workspace, 2, x.data(), 8, y.data(), 5), FRNN_STATUS_SHAPE_MISMATCH,
                 "y_count is 5");
    std::vector<float> shared(8, 0.5f);
    EXPECT_FAILS(frnn_dense_forward(dense.get(), workspace, 2, shared.data(), 8, shared.data() + 1, 6),
                 FRNN_STATUS_INVALID_ARGUMENT, "x and y overlap");
    EXPECT_THAT(y, ::testing::Each(0.0f));  // nothing written by a failed call

    frnn_dense* destroyed = dense.release();
    ASSERT_EQ(frnn_dense_destroy(destroyed), FRNN_STATUS_OK);
    EXPECT_FAILS(frnn_dense_forward(destroyed, workspace, 2, x.data(), 8, y.data(), 6), FRNN_STATUS_INVALID_HANDLE,
                 "dense is not a live frnn_dense");
    EXPECT_FAILS(frnn_dense_destroy(destroyed), FRNN_STATUS_INVALID_HANDLE, "dense is not a live frnn_dense");
    EXPECT_EQ(frnn_dense_destroy(nullptr), FRNN_STATUS_OK);
}

}  // namespace
}  // namespace fusedrnn::test
