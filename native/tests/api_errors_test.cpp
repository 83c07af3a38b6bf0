// Every entry point with bad input: the status, and a last-error message that names what is wrong.
#include "test_support.h"

#include <cstring>
#include <thread>

namespace fusedrnn::test {
namespace {

struct SmallLstm {
    frnn_model_spec spec = make_spec(FRNN_CELL_LSTM, 3, 5, 2, 2);
    std::vector<LayerTensors> layers;
    std::vector<frnn_layer_weights> views;
    SmallLstm() {
        std::mt19937 generator(1);
        layers = random_weights(spec, generator);
        views = view_weights(layers);
    }
    frnn_status create(frnn_model** model) {
        return frnn_model_create(&spec, views.data(), static_cast<int32_t>(views.size()), model);
    }
};

// T = 4, B = 2 for SmallLstm: h0/hn [4, 2, 5], y [4, 2, 10].
ForwardBuffers small_lstm_buffers() {
    ForwardBuffers buffers;
    buffers.seq_len = 4;
    buffers.batch = 2;
    buffers.x.assign(4 * 2 * 3, 0.25f);
    buffers.h0.assign(4 * 2 * 5, 0.1f);
    buffers.c0.assign(4 * 2 * 5, 0.1f);
    buffers.y.resize(4 * 2 * 10);
    buffers.hn.resize(4 * 2 * 5);
    buffers.cn.resize(4 * 2 * 5);
    return buffers;
}

TEST(ModelCreate, RejectsNullPointers) {
    SmallLstm lstm;
    frnn_model* model = nullptr;
    EXPECT_FAILS(frnn_model_create(&lstm.spec, lstm.views.data(), 4, nullptr), FRNN_STATUS_NULL_POINTER, "out_model");
    EXPECT_FAILS(frnn_model_create(nullptr, lstm.views.data(), 4, &model), FRNN_STATUS_NULL_POINTER, "spec is NULL");
    EXPECT_FAILS(frnn_model_create(&lstm.spec, nullptr, 4, &model), FRNN_STATUS_NULL_POINTER, "weights is NULL");
    EXPECT_EQ(model, nullptr);
    lstm.views[1].weight_hh = nullptr;
    EXPECT_FAILS(lstm.create(&model), FRNN_STATUS_NULL_POINTER, "weights[1].weight_hh is NULL");
}

TEST(ModelCreate, ErrorMessageNamesTheFunction) {
    SmallLstm lstm;
    frnn_model* model = nullptr;
    EXPECT_FAILS(frnn_model_create(nullptr, lstm.views.data(), 4, &model), FRNN_STATUS_NULL_POINTER,
                 "frnn_model_create: spec is NULL");
}

TEST(ModelCreate, RejectsInvalidSpecs) {
    struct BadSpec {
        void (*edit)(frnn_model_spec&);
        const char* message;
    };
    const BadSpec bad_specs[] = {
        {[](frnn_model_spec& s) { s.cell_kind = 4; }, "spec->cell_kind is 4 but must be in 0..3"},
        {[](frnn_model_spec& s) { s.cell_kind = -1; }, "spec->cell_kind is -1"},
        {[](frnn_model_spec& s) { s.input_size = 0; }, "spec->input_size is 0"},
        {[](frnn_model_spec& s) { s.hidden_size = -3; }, "spec->hidden_size is -3"},
        {[](frnn_model_spec& s) { s.num_layers = 0; }, "spec->num_layers is 0"},
        {[](frnn_model_spec& s) { s.num_directions = 3; }, "spec->num_directions is 3 but must be in 1..2"},
        {[](frnn_model_spec& s) { s.proj_size = 5; }, "spec->proj_size is 5 but must be in 1..4"},
        {[](frnn_model_spec& s) { s.proj_size = -1; }, "spec->proj_size is -1"},
        {[](frnn_model_spec& s) { s.num_threads = -2; }, "spec->num_threads is -2"},
        {[](frnn_model_spec& s) { s.reserved[2] = 1; }, "spec->reserved[2] is 1 but reserved fields must be zero"},
        {[](frnn_model_spec& s) { s.precision = 2; }, "spec->precision is 2 but must be in 0..1"},
        {[](frnn_model_spec& s) { s.precision = -1; }, "spec->precision is -1"},
        {[](frnn_model_spec& s) { s.struct_size = 0; }, "spec->struct_size is 0 but must be sizeof(frnn_model_spec), 120"},
        {[](frnn_model_spec& s) { s.struct_size = 119; }, "spec->struct_size is 119"},
        {[](frnn_model_spec& s) { s.reserved[3] = 9; }, "spec->reserved[3] is 9 but reserved fields must be zero"},
        // The cell descriptor (SmallLstm is a bidirectional LSTM).
        {[](frnn_model_spec& s) { s.forward_activations.gates.kind = 13; },
         "spec->forward_activations.gates.kind is 13 but must be in 0..12"},
        {[](frnn_model_spec& s) { s.reverse_activations.candidate.kind = -1; },
         "spec->reverse_activations.candidate.kind is -1"},
        {[](frnn_model_spec& s) { s.forward_activations.gates = {FRNN_ACTIVATION_LEAKY_RELU, NAN, 0.0f}; },
         "spec->forward_activations.gates.alpha is nan but LEAKY_RELU needs a finite value"},
        {[](frnn_model_spec& s) { s.forward_activations.output = {FRNN_ACTIVATION_AFFINE, 1.0f, INFINITY}; },
         "spec->forward_activations.output.beta is inf but AFFINE needs a finite value"},
        {[](frnn_model_spec& s) { s.forward_activations.gates = {FRNN_ACTIVATION_TANH, 0.5f, 0.0f}; },
         "spec->forward_activations.gates.alpha is 0.5 but TANH takes no such parameter; it must be 0"},
        {[](frnn_model_spec& s) { s.forward_activations.candidate = {FRNN_ACTIVATION_LEAKY_RELU, 0.1f, 2.0f}; },
         "spec->forward_activations.candidate.beta is 2 but LEAKY_RELU takes no such parameter"},
        {[](frnn_model_spec& s) { s.clip = -1.0f; }, "spec->clip is -1 but must be 0 (no clip) or a finite positive bound"},
        {[](frnn_model_spec& s) { s.clip = NAN; }, "spec->clip is nan"},
        {[](frnn_model_spec& s) { s.clip = INFINITY; }, "spec->clip is inf"},
        {[](frnn_model_spec& s) { s.reset_before_product = true; },
         "spec->reset_before_product is 1 but only GRU has a reset gate"},
        {[](frnn_model_spec& s) { std::memset(&s.has_peepholes, 3, 1); }, "spec->has_peepholes is 3 but a bool must be 0"},
        {[](frnn_model_spec& s) {
             s.cell_kind = FRNN_CELL_GRU;
             s.has_peepholes = true;
         },
         "spec->has_peepholes is 1 but only LSTM has peepholes"},
        {[](frnn_model_spec& s) {
             s.cell_kind = FRNN_CELL_RNN_TANH;
             s.coupled_input_forget = true;
         },
         "spec->coupled_input_forget is 1 but only LSTM has an input and a forget gate"},
        {[](frnn_model_spec& s) {
             s.cell_kind = FRNN_CELL_GRU;
             s.forward_activations.output.kind = FRNN_ACTIVATION_TANH;
         },
         "spec->forward_activations.output.kind is TANH but GRU has no output activation; leave it DEFAULT (0)"},
        {[](frnn_model_spec& s) {
             s.cell_kind = FRNN_CELL_RNN_RELU;
             s.forward_activations.candidate.kind = FRNN_ACTIVATION_RELU;
         },
         "spec->forward_activations.candidate.kind is RELU but an RNN has one activation (gates)"},
        {[](frnn_model_spec& s) {
             s.num_directions = 1;
             s.reverse_activations.gates.kind = FRNN_ACTIVATION_SIGMOID;
         },
         "spec->reverse_activations.gates.kind is SIGMOID but num_directions is 1"},
        {[](frnn_model_spec& s) { s.struct_size = 1u << 31; }, "more than any frnn_model_spec"},
        // A C or C# caller can store any byte in a bool; only 0 and 1 are bools (reading another is undefined).
        {[](frnn_model_spec& s) { std::memset(&s.has_bias, 2, 1); },
         "spec->has_bias is 2 but a bool must be 0 (false) or 1 (true)"},
        {[](frnn_model_spec& s) { std::memset(&s.has_bias, 255, 1); }, "spec->has_bias is 255"},
        {[](frnn_model_spec& s) {
             s.cell_kind = FRNN_CELL_GRU;
             s.proj_size = 2;
         },
         "GRU has no projection"},
    };
    for (const BadSpec& bad : bad_specs) {
        SmallLstm lstm;
        bad.edit(lstm.spec);
        frnn_model* model = nullptr;
        EXPECT_FAILS(lstm.create(&model), FRNN_STATUS_INVALID_ARGUMENT, bad.message);
        EXPECT_EQ(model, nullptr);
    }
}

// A caller built against a newer fusedrnn.h passes a longer spec: fields this library does not know are accepted at
// their default (zero) and refused when set.
TEST(ModelCreate, AcceptsALongerSpecWhoseUnknownFieldsAreZero) {
    struct NewerSpec {
        frnn_model_spec spec;
        uint32_t newer_field;
    };
    SmallLstm lstm;
    NewerSpec newer{lstm.spec, 0};
    newer.spec.struct_size = sizeof newer;
    static_assert(sizeof(NewerSpec) == 124, "the messages below name the sizes");
    frnn_model* model = nullptr;
    ASSERT_EQ(frnn_model_create(&newer.spec, lstm.views.data(), 4, &model), FRNN_STATUS_OK) << frnn_last_error();
    ModelPtr owned(model);

    newer.newer_field = 1;
    model = nullptr;
    EXPECT_FAILS(frnn_model_create(&newer.spec, lstm.views.data(), 4, &model), FRNN_STATUS_UNSUPPORTED,
                 "spec->struct_size is 124 and byte 120 is set, but this library's frnn_model_spec has 120 bytes");
    EXPECT_EQ(model, nullptr);
}

TEST(ModelCreate, ChecksPeepholeWeightsAgainstTheSpec) {
    SmallLstm lstm;
    std::vector<float> peepholes(3 * 5, 0.1f);
    lstm.views[1].weight_p = peepholes.data();
    lstm.views[1].weight_p_count = count_of(peepholes);
    frnn_model* model = nullptr;
    EXPECT_FAILS(lstm.create(&model), FRNN_STATUS_INVALID_ARGUMENT,
                 "weights[1].weight_p must be NULL with count 0 because spec->has_peepholes is 0");

    SmallLstm peephole_lstm;
    peephole_lstm.spec.has_peepholes = true;
    EXPECT_FAILS(peephole_lstm.create(&model), FRNN_STATUS_NULL_POINTER,
                 "weights[0].weight_p is NULL but layer 0 needs it");
    for (frnn_layer_weights& view : peephole_lstm.views) {
        view.weight_p = peepholes.data();
        view.weight_p_count = count_of(peepholes) - 1;
    }
    EXPECT_FAILS(peephole_lstm.create(&model), FRNN_STATUS_SHAPE_MISMATCH,
                 "weights[0].weight_p_count is 14 but layer 0 needs peepholes*hidden_size = 3*5 = 15");
    for (frnn_layer_weights& view : peephole_lstm.views) {
        view.weight_p_count = count_of(peepholes);
    }
    ASSERT_EQ(peephole_lstm.create(&model), FRNN_STATUS_OK) << frnn_last_error();
    EXPECT_EQ(frnn_model_destroy(model), FRNN_STATUS_OK);
}

TEST(ModelCreate, RejectsWeightCountsThatDoNotMatchTheSpec) {
    SmallLstm lstm;
    frnn_model* model = nullptr;
    EXPECT_FAILS(frnn_model_create(&lstm.spec, lstm.views.data(), 3, &model), FRNN_STATUS_SHAPE_MISMATCH,
                 "weights_count is 3 but the spec needs num_layers*num_directions = 2*2 = 4");

    lstm.views[2].weight_ih_count -= 1;  // layer 1 forward: input is 2 directions * 5
    EXPECT_FAILS(lstm.create(&model), FRNN_STATUS_SHAPE_MISMATCH,
                 "weights[2].weight_ih_count is 199 but layer 1 needs gates*hidden_size*num_directions*out_size = "
                 "4*5*10 = 200");

    SmallLstm other;
    other.views[3].bias_hh_count = 21;
    EXPECT_FAILS(other.create(&model), FRNN_STATUS_SHAPE_MISMATCH,
                 "weights[3].bias_hh_count is 21 but layer 1 reverse needs gates*hidden_size = 4*5 = 20");
    EXPECT_EQ(model, nullptr);
}

TEST(ModelCreate, RejectsTensorsTheSpecDoesNotHave) {
    SmallLstm lstm;
    lstm.spec.has_bias = false;
    frnn_model* model = nullptr;
    EXPECT_FAILS(lstm.create(&model), FRNN_STATUS_INVALID_ARGUMENT,
                 "weights[0].bias_ih must be NULL with count 0 because spec->has_bias is 0");

    SmallLstm with_projection_weights;
    std::vector<float> projection(5 * 5, 0.0f);
    with_projection_weights.views[0].weight_hr = projection.data();
    with_projection_weights.views[0].weight_hr_count = count_of(projection);
    EXPECT_FAILS(with_projection_weights.create(&model), FRNN_STATUS_INVALID_ARGUMENT,
                 "weights[0].weight_hr must be NULL with count 0 because spec->proj_size is 0");

    const frnn_model_spec projected = make_spec(FRNN_CELL_LSTM, 3, 5, 1, 1, 2);
    std::mt19937 generator(11);
    std::vector<LayerTensors> layers = random_weights(projected, generator);
    layers[0].weight_hr.clear();
    std::vector<frnn_layer_weights> views = view_weights(layers);
    EXPECT_FAILS(frnn_model_create(&projected, views.data(), 1, &model), FRNN_STATUS_NULL_POINTER,
                 "weights[0].weight_hr is NULL but layer 0 needs it");
    EXPECT_EQ(model, nullptr);
}

TEST(ModelCreate, AcceptsSpecsAtTheLimits) {
    for (frnn_cell_kind kind : {FRNN_CELL_LSTM, FRNN_CELL_GRU, FRNN_CELL_RNN_TANH, FRNN_CELL_RNN_RELU}) {
        frnn_model_spec spec = make_spec(kind, 1, 1);
        std::mt19937 generator(2);
        ModelPtr model = create_model(spec, random_weights(spec, generator));
        EXPECT_NE(model, nullptr);
    }
    frnn_model_spec projected = make_spec(FRNN_CELL_LSTM, 2, 5, 1, 1, 4);
    std::mt19937 generator(3);
    EXPECT_NE(create_model(projected, random_weights(projected, generator)), nullptr);
}

TEST(ModelGetSpec, ReturnsTheSpecAndChecksArguments) {
    SmallLstm lstm;
    lstm.spec.num_threads = 3;
    ModelPtr model = create_model(lstm.spec, lstm.layers);
    frnn_model_spec spec{};
    spec.struct_size = sizeof spec;
    ASSERT_EQ(frnn_model_get_spec(model.get(), &spec), FRNN_STATUS_OK);
    EXPECT_EQ(spec.struct_size, sizeof spec);
    EXPECT_EQ(spec.precision, test_precision());
    EXPECT_EQ(spec.cell_kind, FRNN_CELL_LSTM);
    EXPECT_EQ(spec.input_size, 3);
    EXPECT_EQ(spec.hidden_size, 5);
    EXPECT_EQ(spec.num_layers, 2);
    EXPECT_EQ(spec.num_directions, 2);
    EXPECT_EQ(spec.proj_size, 0);
    EXPECT_EQ(spec.num_threads, 3);
    EXPECT_TRUE(spec.has_bias);
    EXPECT_FAILS(frnn_model_get_spec(model.get(), nullptr), FRNN_STATUS_NULL_POINTER, "out_spec is NULL");
    frnn_model_spec unsized{};
    EXPECT_FAILS(frnn_model_get_spec(model.get(), &unsized), FRNN_STATUS_INVALID_ARGUMENT,
                 "out_spec->struct_size is 0; set it to sizeof(frnn_model_spec)");
    EXPECT_FAILS(frnn_model_get_spec(nullptr, &spec), FRNN_STATUS_NULL_POINTER, "model is NULL");
}

TEST(Handles, DestroyAcceptsNull) {
    EXPECT_EQ(frnn_model_destroy(nullptr), FRNN_STATUS_OK);
    EXPECT_EQ(frnn_workspace_destroy(nullptr), FRNN_STATUS_OK);
}

TEST(Handles, UseAfterDestroyIsReportedNotCrashed) {
    SmallLstm lstm;
    frnn_model* model = nullptr;
    ASSERT_EQ(lstm.create(&model), FRNN_STATUS_OK);
    frnn_workspace* workspace = nullptr;
    ASSERT_EQ(frnn_workspace_create(model, &workspace), FRNN_STATUS_OK);
    ForwardBuffers buffers = small_lstm_buffers();
    frnn_forward_args args = buffers.args();
    ASSERT_EQ(frnn_model_forward(model, workspace, &args), FRNN_STATUS_OK) << frnn_last_error();

    ASSERT_EQ(frnn_model_destroy(model), FRNN_STATUS_OK);
    EXPECT_FAILS(frnn_model_forward(model, workspace, &args), FRNN_STATUS_INVALID_HANDLE,
                 "model is not a live frnn_model");
    frnn_model_spec spec{};
    EXPECT_FAILS(frnn_model_get_spec(model, &spec), FRNN_STATUS_INVALID_HANDLE, "model is not a live frnn_model");
    frnn_workspace* another = nullptr;
    EXPECT_FAILS(frnn_workspace_create(model, &another), FRNN_STATUS_INVALID_HANDLE, "not a live frnn_model");
    EXPECT_EQ(another, nullptr);
    EXPECT_FAILS(frnn_model_destroy(model), FRNN_STATUS_INVALID_HANDLE, "already destroyed");

    ASSERT_EQ(frnn_workspace_destroy(workspace), FRNN_STATUS_OK);
    EXPECT_FAILS(frnn_workspace_destroy(workspace), FRNN_STATUS_INVALID_HANDLE, "workspace is not a live frnn_workspace");
}

TEST(Handles, ForeignPointersAreRejected) {
    SmallLstm lstm;
    ModelPtr model = create_model(lstm.spec, lstm.layers);
    WorkspacePtr workspace = create_workspace(model.get());
    alignas(64) unsigned char not_a_handle[256] = {};
    auto* fake_model = reinterpret_cast<frnn_model*>(not_a_handle);
    auto* fake_workspace = reinterpret_cast<frnn_workspace*>(not_a_handle);
    ForwardBuffers buffers = small_lstm_buffers();
    frnn_forward_args args = buffers.args();
    EXPECT_FAILS(frnn_model_forward(fake_model, workspace.get(), &args), FRNN_STATUS_INVALID_HANDLE, "model");
    EXPECT_FAILS(frnn_model_forward(model.get(), fake_workspace, &args), FRNN_STATUS_INVALID_HANDLE,
                 "workspace is not a live frnn_workspace");
    // A model handle passed where a workspace is expected is foreign to the workspace registry.
    EXPECT_FAILS(frnn_model_forward(model.get(), reinterpret_cast<frnn_workspace*>(model.get()), &args),
                 FRNN_STATUS_INVALID_HANDLE, "workspace");
    EXPECT_FAILS(frnn_workspace_destroy(fake_workspace), FRNN_STATUS_INVALID_HANDLE, "workspace");
    EXPECT_FAILS(frnn_model_destroy(fake_model), FRNN_STATUS_INVALID_HANDLE, "model");
}

TEST(WorkspaceCreate, ChecksArguments) {
    SmallLstm lstm;
    ModelPtr model = create_model(lstm.spec, lstm.layers);
    frnn_workspace* workspace = nullptr;
    EXPECT_FAILS(frnn_workspace_create(model.get(), nullptr), FRNN_STATUS_NULL_POINTER, "out_workspace is NULL");
    EXPECT_FAILS(frnn_workspace_create(nullptr, &workspace), FRNN_STATUS_NULL_POINTER, "model is NULL");
}

TEST(Forward, RejectsAWorkspaceOfAnotherModel) {
    SmallLstm lstm;
    ModelPtr model = create_model(lstm.spec, lstm.layers);
    ModelPtr other_model = create_model(lstm.spec, lstm.layers);
    WorkspacePtr other_workspace = create_workspace(other_model.get());
    ForwardBuffers buffers = small_lstm_buffers();
    frnn_forward_args args = buffers.args();
    EXPECT_FAILS(frnn_model_forward(model.get(), other_workspace.get(), &args), FRNN_STATUS_INVALID_ARGUMENT,
                 "workspace was created for another model");
}

class ForwardArguments : public ::testing::Test {
protected:
    SmallLstm lstm;
    ModelPtr model = create_model(lstm.spec, lstm.layers);
    WorkspacePtr workspace = create_workspace(model.get());
    ForwardBuffers buffers = small_lstm_buffers();

    frnn_status forward(const frnn_forward_args& args) {
        return frnn_model_forward(model.get(), workspace.get(), &args);
    }
};

TEST_F(ForwardArguments, AcceptTheBaseline) {
    EXPECT_EQ(forward(buffers.args()), FRNN_STATUS_OK) << frnn_last_error();
}

TEST_F(ForwardArguments, RejectNullPointers) {
    EXPECT_FAILS(frnn_model_forward(model.get(), workspace.get(), nullptr), FRNN_STATUS_NULL_POINTER, "args is NULL");
    EXPECT_FAILS(frnn_model_forward(nullptr, workspace.get(), nullptr), FRNN_STATUS_NULL_POINTER, "model is NULL");
    frnn_forward_args args = buffers.args();
    EXPECT_FAILS(frnn_model_forward(model.get(), nullptr, &args), FRNN_STATUS_NULL_POINTER, "workspace is NULL");
    args.x = nullptr;
    EXPECT_FAILS(forward(args), FRNN_STATUS_NULL_POINTER, "x is NULL");
}

TEST_F(ForwardArguments, RejectCountsThatDoNotMatch) {
    frnn_forward_args args = buffers.args();
    args.x_count -= 1;
    EXPECT_FAILS(forward(args), FRNN_STATUS_SHAPE_MISMATCH,
                 "x_count is 23 but the model needs seq_len*batch*input_size = 4*2*3 = 24");
    args = buffers.args();
    args.h0_count = 39;
    EXPECT_FAILS(forward(args), FRNN_STATUS_SHAPE_MISMATCH,
                 "h0_count is 39 but the model needs num_layers*num_directions*batch*hidden_size = 4*2*5 = 40");
    args = buffers.args();
    args.c0_count = 41;
    EXPECT_FAILS(forward(args), FRNN_STATUS_SHAPE_MISMATCH, "c0_count is 41");
    args = buffers.args();
    args.y_count = 40;
    EXPECT_FAILS(forward(args), FRNN_STATUS_SHAPE_MISMATCH,
                 "y_count is 40 but the model needs seq_len*batch*num_directions*out_size = 4*2*10 = 80");
    args = buffers.args();
    args.hn_count = 0;
    EXPECT_FAILS(forward(args), FRNN_STATUS_SHAPE_MISMATCH, "hn_count is 0");
    args = buffers.args();
    args.cn_count = 1;
    EXPECT_FAILS(forward(args), FRNN_STATUS_SHAPE_MISMATCH, "cn_count is 1");
}

TEST_F(ForwardArguments, RejectAbsentBuffersWithCounts) {
    frnn_forward_args args = buffers.args();
    args.h0 = nullptr;
    EXPECT_FAILS(forward(args), FRNN_STATUS_INVALID_ARGUMENT, "h0 is NULL but h0_count is 40");
    args = buffers.args();
    args.y = nullptr;
    EXPECT_FAILS(forward(args), FRNN_STATUS_INVALID_ARGUMENT, "y is NULL but y_count is 80");
}

TEST_F(ForwardArguments, RejectInvalidSizesAndFlags) {
    frnn_forward_args args = buffers.args();
    args.seq_len = 0;
    EXPECT_FAILS(forward(args), FRNN_STATUS_INVALID_ARGUMENT, "args->seq_len is 0");
    args = buffers.args();
    args.batch = -1;
    EXPECT_FAILS(forward(args), FRNN_STATUS_INVALID_ARGUMENT, "args->batch is -1");
    args = buffers.args();
    args.reserved[6] = 9;
    EXPECT_FAILS(forward(args), FRNN_STATUS_INVALID_ARGUMENT, "args->reserved[6] is 9");
    args = buffers.args();
    std::memset(&args.batch_first, 2, 1);
    EXPECT_FAILS(forward(args), FRNN_STATUS_INVALID_ARGUMENT,
                 "args->batch_first is 2 but a bool must be 0 (false) or 1 (true)");
}

TEST_F(ForwardArguments, RejectLengthsOutOfRange) {
    buffers.lengths = {4, 0};
    EXPECT_FAILS(forward(buffers.args()), FRNN_STATUS_INVALID_ARGUMENT, "lengths[1] is 0 but must be in 1..4");
    buffers.lengths = {5, 1};
    EXPECT_FAILS(forward(buffers.args()), FRNN_STATUS_INVALID_ARGUMENT, "lengths[0] is 5 but must be in 1..4");
    buffers.lengths = {1, 2, 3};
    EXPECT_FAILS(forward(buffers.args()), FRNN_STATUS_SHAPE_MISMATCH,
                 "lengths_count is 3 but the model needs batch = 2");
    buffers.lengths = {4, 1};
    EXPECT_EQ(forward(buffers.args()), FRNN_STATUS_OK) << frnn_last_error();
}

TEST_F(ForwardArguments, RejectOverlappingBuffers) {
    frnn_forward_args args = buffers.args();
    args.hn = buffers.y.data();
    EXPECT_FAILS(forward(args), FRNN_STATUS_INVALID_ARGUMENT, "y and hn overlap");
    args = buffers.args();
    std::vector<float> longer_h0(buffers.h0.size() + 1);
    args.h0 = longer_h0.data();
    args.hn = longer_h0.data() + 1;
    EXPECT_FAILS(forward(args), FRNN_STATUS_INVALID_ARGUMENT, "h0 and hn overlap");
}

TEST(Forward, RejectsCellStateForCellsWithoutOne) {
    frnn_model_spec spec = make_spec(FRNN_CELL_GRU, 3, 5);
    std::mt19937 generator(4);
    ModelPtr model = create_model(spec, random_weights(spec, generator));
    WorkspacePtr workspace = create_workspace(model.get());
    ForwardBuffers buffers;
    buffers.seq_len = 2;
    buffers.batch = 1;
    buffers.x.assign(2 * 3, 0.5f);
    buffers.c0.assign(5, 0.0f);
    frnn_forward_args args = buffers.args();
    EXPECT_FAILS(frnn_model_forward(model.get(), workspace.get(), &args), FRNN_STATUS_INVALID_ARGUMENT,
                 "c0 must be NULL with count 0 because only LSTM has a cell state");
}

// Chunking bounds the input projection, but the outputs of the layers below the last are as large as y (in double):
// here 2^22 steps x 2^22 rows x 2 directions, 2^48 bytes, more than any address space. The workspace is allocated
// before x is read, so x need not be that long.
TEST(Forward, ReportsTheBytesOfAWorkspaceThatCannotBeAllocated) {
    frnn_model_spec spec = make_spec(FRNN_CELL_LSTM, 1, 1, 2, 2);
    std::mt19937 generator(4);
    ModelPtr model = create_model(spec, random_weights(spec, generator));
    WorkspacePtr workspace = create_workspace(model.get());
    const float x = 0.5f;
    frnn_forward_args args{};
    args.seq_len = 1 << 22;
    args.batch = 1 << 22;
    args.x = &x;
    args.x_count = int64_t{1} << 44;
    EXPECT_EQ(frnn_model_forward(model.get(), workspace.get(), &args), FRNN_STATUS_OUT_OF_MEMORY);
    EXPECT_THAT(std::string(frnn_last_error()),
                ::testing::MatchesRegex("frnn_model_forward: out of memory: could not allocate [0-9]{15,} bytes"));

    // The workspace still serves calls that fit.
    ForwardBuffers small;
    small.seq_len = 2;
    small.batch = 1;
    small.x.assign(2, 0.5f);
    small.y.resize(2 * 2);
    frnn_forward_args small_args = small.args();
    EXPECT_EQ(frnn_model_forward(model.get(), workspace.get(), &small_args), FRNN_STATUS_OK) << frnn_last_error();
}

TEST(LastError, IsThreadLocalAndKeptAcrossSuccesses) {
    frnn_model* model = nullptr;
    EXPECT_EQ(frnn_model_create(nullptr, nullptr, 0, &model), FRNN_STATUS_NULL_POINTER);
    const std::string message = frnn_last_error();
    EXPECT_FALSE(message.empty());
    EXPECT_EQ(frnn_model_destroy(nullptr), FRNN_STATUS_OK);
    EXPECT_EQ(std::string(frnn_last_error()), message);

    std::string other_thread_message = "unset";
    std::thread([&] { other_thread_message = frnn_last_error(); }).join();
    EXPECT_EQ(other_thread_message, "");
}

}  // namespace
}  // namespace fusedrnn::test
