// Every cell variant the descriptor allows (activations per role and direction, clip, peepholes, coupled input-forget
// gate, GRU reset before or after the product) against a plain float64 transcription of ONNX's LSTM / GRU / RNN
// equations, on random networks: random kinds, sizes, layers, directions, lengths, batch layouts and initial states.
#include "onnx_reference.h"
#include "test_support.h"

#include <functional>
#include <sstream>

namespace fusedrnn::test {
namespace {

struct VariantCase {
    std::string name;
    frnn_model_spec spec;
    int32_t seq_len, batch;
    bool batch_first;
    std::vector<int32_t> lengths;
    bool has_initial_state;
};

void PrintTo(const VariantCase& c, std::ostream* stream) { *stream << c.name; }

// A random activation with parameters in ranges where a short recurrence stays bounded.
frnn_activation random_activation(std::mt19937& generator) {
    const auto uniform = [&](float low, float high) { return std::uniform_real_distribution<float>(low, high)(generator); };
    const int32_t kind = std::uniform_int_distribution<int32_t>(FRNN_ACTIVATION_DEFAULT, FRNN_ACTIVATION_SOFTPLUS)(generator);
    switch (kind) {
    case FRNN_ACTIVATION_AFFINE: return {kind, uniform(0.5f, 1.2f), uniform(-0.3f, 0.3f)};
    case FRNN_ACTIVATION_LEAKY_RELU: return {kind, uniform(0.01f, 0.3f), 0.0f};
    case FRNN_ACTIVATION_THRESHOLDED_RELU: return {kind, uniform(-0.3f, 0.3f), 0.0f};
    case FRNN_ACTIVATION_SCALED_TANH: return {kind, uniform(0.5f, 1.5f), uniform(0.5f, 1.5f)};
    case FRNN_ACTIVATION_HARD_SIGMOID: return {kind, uniform(0.1f, 0.3f), uniform(0.4f, 0.6f)};
    case FRNN_ACTIVATION_ELU: return {kind, uniform(0.5f, 1.5f), 0.0f};
    default: return {kind, 0.0f, 0.0f};
    }
}

std::string describe(const frnn_activation& activation) {
    std::ostringstream text;
    text << activation.kind;
    if (activation.alpha != 0.0f || activation.beta != 0.0f) text << "(" << activation.alpha << "," << activation.beta << ")";
    return text.str();
}

VariantCase random_case(uint32_t seed) {
    std::mt19937 generator(seed);
    const auto chance = [&](double p) { return std::bernoulli_distribution(p)(generator); };
    const auto between = [&](int32_t low, int32_t high) { return std::uniform_int_distribution<int32_t>(low, high)(generator); };
    const auto kind = static_cast<frnn_cell_kind>(between(FRNN_CELL_LSTM, FRNN_CELL_RNN_RELU));
    const int32_t hidden = between(1, 40);
    const int32_t proj = kind == FRNN_CELL_LSTM && hidden > 1 && chance(0.2) ? between(1, hidden - 1) : 0;
    VariantCase c;
    c.spec = make_spec(kind, between(1, 20), hidden, between(1, 3), between(1, 2), proj, chance(0.8));
    c.seq_len = between(1, 8);
    c.batch = between(1, 6);
    c.batch_first = chance(0.5);
    c.has_initial_state = chance(0.7);
    if (chance(0.5)) {
        for (int32_t b = 0; b < c.batch; ++b) c.lengths.push_back(between(1, c.seq_len));
        c.lengths[static_cast<std::size_t>(between(0, c.batch - 1))] = c.seq_len;
    }
    frnn_model_spec& spec = c.spec;
    const bool is_lstm = kind == FRNN_CELL_LSTM;
    const bool is_rnn = kind == FRNN_CELL_RNN_TANH || kind == FRNN_CELL_RNN_RELU;
    spec.clip = chance(0.4) ? std::uniform_real_distribution<float>(0.5f, 3.0f)(generator) : 0.0f;
    spec.has_peepholes = is_lstm && chance(0.5);
    spec.coupled_input_forget = is_lstm && chance(0.3);
    spec.reset_before_product = kind == FRNN_CELL_GRU && chance(0.6);
    for (frnn_cell_activations* activations : {&spec.forward_activations, &spec.reverse_activations}) {
        if (activations == &spec.reverse_activations && spec.num_directions == 1) break;
        activations->gates = random_activation(generator);
        if (!is_rnn) activations->candidate = random_activation(generator);
        if (is_lstm) activations->output = random_activation(generator);
    }
    std::ostringstream name;
    name << "seed" << seed << "_kind" << kind << "_h" << hidden << "_l" << spec.num_layers << "_d" << spec.num_directions
         << (spec.clip > 0 ? "_clip" : "") << (spec.has_peepholes ? "_peepholes" : "")
         << (spec.coupled_input_forget ? "_coupled" : "") << (spec.reset_before_product ? "_reset_before" : "")
         << "_f" << describe(spec.forward_activations.gates) << "_g" << describe(spec.forward_activations.candidate)
         << "_h" << describe(spec.forward_activations.output);
    c.name = name.str();
    return c;
}

ForwardBuffers random_buffers(const VariantCase& c, std::mt19937& generator) {
    const frnn_model_spec& spec = c.spec;
    const int64_t out = spec.proj_size > 0 ? spec.proj_size : spec.hidden_size;
    const int64_t states = int64_t{spec.num_layers} * spec.num_directions * c.batch;
    ForwardBuffers buffers = ForwardBuffers::shaped(c.seq_len, c.batch, c.batch_first, c.lengths);
    buffers.x = random_floats(generator, static_cast<std::size_t>(int64_t{c.seq_len} * c.batch * spec.input_size), 1.0f);
    if (c.has_initial_state) {
        buffers.h0 = random_floats(generator, static_cast<std::size_t>(states * out), 0.5f);
        if (spec.cell_kind == FRNN_CELL_LSTM) {
            buffers.c0 = random_floats(generator, static_cast<std::size_t>(states * spec.hidden_size), 0.5f);
        }
    }
    buffers.y.assign(static_cast<std::size_t>(int64_t{c.seq_len} * c.batch * spec.num_directions * out), -7.0f);
    buffers.hn.assign(static_cast<std::size_t>(states * out), -7.0f);
    if (spec.cell_kind == FRNN_CELL_LSTM) {
        buffers.cn.assign(static_cast<std::size_t>(states * spec.hidden_size), -7.0f);
    }
    return buffers;
}

// The library computes the same equations: in float64 it lands within float32 rounding of the reference (as the
// PyTorch cells, random_reference_test.cpp); in float32 within what float32 rounding through a few steps of these
// unbounded activations amounts to (the worst seen is recorded as a test property).
double variant_tolerance() { return test_precision() == FRNN_PRECISION_FLOAT64 ? float64_reference_tolerance : 4e-6; }

std::vector<VariantCase> variant_cases() {
    std::vector<VariantCase> cases;
    for (uint32_t seed = 1; seed <= 48; ++seed) cases.push_back(random_case(seed));
    return cases;
}

class VariantReferenceTest : public ::testing::TestWithParam<VariantCase> {};

TEST_P(VariantReferenceTest, MatchesTheOnnxEquationsInFloat64) {
    const VariantCase& c = GetParam();
    std::mt19937 generator(20261201);
    const std::vector<LayerTensors> layers = random_weights(c.spec, generator);
    ModelPtr model = create_model(c.spec, layers);
    ASSERT_NE(model, nullptr);
    WorkspacePtr workspace = create_workspace(model.get());
    ForwardBuffers buffers = random_buffers(c, generator);
    frnn_forward_args args = buffers.args();
    ASSERT_EQ(frnn_model_forward(model.get(), workspace.get(), &args), FRNN_STATUS_OK) << frnn_last_error();
    const ReferenceOutputs expected = reference_forward(c.spec, layers, buffers);
    EXPECT_TRUE(all_close(buffers.y, expected.y, variant_tolerance())) << "y";
    EXPECT_TRUE(all_close(buffers.hn, expected.hn, variant_tolerance())) << "hn";
    EXPECT_TRUE(all_close(buffers.cn, expected.cn, variant_tolerance())) << "cn";
    record_worst_error("y", buffers.y, expected.y);
    record_worst_error("hn", buffers.hn, expected.hn);
}

INSTANTIATE_TEST_SUITE_P(Random, VariantReferenceTest, ::testing::ValuesIn(variant_cases()),
                         [](const ::testing::TestParamInfo<VariantCase>& case_info) {
                             std::string name = case_info.param.name;
                             for (char& character : name) {
                                 if (!std::isalnum(static_cast<unsigned char>(character))) character = '_';
                             }
                             return name;
                         });

// The PyTorch cells spelled out in the descriptor (every activation given instead of DEFAULT) run the variant
// kernels: they must agree with the specialized kernels, which the PyTorch reference files check.
TEST(VariantKernels, SpelledOutPyTorchCellsMatchTheSpecializedKernels) {
    for (const frnn_cell_kind kind : {FRNN_CELL_LSTM, FRNN_CELL_GRU, FRNN_CELL_RNN_TANH, FRNN_CELL_RNN_RELU}) {
        frnn_model_spec plain = make_spec(kind, 7, 37, 2, 2);
        frnn_model_spec spelled = plain;
        const int32_t gate_kind = kind == FRNN_CELL_RNN_TANH   ? FRNN_ACTIVATION_TANH
                                  : kind == FRNN_CELL_RNN_RELU ? FRNN_ACTIVATION_RELU
                                                               : FRNN_ACTIVATION_SIGMOID;
        // A clip far above any pre-activation changes nothing but which kernels run.
        spelled.clip = 1e30f;
        for (frnn_cell_activations* activations : {&spelled.forward_activations, &spelled.reverse_activations}) {
            activations->gates.kind = gate_kind;
        }
        std::mt19937 generator(7);
        const std::vector<LayerTensors> layers = random_weights(plain, generator);
        VariantCase c{"spelled", plain, 9, 3, false, {9, 4, 7}, true};
        ForwardBuffers a = random_buffers(c, generator);
        ForwardBuffers b = a;
        ModelPtr plain_model = create_model(plain, layers);
        ModelPtr spelled_model = create_model(spelled, layers);
        WorkspacePtr plain_workspace = create_workspace(plain_model.get());
        WorkspacePtr spelled_workspace = create_workspace(spelled_model.get());
        frnn_forward_args args_a = a.args();
        frnn_forward_args args_b = b.args();
        ASSERT_EQ(frnn_model_forward(plain_model.get(), plain_workspace.get(), &args_a), FRNN_STATUS_OK);
        ASSERT_EQ(frnn_model_forward(spelled_model.get(), spelled_workspace.get(), &args_b), FRNN_STATUS_OK);
        EXPECT_TRUE(all_close(b.y, a.y, 1e-6)) << "kind " << kind;
        EXPECT_TRUE(all_close(b.hn, a.hn, 1e-6)) << "kind " << kind;
    }
}

}  // namespace
}  // namespace fusedrnn::test
