// The library against a plain float64 transcription of PyTorch's equations (onnx_reference.h with PyTorch's cells),
// over random models of every cell kind (the PyTorch files cover LSTM and GRU only) and the argument variations the
// files do not reach.
#include "onnx_reference.h"
#include "test_support.h"

#include <thread>

namespace fusedrnn::test {
namespace {

struct Case {
    const char* name;
    frnn_cell_kind kind;
    int32_t input_size, hidden_size, num_layers, num_directions, proj_size;
    bool has_bias, batch_first;
    int32_t seq_len, batch;
    std::vector<int32_t> lengths;  // empty = full length
    bool has_initial_state;
};

// Names the case in test output (gtest would otherwise print its bytes, padding included).
void PrintTo(const Case& c, std::ostream* stream) { *stream << c.name; }

frnn_model_spec spec_of(const Case& c) {
    return make_spec(c.kind, c.input_size, c.hidden_size, c.num_layers, c.num_directions, c.proj_size, c.has_bias);
}

// Random inputs and initial state for c, outputs sized and filled with a marker value.
ForwardBuffers random_buffers(const Case& c, std::mt19937& generator) {
    const int64_t out = c.proj_size > 0 ? c.proj_size : c.hidden_size;
    const int64_t states = int64_t{c.num_layers} * c.num_directions * c.batch;
    ForwardBuffers buffers = ForwardBuffers::shaped(c.seq_len, c.batch, c.batch_first, c.lengths);
    buffers.x = random_floats(generator, static_cast<std::size_t>(int64_t{c.seq_len} * c.batch * c.input_size), 1.0f);
    if (c.has_initial_state) {
        buffers.h0 = random_floats(generator, static_cast<std::size_t>(states * out), 0.5f);
        if (c.kind == FRNN_CELL_LSTM) {
            buffers.c0 = random_floats(generator, static_cast<std::size_t>(states * c.hidden_size), 0.5f);
        }
    }
    buffers.y.assign(static_cast<std::size_t>(int64_t{c.seq_len} * c.batch * c.num_directions * out), -7.0f);
    buffers.hn.assign(static_cast<std::size_t>(states * out), -7.0f);
    if (c.kind == FRNN_CELL_LSTM) {
        buffers.cn.assign(static_cast<std::size_t>(states * c.hidden_size), -7.0f);
    }
    return buffers;
}

void expect_matches_reference(const Case& c, const std::vector<LayerTensors>& layers, const ForwardBuffers& buffers) {
    const ReferenceOutputs expected = reference_forward(spec_of(c), layers, buffers);
    EXPECT_TRUE(all_close(buffers.y, expected.y, float64_reference_tolerance)) << c.name << ": y";
    EXPECT_TRUE(all_close(buffers.hn, expected.hn, float64_reference_tolerance)) << c.name << ": hn";
    EXPECT_TRUE(all_close(buffers.cn, expected.cn, float64_reference_tolerance)) << c.name << ": cn";
    record_worst_error("y", buffers.y, expected.y);
    record_worst_error("hn", buffers.hn, expected.hn);
    record_worst_error("cn", buffers.cn, expected.cn);
}

const Case cases[] = {
    {"rnn_tanh_basic", FRNN_CELL_RNN_TANH, 5, 7, 1, 1, 0, true, false, 6, 3, {}, true},
    {"rnn_relu_basic", FRNN_CELL_RNN_RELU, 5, 7, 1, 1, 0, true, false, 6, 3, {}, true},
    {"rnn_tanh_deep_bidirectional_batch_first", FRNN_CELL_RNN_TANH, 4, 6, 3, 2, 0, true, true, 5, 2, {}, true},
    {"rnn_relu_packed_bidirectional_no_bias", FRNN_CELL_RNN_RELU, 3, 5, 2, 2, 0, false, false, 6, 4, {2, 6, 1, 4}, true},
    {"rnn_tanh_no_initial_state_packed", FRNN_CELL_RNN_TANH, 3, 8, 2, 1, 0, true, true, 7, 3, {7, 3, 5}, false},
    {"lstm_projection_deep_packed_batch_first", FRNN_CELL_LSTM, 6, 9, 3, 2, 4, true, true, 6, 4, {1, 6, 3, 6}, true},
    {"lstm_projection_no_bias_no_state", FRNN_CELL_LSTM, 4, 5, 2, 1, 2, false, false, 4, 2, {}, false},
    {"gru_deep_packed_batch_first", FRNN_CELL_GRU, 5, 6, 3, 2, 0, true, true, 5, 3, {5, 2, 4}, true},
    {"lstm_single_step_batch_one", FRNN_CELL_LSTM, 3, 4, 1, 2, 0, true, false, 1, 1, {}, true},
    {"gru_wide_batch", FRNN_CELL_GRU, 16, 33, 1, 1, 0, true, false, 3, 17, {}, true},
};

class RandomReferenceTest : public ::testing::TestWithParam<Case> {};

TEST_P(RandomReferenceTest, MatchesFloat64Reference) {
    const Case& c = GetParam();
    std::mt19937 generator(20261123);
    const std::vector<LayerTensors> layers = random_weights(spec_of(c), generator);
    ModelPtr model = create_model(spec_of(c), layers);
    ASSERT_NE(model, nullptr);
    WorkspacePtr workspace = create_workspace(model.get());
    ForwardBuffers buffers = random_buffers(c, generator);
    frnn_forward_args args = buffers.args();
    ASSERT_EQ(frnn_model_forward(model.get(), workspace.get(), &args), FRNN_STATUS_OK) << frnn_last_error();
    expect_matches_reference(c, layers, buffers);
}

INSTANTIATE_TEST_SUITE_P(Cases, RandomReferenceTest, ::testing::ValuesIn(cases),
                         [](const ::testing::TestParamInfo<Case>& case_info) { return std::string(case_info.param.name); });

Case packed_lstm_case() { return cases[5]; }

TEST(ForwardVariations, OptionalOutputsMayBeAbsent) {
    const Case c = packed_lstm_case();
    std::mt19937 generator(7);
    const std::vector<LayerTensors> layers = random_weights(spec_of(c), generator);
    ModelPtr model = create_model(spec_of(c), layers);
    WorkspacePtr workspace = create_workspace(model.get());
    ForwardBuffers full = random_buffers(c, generator);
    frnn_forward_args full_args = full.args();
    ASSERT_EQ(frnn_model_forward(model.get(), workspace.get(), &full_args), FRNN_STATUS_OK) << frnn_last_error();

    ForwardBuffers only_state = full;
    only_state.y.clear();
    std::fill(only_state.hn.begin(), only_state.hn.end(), 0.0f);
    std::fill(only_state.cn.begin(), only_state.cn.end(), 0.0f);
    frnn_forward_args only_state_args = only_state.args();
    ASSERT_EQ(frnn_model_forward(model.get(), workspace.get(), &only_state_args), FRNN_STATUS_OK) << frnn_last_error();
    EXPECT_EQ(only_state.hn, full.hn);
    EXPECT_EQ(only_state.cn, full.cn);

    ForwardBuffers only_output = full;
    only_output.hn.clear();
    only_output.cn.clear();
    std::fill(only_output.y.begin(), only_output.y.end(), 0.0f);
    frnn_forward_args only_output_args = only_output.args();
    ASSERT_EQ(frnn_model_forward(model.get(), workspace.get(), &only_output_args), FRNN_STATUS_OK)
        << frnn_last_error();
    EXPECT_EQ(only_output.y, full.y);
}

TEST(ForwardVariations, StateMayBeUpdatedInPlace) {
    const Case c = packed_lstm_case();
    std::mt19937 generator(8);
    const std::vector<LayerTensors> layers = random_weights(spec_of(c), generator);
    ModelPtr model = create_model(spec_of(c), layers);
    WorkspacePtr workspace = create_workspace(model.get());
    ForwardBuffers separate = random_buffers(c, generator);
    frnn_forward_args separate_args = separate.args();
    ASSERT_EQ(frnn_model_forward(model.get(), workspace.get(), &separate_args), FRNN_STATUS_OK) << frnn_last_error();

    ForwardBuffers in_place = separate;
    frnn_forward_args in_place_args = in_place.args();
    in_place_args.hn = in_place.h0.data();
    in_place_args.cn = in_place.c0.data();
    ASSERT_EQ(frnn_model_forward(model.get(), workspace.get(), &in_place_args), FRNN_STATUS_OK) << frnn_last_error();
    EXPECT_EQ(in_place.h0, separate.hn);
    EXPECT_EQ(in_place.c0, separate.cn);
    EXPECT_EQ(in_place.y, separate.y);
}

TEST(ForwardVariations, WorkspaceServesGrowingAndShrinkingShapes) {
    Case c = cases[7];  // GRU, 3 layers, bidirectional, packed
    std::mt19937 generator(9);
    const std::vector<LayerTensors> layers = random_weights(spec_of(c), generator);
    ModelPtr model = create_model(spec_of(c), layers);
    WorkspacePtr workspace = create_workspace(model.get());
    const std::pair<int32_t, int32_t> shapes[] = {{2, 1}, {9, 6}, {3, 2}, {12, 1}, {2, 1}};
    for (const auto& [seq_len, batch] : shapes) {
        c.seq_len = seq_len;
        c.batch = batch;
        c.lengths.clear();
        for (int32_t row = 0; row < batch; ++row) {
            c.lengths.push_back(seq_len - row % seq_len);
        }
        ForwardBuffers buffers = random_buffers(c, generator);
        frnn_forward_args args = buffers.args();
        ASSERT_EQ(frnn_model_forward(model.get(), workspace.get(), &args), FRNN_STATUS_OK) << frnn_last_error();
        expect_matches_reference(c, layers, buffers);
    }
}

TEST(ForwardVariations, ThreadsShareOneModelWithTheirOwnWorkspaces) {
    const Case c = packed_lstm_case();
    std::mt19937 generator(10);
    const std::vector<LayerTensors> layers = random_weights(spec_of(c), generator);
    ModelPtr model = create_model(spec_of(c), layers);
    ForwardBuffers inputs = random_buffers(c, generator);
    ForwardBuffers expected = inputs;
    WorkspacePtr main_workspace = create_workspace(model.get());
    frnn_forward_args expected_args = expected.args();
    ASSERT_EQ(frnn_model_forward(model.get(), main_workspace.get(), &expected_args), FRNN_STATUS_OK);

    constexpr int thread_count = 4;
    std::vector<ForwardBuffers> results(thread_count, inputs);
    std::vector<frnn_status> statuses(thread_count, FRNN_STATUS_INTERNAL);
    std::vector<std::thread> threads;
    for (int index = 0; index < thread_count; ++index) {
        threads.emplace_back([&, index] {
            frnn_workspace* workspace = nullptr;
            statuses[index] = frnn_workspace_create(model.get(), &workspace);
            for (int repeat = 0; repeat < 20 && statuses[index] == FRNN_STATUS_OK; ++repeat) {
                frnn_forward_args args = results[index].args();
                statuses[index] = frnn_model_forward(model.get(), workspace, &args);
            }
            frnn_workspace_destroy(workspace);
        });
    }
    for (std::thread& thread : threads) {
        thread.join();
    }
    for (int index = 0; index < thread_count; ++index) {
        EXPECT_EQ(statuses[index], FRNN_STATUS_OK);
        EXPECT_EQ(results[index].y, expected.y);
        EXPECT_EQ(results[index].hn, expected.hn);
    }
}

}  // namespace
}  // namespace fusedrnn::test
