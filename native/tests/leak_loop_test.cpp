// Creates, uses and destroys models and workspaces many times, over every cell kind and the error paths, so that
// a leak on any of them adds up to many. Built with FUSEDRNN_SANITIZE=address, LeakSanitizer checks at the end of
// the test (and again at exit) and any leak fails it; elsewhere the loop still runs, for valgrind's leak check.
#include "test_support.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#define FUSEDRNN_LEAK_CHECK() __lsan_do_recoverable_leak_check()
#else
#define FUSEDRNN_LEAK_CHECK() 0
#endif

namespace fusedrnn::test {
namespace {

constexpr frnn_cell_kind cell_kinds[] = {FRNN_CELL_LSTM, FRNN_CELL_GRU, FRNN_CELL_RNN_TANH, FRNN_CELL_RNN_RELU};

// A forward call on a fresh workspace, then the workspace and model destroyed in either order.
void create_forward_destroy(frnn_cell_kind kind, int32_t threads, int iteration) {
    // Big enough steps for the threads to be used; a projection for LSTM every other time.
    const int32_t proj_size = kind == FRNN_CELL_LSTM && iteration % 2 == 1 ? 16 : 0;
    frnn_model_spec spec = make_spec(kind, 5, 96, 2, 2, proj_size);
    spec.num_threads = threads;
    std::mt19937 generator(static_cast<unsigned>(iteration));
    const std::vector<LayerTensors> layers = random_weights(spec, generator);
    const std::vector<frnn_layer_weights> views = view_weights(layers);
    frnn_model* model = nullptr;
    ASSERT_EQ(frnn_model_create(&spec, views.data(), static_cast<int32_t>(views.size()), &model), FRNN_STATUS_OK)
        << frnn_last_error();
    frnn_workspace* workspace = nullptr;
    ASSERT_EQ(frnn_workspace_create(model, &workspace), FRNN_STATUS_OK);

    const int32_t out = proj_size > 0 ? proj_size : spec.hidden_size;
    ForwardBuffers buffers = ForwardBuffers::shaped(3 + iteration % 3, 2 + iteration % 5, iteration % 2 == 0, {});
    const int32_t steps = buffers.seq_len;
    const int32_t batch = buffers.batch;
    buffers.x = random_floats(generator, static_cast<std::size_t>(steps * batch * 5), 1.0f);
    buffers.y.resize(static_cast<std::size_t>(steps * batch * 2 * out));
    buffers.hn.resize(static_cast<std::size_t>(4 * batch * out));
    frnn_forward_args args = buffers.args();
    EXPECT_EQ(frnn_model_forward(model, workspace, &args), FRNN_STATUS_OK) << frnn_last_error();
    // A failing call (y too short) after a good one, then a larger one that grows the workspace.
    args.y_count -= 1;
    EXPECT_EQ(frnn_model_forward(model, workspace, &args), FRNN_STATUS_SHAPE_MISMATCH);
    buffers.seq_len += 4;
    buffers.x.resize(static_cast<std::size_t>((steps + 4) * batch * 5), 0.25f);
    buffers.y.resize(static_cast<std::size_t>((steps + 4) * batch * 2 * out));
    args = buffers.args();
    EXPECT_EQ(frnn_model_forward(model, workspace, &args), FRNN_STATUS_OK) << frnn_last_error();

    if (iteration % 2 == 0) {
        EXPECT_EQ(frnn_workspace_destroy(workspace), FRNN_STATUS_OK);
        EXPECT_EQ(frnn_model_destroy(model), FRNN_STATUS_OK);
    } else {
        // The model first: the workspace must no longer be used with it, but destroying it is fine.
        EXPECT_EQ(frnn_model_destroy(model), FRNN_STATUS_OK);
        EXPECT_EQ(frnn_model_forward(model, workspace, &args), FRNN_STATUS_INVALID_HANDLE);
        EXPECT_EQ(frnn_workspace_destroy(workspace), FRNN_STATUS_OK);
    }
}

// Model creation that fails at each stage of validation, after some of its messages were formatted.
void failed_creations(frnn_cell_kind kind, int iteration) {
    frnn_model_spec spec = make_spec(kind, 3, 7, 2, 2);
    std::mt19937 generator(static_cast<unsigned>(iteration));
    const std::vector<LayerTensors> layers = random_weights(spec, generator);
    std::vector<frnn_layer_weights> views = view_weights(layers);
    frnn_model* model = nullptr;
    views[3].weight_hh_count -= 1;  // the last entry: every other one was checked first
    EXPECT_EQ(frnn_model_create(&spec, views.data(), 4, &model), FRNN_STATUS_SHAPE_MISMATCH);
    views = view_weights(layers);
    EXPECT_EQ(frnn_model_create(&spec, views.data(), 3, &model), FRNN_STATUS_SHAPE_MISMATCH);
    spec.num_directions = 3;
    EXPECT_EQ(frnn_model_create(&spec, views.data(), 4, &model), FRNN_STATUS_INVALID_ARGUMENT);
    EXPECT_EQ(model, nullptr);
    frnn_workspace* workspace = nullptr;
    EXPECT_EQ(frnn_workspace_create(reinterpret_cast<frnn_model*>(&spec), &workspace), FRNN_STATUS_INVALID_HANDLE);
    EXPECT_EQ(workspace, nullptr);
}

// A call whose workspace cannot be allocated (see api_errors_test.cpp), on a workspace that has served one.
void failed_allocation(int iteration) {
    frnn_model_spec spec = make_spec(FRNN_CELL_GRU, 1, 1, 2, 2);
    std::mt19937 generator(static_cast<unsigned>(iteration));
    ModelPtr model = create_model(spec, random_weights(spec, generator));
    WorkspacePtr workspace = create_workspace(model.get());
    ForwardBuffers small = ForwardBuffers::shaped(2, 1, false, {});
    small.x.assign(2, 0.5f);
    frnn_forward_args args = small.args();
    EXPECT_EQ(frnn_model_forward(model.get(), workspace.get(), &args), FRNN_STATUS_OK) << frnn_last_error();
    args.seq_len = 1 << 22;
    args.batch = 1 << 22;
    args.x_count = int64_t{1} << 44;
    EXPECT_EQ(frnn_model_forward(model.get(), workspace.get(), &args), FRNN_STATUS_OUT_OF_MEMORY);
}

TEST(LeakLoop, CreateForwardDestroyLeavesNothingBehind) {
    for (int iteration = 0; iteration < 25; ++iteration) {
        for (frnn_cell_kind kind : cell_kinds) {
            create_forward_destroy(kind, 1 + iteration % 3, iteration);
            failed_creations(kind, iteration);
        }
        failed_allocation(iteration);
    }
    EXPECT_EQ(FUSEDRNN_LEAK_CHECK(), 0) << "LeakSanitizer found leaks (reported above)";
}

}  // namespace
}  // namespace fusedrnn::test
