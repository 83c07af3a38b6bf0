// A call whose input projection does not fit the workspace's chunk budget runs it a chunk of steps at a time, or a
// chunk of one step's rows when those alone do not fit (cpu/forward.cpp): results equal those of one chunk bit for
// bit, on the caller alone and split between threads (3 participants, or 2 on a 2-core machine). FUSEDRNN_CHUNK_BYTES
// sets the budget of the workspaces created while it is set, so these small calls run in many chunks.
#include "network_cases.h"
#include "test_support.h"

#include <cstdlib>
#include <optional>

namespace fusedrnn::test {
namespace {

// Both layouts, packed and full rows, 1 and 2 layers and directions, a projection; at 2+ threads the large
// hidden size splits units and the small weights with a large batch split rows (see threading_test.cpp).
const NetworkCase chunk_cases[] = {
    {"lstm_deep_bidirectional", FRNN_CELL_LSTM, 7, 20, 2, 2, 0, false, 23, 3, {}},
    {"gru_packed_batch_first", FRNN_CELL_GRU, 5, 33, 2, 2, 0, true, 17, 6, mixed_lengths(17, 6, 5)},
    {"rnn_relu_packed", FRNN_CELL_RNN_RELU, 3, 40, 1, 2, 0, false, 9, 13, mixed_lengths(9, 13, 5)},
    {"lstm_projection_packed", FRNN_CELL_LSTM, 6, 24, 2, 2, 8, false, 11, 9, mixed_lengths(11, 9, 5)},
    {"lstm_split_units", FRNN_CELL_LSTM, 16, 150, 1, 2, 0, false, 6, 5, mixed_lengths(6, 5, 5)},
    {"rnn_tanh_split_rows_batch_first", FRNN_CELL_RNN_TANH, 5, 16, 2, 1, 0, true, 5, 66, mixed_lengths(5, 66, 5)},
};

// Budgets in bytes: below one row (so one row per chunk), a few rows (chunks of some rows of one step), a few
// steps of every row, more than any of these calls needs (one chunk).
const char* const budgets[] = {"1", "2000", "20000", "1000000"};

// Sets an environment variable for the life of the object (the tests run one at a time).
class ScopedEnvironment {
public:
    ScopedEnvironment(const char* name, const char* value) : name_(name) {
        if (const char* previous = std::getenv(name)) {
            previous_ = previous;
        }
        setenv(name, value, 1);
    }
    ~ScopedEnvironment() {
        if (previous_) {
            setenv(name_, previous_->c_str(), 1);
        } else {
            unsetenv(name_);
        }
    }
    ScopedEnvironment(const ScopedEnvironment&) = delete;
    ScopedEnvironment& operator=(const ScopedEnvironment&) = delete;

private:
    const char* name_;
    std::optional<std::string> previous_;
};

// The case on num_threads `threads`, its workspace created under `budget` (null: the default), twice in a row
// (the second call reuses the workspace as carved by the first).
Outputs run_chunked(const NetworkCase& c, int32_t threads, const char* budget) {
    std::mt19937 generator(20260101);
    const frnn_model_spec spec = spec_with_threads(c, threads);
    ModelPtr model = create_model(spec, random_weights(spec, generator));
    WorkspacePtr workspace;
    if (budget != nullptr) {
        ScopedEnvironment scoped("FUSEDRNN_CHUNK_BYTES", budget);
        workspace = create_workspace(model.get());
    } else {
        workspace = create_workspace(model.get());
    }
    return run_calls(model.get(), workspace.get(), c, 2);
}

class ChunkedForwardTest : public ::testing::TestWithParam<NetworkCase> {};

TEST_P(ChunkedForwardTest, EqualsOneChunkBitForBit) {
    const NetworkCase& c = GetParam();
    const Outputs one_chunk = run_chunked(c, 1, nullptr);
    for (const char* budget : budgets) {
        for (int32_t threads : {1, 3}) {
            const Outputs chunked = run_chunked(c, threads, budget);
            EXPECT_EQ(chunked.y, one_chunk.y) << budget << " bytes, " << threads << " threads: y";
            EXPECT_EQ(chunked.hn, one_chunk.hn) << budget << " bytes, " << threads << " threads: hn";
            EXPECT_EQ(chunked.cn, one_chunk.cn) << budget << " bytes, " << threads << " threads: cn";
        }
    }
}

INSTANTIATE_TEST_SUITE_P(Cases, ChunkedForwardTest, ::testing::ValuesIn(chunk_cases),
                         [](const ::testing::TestParamInfo<NetworkCase>& case_info) {
                             return std::string(case_info.param.name);
                         });

}  // namespace
}  // namespace fusedrnn::test
