// Every cell variant the descriptor allows (activations per role and direction, clip, peepholes, coupled input-forget
// gate, GRU reset before or after the product) against a plain float64 transcription of ONNX's LSTM / GRU / RNN
// equations, on random networks: random kinds, sizes, layers, directions, lengths, batch layouts and initial states.
#include "test_support.h"

#include <functional>
#include <sstream>

namespace fusedrnn::test {
namespace {

// Reference activations, written from ONNX's operator list (not from the library's code).
double activate(const frnn_activation& activation, double x) {
    const double alpha = activation.alpha;
    const double beta = activation.beta;
    switch (activation.kind) {
    case FRNN_ACTIVATION_IDENTITY: return x;
    case FRNN_ACTIVATION_RELU: return x > 0 ? x : 0.0;
    case FRNN_ACTIVATION_TANH: return std::tanh(x);
    case FRNN_ACTIVATION_SIGMOID: return 1.0 / (1.0 + std::exp(-x));
    case FRNN_ACTIVATION_AFFINE: return alpha * x + beta;
    case FRNN_ACTIVATION_LEAKY_RELU: return x >= 0 ? x : alpha * x;
    case FRNN_ACTIVATION_THRESHOLDED_RELU: return x > alpha ? x : 0.0;
    case FRNN_ACTIVATION_SCALED_TANH: return alpha * std::tanh(beta * x);
    case FRNN_ACTIVATION_HARD_SIGMOID: return std::min(std::max(alpha * x + beta, 0.0), 1.0);
    case FRNN_ACTIVATION_ELU: return x >= 0 ? x : alpha * (std::exp(x) - 1.0);
    case FRNN_ACTIVATION_SOFTSIGN: return x / (1.0 + std::fabs(x));
    case FRNN_ACTIVATION_SOFTPLUS: return std::log(1.0 + std::exp(x));
    }
    ADD_FAILURE() << "activation kind " << activation.kind << " in a reference";
    return x;
}

// A role's activation, DEFAULT meaning PyTorch's.
frnn_activation resolved(const frnn_activation& activation, int32_t pytorch_kind) {
    return activation.kind == FRNN_ACTIVATION_DEFAULT ? frnn_activation{pytorch_kind, 0.0f, 0.0f} : activation;
}

struct VariantCase {
    std::string name;
    frnn_model_spec spec;
    int32_t seq_len, batch;
    bool batch_first;
    std::vector<int32_t> lengths;
    bool has_initial_state;
};

void PrintTo(const VariantCase& c, std::ostream* stream) { *stream << c.name; }

struct ReferenceOutputs {
    std::vector<double> y, hn, cn;
};

// ONNX's equations in float64, one row and one step at a time (PyTorch's gate order and layout for the weights).
ReferenceOutputs reference_forward(const VariantCase& c, const std::vector<LayerTensors>& layers,
                                   const ForwardBuffers& in) {
    const frnn_model_spec& spec = c.spec;
    const int64_t gates = gate_count(spec.cell_kind);
    const int64_t hidden = spec.hidden_size;
    const int64_t out = spec.proj_size > 0 ? spec.proj_size : hidden;
    const int64_t directions = spec.num_directions;
    const int64_t steps = c.seq_len;
    const int64_t batch = c.batch;
    const auto row_index = [&](int64_t t, int64_t b) { return c.batch_first ? b * steps + t : t * batch + b; };
    const auto clip = [&](double x) {
        return spec.clip > 0 ? std::min(std::max(x, -double{spec.clip}), double{spec.clip}) : x;
    };
    const int32_t rnn_kind = spec.cell_kind == FRNN_CELL_RNN_RELU ? FRNN_ACTIVATION_RELU : FRNN_ACTIVATION_TANH;
    const int32_t gate_default = gates == 1 ? rnn_kind : FRNN_ACTIVATION_SIGMOID;

    std::vector<double> layer_input(in.x.begin(), in.x.end());
    int64_t input_width = spec.input_size;
    ReferenceOutputs result;
    result.hn.assign(static_cast<std::size_t>(spec.num_layers * directions * batch * out), 0.0);
    result.cn.assign(static_cast<std::size_t>(spec.num_layers * directions * batch * hidden), 0.0);
    for (int64_t layer = 0; layer < spec.num_layers; ++layer) {
        std::vector<double> layer_output(static_cast<std::size_t>(steps * batch * directions * out), 0.0);
        for (int64_t direction = 0; direction < directions; ++direction) {
            const frnn_cell_activations& given = direction == 0 ? spec.forward_activations : spec.reverse_activations;
            const frnn_activation f = resolved(given.gates, gate_default);
            const frnn_activation g = resolved(given.candidate, FRNN_ACTIVATION_TANH);
            const frnn_activation h_activation = resolved(given.output, FRNN_ACTIVATION_TANH);
            const int64_t slice = layer * directions + direction;
            const LayerTensors& w = layers[static_cast<std::size_t>(slice)];
            const auto bias = [&](const std::vector<float>& values, int64_t row) {
                return values.empty() ? 0.0 : static_cast<double>(values[static_cast<std::size_t>(row)]);
            };
            const auto peephole = [&](int64_t which, int64_t j) {
                return w.weight_p.empty() ? 0.0 : static_cast<double>(w.weight_p[which * hidden + j]);
            };
            for (int64_t b = 0; b < batch; ++b) {
                std::vector<double> h(static_cast<std::size_t>(out), 0.0), cell(static_cast<std::size_t>(hidden), 0.0);
                if (!in.h0.empty()) {
                    for (int64_t k = 0; k < out; ++k) h[k] = in.h0[(slice * batch + b) * out + k];
                }
                if (!in.c0.empty()) {
                    for (int64_t k = 0; k < hidden; ++k) cell[k] = in.c0[(slice * batch + b) * hidden + k];
                }
                const int64_t length = c.lengths.empty() ? steps : c.lengths[static_cast<std::size_t>(b)];
                for (int64_t s = 0; s < length; ++s) {
                    const int64_t t = direction == 0 ? s : length - 1 - s;
                    const double* x = layer_input.data() + row_index(t, b) * input_width;
                    // W x + b_i per gate row, and R v + b_h for a vector v of width out.
                    const auto input_part = [&](int64_t row) {
                        double sum = bias(w.bias_ih, row);
                        for (int64_t k = 0; k < input_width; ++k) sum += w.weight_ih[row * input_width + k] * x[k];
                        return sum;
                    };
                    const auto recurrent_part = [&](int64_t row, const std::vector<double>& v) {
                        double sum = bias(w.bias_hh, row);
                        for (int64_t k = 0; k < out; ++k) sum += w.weight_hh[row * out + k] * v[k];
                        return sum;
                    };
                    std::vector<double> next(static_cast<std::size_t>(hidden));
                    if (spec.cell_kind == FRNN_CELL_LSTM) {
                        for (int64_t j = 0; j < hidden; ++j) {
                            const auto pre = [&](int64_t gate) {
                                return input_part(gate * hidden + j) + recurrent_part(gate * hidden + j, h);
                            };
                            const double c_prev = cell[j];
                            const double i = activate(f, clip(pre(0) + peephole(0, j) * c_prev));
                            const double forget =
                                spec.coupled_input_forget ? 1.0 - i : activate(f, clip(pre(1) + peephole(1, j) * c_prev));
                            cell[j] = forget * c_prev + i * activate(g, clip(pre(2)));
                            const double o = activate(f, clip(pre(3) + peephole(2, j) * cell[j]));
                            next[j] = o * activate(h_activation, cell[j]);
                        }
                    } else if (spec.cell_kind == FRNN_CELL_GRU) {
                        std::vector<double> r(static_cast<std::size_t>(hidden)), z(r.size()), reset_h(r.size());
                        for (int64_t j = 0; j < hidden; ++j) {
                            r[j] = activate(f, clip(input_part(j) + recurrent_part(j, h)));
                            z[j] = activate(f, clip(input_part(hidden + j) + recurrent_part(hidden + j, h)));
                            reset_h[j] = r[j] * h[j];
                        }
                        for (int64_t j = 0; j < hidden; ++j) {
                            const int64_t row = 2 * hidden + j;
                            const double n = spec.reset_before_product
                                                 ? activate(g, clip(input_part(row) + recurrent_part(row, reset_h)))
                                                 : activate(g, clip(input_part(row) + r[j] * recurrent_part(row, h)));
                            next[j] = (1 - z[j]) * n + z[j] * h[j];
                        }
                    } else {
                        for (int64_t j = 0; j < hidden; ++j) next[j] = activate(f, clip(input_part(j) + recurrent_part(j, h)));
                    }
                    if (spec.proj_size > 0) {
                        for (int64_t p = 0; p < out; ++p) {
                            double sum = 0;
                            for (int64_t j = 0; j < hidden; ++j) sum += w.weight_hr[p * hidden + j] * next[j];
                            h[p] = sum;
                        }
                    } else {
                        h = next;
                    }
                    for (int64_t k = 0; k < out; ++k) {
                        layer_output[row_index(t, b) * directions * out + direction * out + k] = h[k];
                    }
                }
                for (int64_t k = 0; k < out; ++k) result.hn[(slice * batch + b) * out + k] = h[k];
                for (int64_t k = 0; k < hidden; ++k) result.cn[(slice * batch + b) * hidden + k] = cell[k];
            }
        }
        layer_input = std::move(layer_output);
        input_width = directions * out;
    }
    result.y = std::move(layer_input);
    if (spec.cell_kind != FRNN_CELL_LSTM) {
        result.cn.clear();
    }
    return result;
}

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
    const ReferenceOutputs expected = reference_forward(c, layers, buffers);
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
