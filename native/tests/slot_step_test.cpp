// frnn_model_step_slots: streams stepped one time step at a time through their state slots, in batches of changing
// membership and order, give the bits of the whole-sequence forward call; and every bad argument has its status and
// message.
#include "test_support.h"

#include <cstring>
#include <numeric>

namespace fusedrnn::test {
namespace {

struct SlotCase {
    frnn_cell_kind kind;
    int32_t layers;
    int32_t proj_size;
    int32_t hidden;  // 130: large enough for a call of every stream to share its units between threads
};

class SlotStepTest : public ::testing::TestWithParam<SlotCase> {};

// A slot's values as doubles, and back, in the model's arithmetic type.
struct SlotBuffer {
    bool float64;
    int64_t slot_values;
    std::vector<double> storage;  // 8-byte aligned whichever the type

    SlotBuffer(bool is_float64, int64_t values, int32_t slot_count)
        : float64(is_float64), slot_values(values),
          storage(static_cast<std::size_t>(values * slot_count), 0.0) {}

    uint8_t* bytes() { return reinterpret_cast<uint8_t*>(storage.data()); }
    int64_t byte_count(int32_t slot_count) const { return slot_values * slot_count * (float64 ? 8 : 4); }

    double get(int32_t slot, int64_t index) const {
        const int64_t at = slot * slot_values + index;
        if (float64) {
            return storage[static_cast<std::size_t>(at)];
        }
        float value = 0;
        std::memcpy(&value, reinterpret_cast<const uint8_t*>(storage.data()) + at * 4, 4);
        return value;
    }
    void set(int32_t slot, int64_t index, float value) {
        const int64_t at = slot * slot_values + index;
        if (float64) {
            storage[static_cast<std::size_t>(at)] = value;
        } else {
            std::memcpy(reinterpret_cast<uint8_t*>(storage.data()) + at * 4, &value, 4);
        }
    }
};

TEST_P(SlotStepTest, StreamsSteppedInChangingBatchesEqualTheWholeSequence) {
    const SlotCase& param = GetParam();
    constexpr int32_t input_size = 5, seq_len = 7, batch = 6, slot_count = 9;
    const int32_t hidden = param.hidden;
    const frnn_model_spec spec = make_spec(param.kind, input_size, hidden, param.layers, 1, param.proj_size);
    std::mt19937 generator(11);
    const ModelPtr model = create_model(spec, random_weights(spec, generator));
    const WorkspacePtr forward_workspace = create_workspace(model.get());
    const WorkspacePtr step_workspace = create_workspace(model.get());
    const int64_t out = param.proj_size > 0 ? param.proj_size : hidden;
    const bool lstm = param.kind == FRNN_CELL_LSTM;

    ForwardBuffers whole = ForwardBuffers::shaped(seq_len, batch, false, {});
    whole.x = random_floats(generator, std::size_t{seq_len} * batch * input_size, 1.0f);
    whole.h0 = random_floats(generator, std::size_t{batch} * param.layers * static_cast<std::size_t>(out), 0.5f);
    whole.y.resize(std::size_t{seq_len} * batch * static_cast<std::size_t>(out));
    whole.hn.resize(whole.h0.size());
    if (lstm) {
        whole.c0 = random_floats(generator, std::size_t{batch} * param.layers * hidden, 0.5f);
        whole.cn.resize(whole.c0.size());
    }
    frnn_forward_args forward_args = whole.args();
    ASSERT_EQ(frnn_model_forward(model.get(), forward_workspace.get(), &forward_args), FRNN_STATUS_OK)
        << frnn_last_error();

    int64_t slot_bytes = 0;
    ASSERT_EQ(frnn_model_slot_bytes(model.get(), &slot_bytes), FRNN_STATUS_OK) << frnn_last_error();
    const bool float64 = spec.precision == FRNN_PRECISION_FLOAT64;
    const int64_t slot_values = param.layers * out + (lstm ? param.layers * hidden : 0);
    ASSERT_EQ(slot_bytes, slot_values * (float64 ? 8 : 4));

    // Stream s lives in slot (2 s + 1) mod 9 and starts from h0 and c0's row s.
    SlotBuffer state(float64, slot_values, slot_count);
    std::vector<int32_t> slot_of(batch);
    for (int32_t stream = 0; stream < batch; ++stream) {
        slot_of[stream] = (2 * stream + 1) % slot_count;
        for (int32_t layer = 0; layer < param.layers; ++layer) {
            for (int64_t unit = 0; unit < out; ++unit) {
                state.set(slot_of[stream], layer * out + unit, whole.h0[(layer * batch + stream) * out + unit]);
            }
            for (int64_t unit = 0; lstm && unit < hidden; ++unit) {
                state.set(slot_of[stream], param.layers * out + layer * hidden + unit,
                          whole.c0[(layer * batch + stream) * hidden + unit]);
            }
        }
    }

    // Each call takes a random subset of the streams with steps left, in random order.
    std::vector<int32_t> steps_done(batch, 0);
    std::vector<std::vector<float>> outputs(batch);
    while (*std::min_element(steps_done.begin(), steps_done.end()) < seq_len) {
        std::vector<int32_t> members;
        for (int32_t stream = 0; stream < batch; ++stream) {
            if (steps_done[stream] < seq_len && generator() % 3 != 0) {
                members.push_back(stream);
            }
        }
        if (members.empty()) {
            continue;
        }
        std::shuffle(members.begin(), members.end(), generator);
        const auto rows = static_cast<int32_t>(members.size());
        std::vector<int32_t> slots;
        std::vector<float> x, y(static_cast<std::size_t>(rows * out));
        for (int32_t stream : members) {
            slots.push_back(slot_of[stream]);
            const float* row = whole.x.data() + static_cast<std::size_t>((int64_t{steps_done[stream]} * batch + stream) * input_size);
            x.insert(x.end(), row, row + input_size);
        }
        const frnn_slot_step_args args{rows, slot_count, slots.data(), rows, state.bytes(), state.byte_count(slot_count),
                                       x.data(), count_of(x), y.data(), count_of(y)};
        ASSERT_EQ(frnn_model_step_slots(model.get(), step_workspace.get(), &args), FRNN_STATUS_OK)
            << frnn_last_error();
        for (int32_t row = 0; row < rows; ++row) {
            const int32_t stream = members[row];
            outputs[stream].insert(outputs[stream].end(), y.begin() + row * out, y.begin() + (row + 1) * out);
            ++steps_done[stream];
        }
    }

    for (int32_t stream = 0; stream < batch; ++stream) {
        for (int32_t time = 0; time < seq_len; ++time) {
            for (int64_t unit = 0; unit < out; ++unit) {
                ASSERT_EQ(outputs[stream][time * out + unit], whole.y[static_cast<std::size_t>((int64_t{time} * batch + stream) * out + unit)])
                    << "stream " << stream << " step " << time << " unit " << unit;
            }
        }
        for (int32_t layer = 0; layer < param.layers; ++layer) {
            for (int64_t unit = 0; unit < out; ++unit) {
                ASSERT_EQ(static_cast<float>(state.get(slot_of[stream], layer * out + unit)),
                          whole.hn[(layer * batch + stream) * out + unit]);
            }
            for (int64_t unit = 0; lstm && unit < hidden; ++unit) {
                ASSERT_EQ(static_cast<float>(state.get(slot_of[stream], param.layers * out + layer * hidden + unit)),
                          whole.cn[(layer * batch + stream) * hidden + unit]);
            }
        }
    }
    // Slots no stream uses stay zero.
    for (int32_t slot : {4, 6, 8}) {
        for (int64_t index = 0; index < slot_values; ++index) {
            ASSERT_EQ(state.get(slot, index), 0.0);
        }
    }
}

std::string slot_case_name(const ::testing::TestParamInfo<SlotCase>& test_case) {
    const char* kinds[] = {"Lstm", "Gru", "RnnTanh", "RnnRelu"};
    return std::string(kinds[test_case.param.kind]) + std::to_string(test_case.param.layers) + "LayersHidden" +
           std::to_string(test_case.param.hidden) +
           (test_case.param.proj_size > 0 ? "Projected" : "");
}

INSTANTIATE_TEST_SUITE_P(Cells, SlotStepTest,
                         ::testing::Values(SlotCase{FRNN_CELL_LSTM, 2, 0, 19}, SlotCase{FRNN_CELL_LSTM, 1, 7, 19},
                                           SlotCase{FRNN_CELL_LSTM, 1, 0, 130}, SlotCase{FRNN_CELL_GRU, 2, 0, 19},
                                           SlotCase{FRNN_CELL_GRU, 1, 0, 130}, SlotCase{FRNN_CELL_RNN_TANH, 1, 0, 19}),
                         slot_case_name);

struct SlotErrorCase {
    ModelPtr model = create_model(make_spec(FRNN_CELL_LSTM, 3, 4), [] {
        std::mt19937 generator(5);
        return random_weights(make_spec(FRNN_CELL_LSTM, 3, 4), generator);
    }());
    WorkspacePtr workspace = create_workspace(model.get());
    SlotBuffer state{test_precision() == FRNN_PRECISION_FLOAT64, 8, 4};
    std::vector<int32_t> slots{2, 0};
    std::vector<float> x = std::vector<float>(6, 0.5f);
    std::vector<float> y = std::vector<float>(8, 0.0f);

    frnn_slot_step_args args() {
        return {2, 4, slots.data(), count_of(slots), state.bytes(), state.byte_count(4),
                x.data(), count_of(x), y.data(), count_of(y)};
    }
    frnn_status step(const frnn_slot_step_args& call) {
        return frnn_model_step_slots(model.get(), workspace.get(), &call);
    }
};

TEST(SlotStepErrors, EveryBadArgumentIsNamed) {
    SlotErrorCase test;
    ASSERT_EQ(test.step(test.args()), FRNN_STATUS_OK) << frnn_last_error();
    frnn_slot_step_args args = test.args();
    args.slots_count = 3;
    EXPECT_FAILS(test.step(args), FRNN_STATUS_SHAPE_MISMATCH, "slots_count is 3 but the call needs batch = 2");
    args = test.args();
    args.slots = nullptr;
    EXPECT_FAILS(test.step(args), FRNN_STATUS_NULL_POINTER, "slots is NULL");
    args = test.args();
    args.state_bytes -= 1;
    EXPECT_FAILS(test.step(args), FRNN_STATUS_SHAPE_MISMATCH, "state_bytes is");
    args = test.args();
    args.state = nullptr;
    EXPECT_FAILS(test.step(args), FRNN_STATUS_NULL_POINTER, "state is NULL");
    args = test.args();
    args.state += 1;
    args.state_bytes = test.state.byte_count(4);
    EXPECT_FAILS(test.step(args), FRNN_STATUS_INVALID_ARGUMENT, "state is not aligned");
    args = test.args();
    args.x_count = 5;
    EXPECT_FAILS(test.step(args), FRNN_STATUS_SHAPE_MISMATCH, "x_count is 5");
    args = test.args();
    args.y_count = 7;
    EXPECT_FAILS(test.step(args), FRNN_STATUS_SHAPE_MISMATCH, "y_count is 7");
    args = test.args();
    args.batch = 0;
    EXPECT_FAILS(test.step(args), FRNN_STATUS_INVALID_ARGUMENT, "args->batch is 0");
    args = test.args();
    args.slot_count = -1;
    EXPECT_FAILS(test.step(args), FRNN_STATUS_INVALID_ARGUMENT, "args->slot_count is -1");
    test.slots = {2, 4};
    EXPECT_FAILS(test.step(test.args()), FRNN_STATUS_INVALID_ARGUMENT, "slots[1] is 4 but must be in 0..3");
    test.slots = {-1, 0};
    EXPECT_FAILS(test.step(test.args()), FRNN_STATUS_INVALID_ARGUMENT, "slots[0] is -1 but must be in 0..3");
    test.slots = {3, 3};
    EXPECT_FAILS(test.step(test.args()), FRNN_STATUS_INVALID_ARGUMENT, "slot 3 appears more than once");
    test.slots = {2, 0};
    args = test.args();
    args.x = reinterpret_cast<const float*>(test.state.bytes());
    EXPECT_FAILS(test.step(args), FRNN_STATUS_INVALID_ARGUMENT, "state and x overlap");
    args = test.args();
    args.x = nullptr;
    EXPECT_FAILS(test.step(args), FRNN_STATUS_NULL_POINTER, "x is NULL");
    EXPECT_FAILS(frnn_model_step_slots(test.model.get(), test.workspace.get(), nullptr), FRNN_STATUS_NULL_POINTER,
                 "args");
}

TEST(SlotStepErrors, AFailedCallWritesNothing) {
    SlotErrorCase test;
    std::fill(test.y.begin(), test.y.end(), 7.0f);
    test.slots = {1, 1};
    EXPECT_EQ(test.step(test.args()), FRNN_STATUS_INVALID_ARGUMENT);
    EXPECT_THAT(test.y, ::testing::Each(7.0f));
    for (int32_t slot = 0; slot < 4; ++slot) {
        for (int64_t index = 0; index < 8; ++index) {
            EXPECT_EQ(test.state.get(slot, index), 0.0);
        }
    }
}

TEST(SlotStepErrors, AWorkspaceOfAnotherModelIsRefused) {
    SlotErrorCase test;
    SlotErrorCase other;
    const frnn_slot_step_args args = test.args();
    EXPECT_FAILS(frnn_model_step_slots(test.model.get(), other.workspace.get(), &args), FRNN_STATUS_INVALID_ARGUMENT,
                 "workspace was created for another model");
}

TEST(SlotStepErrors, ABidirectionalModelHasNoSlots) {
    const frnn_model_spec spec = make_spec(FRNN_CELL_GRU, 3, 4, 1, 2);
    std::mt19937 generator(3);
    const ModelPtr model = create_model(spec, random_weights(spec, generator));
    int64_t bytes = -1;
    EXPECT_FAILS(frnn_model_slot_bytes(model.get(), &bytes), FRNN_STATUS_INVALID_ARGUMENT, "the model is bidirectional");
    EXPECT_FAILS(frnn_model_slot_bytes(model.get(), nullptr), FRNN_STATUS_NULL_POINTER, "out_bytes");
    EXPECT_FAILS(frnn_model_slot_bytes(nullptr, &bytes), FRNN_STATUS_NULL_POINTER, "model");
}

}  // namespace
}  // namespace fusedrnn::test
