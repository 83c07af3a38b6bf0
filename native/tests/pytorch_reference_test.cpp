// The library against PyTorch's own outputs (tests/data/pytorch, made by make_golden.py in float64), in the precision
// of FUSEDRNN_TEST_PRECISION, at the accuracy contract of that precision (contract_bound).
#include "safetensors_reader.h"
#include "test_support.h"

#include <filesystem>
#include <set>

namespace fusedrnn::test {
namespace {

// Each output's worst error is recorded as a test property (--gtest_output=json shows it).
const char* const sequence_cases[] = {
    "lstm_basic",        "lstm_no_initial_state", "lstm_no_bias",          "lstm_deep_bidirectional_batch_first",
    "lstm_packed_bidirectional", "lstm_large",    "lstm_projection",       "lstm_projection_packed",
    "gru_basic",         "gru_no_initial_state",  "gru_no_bias",           "gru_deep_bidirectional_batch_first",
    "gru_packed_bidirectional",  "gru_large",
};
const char* const cell_cases[] = {"lstmcell_steps", "grucell_steps"};

std::string data_path(const std::string& case_name) {
    return std::string(FUSEDRNN_TEST_DATA_DIR) + "/" + case_name + ".safetensors";
}

// The accuracy contract (README, "Precision"), as the largest |got - ref| / max(1, |ref|) over a case's outputs:
// float64 within reference_tolerance (1e-5); float32 within max(2e-6, 4x the error of PyTorch's own float32 answer to
// the case, tests/data/pytorch-float32), or 2e-6 where PyTorch's float32 answer is missing (the projection cases).
double contract_bound(const std::string& case_name) {
    if (test_precision() == FRNN_PRECISION_FLOAT64) {
        return reference_tolerance;
    }
    constexpr double floor = 2e-6;
    const std::string float32_path = std::string(FUSEDRNN_TEST_FLOAT32_DATA_DIR) + "/" + case_name + ".safetensors";
    if (!std::filesystem::exists(float32_path)) {
        return floor;
    }
    const SafetensorsFile pytorch_float32(float32_path);
    const SafetensorsFile pytorch_float64(data_path(case_name));
    double pytorch_error = 0.0;
    for (const char* output : {"y", "hn", "cn", "h", "c"}) {
        if (pytorch_float32.has(output)) {
            pytorch_error = std::max(pytorch_error, worst_error(pytorch_float32.tensor(output).floats,
                                                                pytorch_float64.tensor(output).floats));
        }
    }
    EXPECT_GT(pytorch_error, 0.0) << case_name << ": PyTorch's float32 answer should differ from its float64 one";
    return std::max(floor, 4.0 * pytorch_error);
}

frnn_cell_kind cell_kind_of(const std::string& mode) {
    if (mode == "LSTM" || mode == "LSTMCell") return FRNN_CELL_LSTM;
    if (mode == "GRU" || mode == "GRUCell") return FRNN_CELL_GRU;
    throw std::runtime_error("unexpected mode " + mode);
}

std::vector<float> floats_or_empty(const SafetensorsFile& file, const std::string& name) {
    return file.has(name) ? file.tensor(name).floats : std::vector<float>{};
}

LayerTensors read_layer(const SafetensorsFile& file, const std::string& suffix) {
    LayerTensors layer;
    layer.weight_ih = file.tensor("rnn.weight_ih" + suffix).floats;
    layer.weight_hh = file.tensor("rnn.weight_hh" + suffix).floats;
    layer.bias_ih = floats_or_empty(file, "rnn.bias_ih" + suffix);
    layer.bias_hh = floats_or_empty(file, "rnn.bias_hh" + suffix);
    layer.weight_hr = floats_or_empty(file, "rnn.weight_hr" + suffix);
    return layer;
}

class PyTorchSequenceTest : public ::testing::TestWithParam<const char*> {};

TEST_P(PyTorchSequenceTest, MatchesReference) {
    const SafetensorsFile file(data_path(GetParam()));
    const JsonValue& config = file.config();
    const frnn_cell_kind kind = cell_kind_of(config.at("mode").string);
    const auto num_layers = static_cast<int32_t>(config.at("num_layers").as_int());
    const int32_t num_directions = config.at("bidirectional").as_bool() ? 2 : 1;
    const frnn_model_spec spec = make_spec(kind, static_cast<int32_t>(config.at("input_size").as_int()),
                                           static_cast<int32_t>(config.at("hidden_size").as_int()), num_layers,
                                           num_directions, static_cast<int32_t>(config.at("proj_size").as_int()),
                                           config.at("bias").as_bool());

    std::vector<LayerTensors> layers;
    for (int32_t layer = 0; layer < num_layers; ++layer) {
        for (int32_t direction = 0; direction < num_directions; ++direction) {
            layers.push_back(read_layer(file, "_l" + std::to_string(layer) + (direction == 1 ? "_reverse" : "")));
        }
    }
    ModelPtr model = create_model(spec, layers);
    ASSERT_NE(model, nullptr);
    WorkspacePtr workspace = create_workspace(model.get());

    ForwardBuffers buffers;
    buffers.seq_len = static_cast<int32_t>(config.at("seq_len").as_int());
    buffers.batch = static_cast<int32_t>(config.at("batch").as_int());
    buffers.batch_first = config.at("batch_first").as_bool();
    buffers.x = file.tensor("x").floats;
    buffers.h0 = floats_or_empty(file, "h0");
    buffers.c0 = floats_or_empty(file, "c0");
    if (file.has("lengths")) {
        for (int64_t length : file.tensor("lengths").integers) {
            buffers.lengths.push_back(static_cast<int32_t>(length));
        }
    }
    const std::vector<float>& expected_y = file.tensor("y").floats;
    const std::vector<float>& expected_hn = file.tensor("hn").floats;
    buffers.y.assign(expected_y.size(), -1.0f);  // not zero: padded steps must be written as zero
    buffers.hn.assign(expected_hn.size(), -1.0f);
    if (kind == FRNN_CELL_LSTM) {
        buffers.cn.assign(file.tensor("cn").floats.size(), -1.0f);
    }

    frnn_forward_args args = buffers.args();
    ASSERT_EQ(frnn_model_forward(model.get(), workspace.get(), &args), FRNN_STATUS_OK) << frnn_last_error();
    const double bound = contract_bound(GetParam());
    record_property("contract_bound", bound);
    EXPECT_TRUE(all_close(buffers.y, expected_y, bound)) << "y";
    EXPECT_TRUE(all_close(buffers.hn, expected_hn, bound)) << "hn";
    record_worst_error("y", buffers.y, expected_y);
    record_worst_error("hn", buffers.hn, expected_hn);
    if (kind == FRNN_CELL_LSTM) {
        EXPECT_TRUE(all_close(buffers.cn, file.tensor("cn").floats, bound)) << "cn";
        record_worst_error("cn", buffers.cn, file.tensor("cn").floats);
    }

    // A second call on the warm workspace gives bit-identical results.
    const std::vector<float> first_y = buffers.y;
    const std::vector<float> first_hn = buffers.hn;
    ASSERT_EQ(frnn_model_forward(model.get(), workspace.get(), &args), FRNN_STATUS_OK) << frnn_last_error();
    EXPECT_EQ(buffers.y, first_y);
    EXPECT_EQ(buffers.hn, first_hn);
}

INSTANTIATE_TEST_SUITE_P(Files, PyTorchSequenceTest, ::testing::ValuesIn(sequence_cases),
                         [](const ::testing::TestParamInfo<const char*>& case_info) { return std::string(case_info.param); });

// Cell files hold the state after each of several steps; each step is a seq_len = 1 forward whose state is
// updated in place (hn == h0, cn == c0), the streaming use of the library.
class PyTorchCellTest : public ::testing::TestWithParam<const char*> {};

TEST_P(PyTorchCellTest, ChainedSingleStepsMatchReference) {
    const SafetensorsFile file(data_path(GetParam()));
    const JsonValue& config = file.config();
    const frnn_cell_kind kind = cell_kind_of(config.at("mode").string);
    const auto input_size = static_cast<int32_t>(config.at("input_size").as_int());
    const auto hidden_size = static_cast<int32_t>(config.at("hidden_size").as_int());
    const auto batch = static_cast<int32_t>(config.at("batch").as_int());
    const auto steps = static_cast<int32_t>(config.at("steps").as_int());

    ModelPtr model = create_model(make_spec(kind, input_size, hidden_size), {read_layer(file, "")});
    ASSERT_NE(model, nullptr);
    WorkspacePtr workspace = create_workspace(model.get());

    const std::size_t state_size = static_cast<std::size_t>(batch) * static_cast<std::size_t>(hidden_size);
    const std::size_t step_input_size = static_cast<std::size_t>(batch) * static_cast<std::size_t>(input_size);
    const std::vector<float>& all_x = file.tensor("x").floats;
    const std::vector<float>& expected_h = file.tensor("h").floats;
    std::vector<float> h = file.tensor("h0").floats;
    std::vector<float> c = kind == FRNN_CELL_LSTM ? file.tensor("c0").floats : std::vector<float>{};
    std::vector<float> x(step_input_size);
    std::vector<float> y(state_size);
    double worst_h = 0.0, worst_c = 0.0;
    const double bound = contract_bound(GetParam());
    record_property("contract_bound", bound);

    for (int32_t step = 0; step < steps; ++step) {
        const auto step_offset = static_cast<std::ptrdiff_t>(step);
        std::copy(all_x.begin() + step_offset * static_cast<std::ptrdiff_t>(step_input_size),
                  all_x.begin() + (step_offset + 1) * static_cast<std::ptrdiff_t>(step_input_size), x.begin());
        frnn_forward_args args{};
        args.seq_len = 1;
        args.batch = batch;
        args.x = x.data();
        args.x_count = count_of(x);
        args.h0 = h.data();
        args.h0_count = count_of(h);
        args.hn = h.data();
        args.hn_count = count_of(h);
        args.y = y.data();
        args.y_count = count_of(y);
        if (kind == FRNN_CELL_LSTM) {
            args.c0 = c.data();
            args.c0_count = count_of(c);
            args.cn = c.data();
            args.cn_count = count_of(c);
        }
        ASSERT_EQ(frnn_model_forward(model.get(), workspace.get(), &args), FRNN_STATUS_OK) << frnn_last_error();

        auto expected_at = [&](const std::vector<float>& all) {
            auto begin = all.begin() + step_offset * static_cast<std::ptrdiff_t>(state_size);
            return std::vector<float>(begin, begin + static_cast<std::ptrdiff_t>(state_size));
        };
        EXPECT_TRUE(all_close(h, expected_at(expected_h), bound)) << "h after step " << step;
        EXPECT_EQ(y, h) << "y of a one-step sequence is its final h";
        worst_h = std::max(worst_h, worst_error(h, expected_at(expected_h)));
        if (kind == FRNN_CELL_LSTM) {
            EXPECT_TRUE(all_close(c, expected_at(file.tensor("c").floats), bound)) << "c after step " << step;
            worst_c = std::max(worst_c, worst_error(c, expected_at(file.tensor("c").floats)));
        }
    }
    record_property("worst_error_h", worst_h);
    if (kind == FRNN_CELL_LSTM) {
        record_property("worst_error_c", worst_c);
    }
}

INSTANTIATE_TEST_SUITE_P(Files, PyTorchCellTest, ::testing::ValuesIn(cell_cases),
                         [](const ::testing::TestParamInfo<const char*>& case_info) { return std::string(case_info.param); });

// Guards against a new reference file that no test reads.
TEST(PyTorchReferenceFiles, EveryFileIsTested) {
    std::set<std::string> tested(std::begin(sequence_cases), std::end(sequence_cases));
    tested.insert(std::begin(cell_cases), std::end(cell_cases));
    std::size_t files = 0;
    for (const auto& entry : std::filesystem::directory_iterator(FUSEDRNN_TEST_DATA_DIR)) {
        if (entry.path().extension() == ".safetensors") {
            ++files;
            EXPECT_EQ(tested.count(entry.path().stem().string()), 1u) << entry.path() << " is not in any test";
        }
    }
    EXPECT_EQ(files, tested.size());
}

}  // namespace
}  // namespace fusedrnn::test
