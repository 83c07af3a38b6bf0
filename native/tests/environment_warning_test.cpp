// Environment variables the library reads that hold no valid value: it keeps its default and says so, once, on
// stderr. An executable of its own, because the kernel set is chosen once per process, at first use: nothing else
// here calls the library before these tests set the variables.
#include "cpu/cpu_features.h"
#include "test_support.h"

#include <algorithm>
#include <cstdlib>
#include <string>
#include <thread>

namespace fusedrnn::test {
namespace {

using ::testing::HasSubstr;

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::size_t begin = 0;
    for (std::size_t end; (end = text.find('\n', begin)) != std::string::npos; begin = end + 1) {
        lines.push_back(text.substr(begin, end - begin));
    }
    if (begin < text.size()) {
        lines.push_back(text.substr(begin));
    }
    return lines;
}

// Creates a model and a workspace and runs a forward call: every use the library makes of its environment.
void use_the_library() {
    const frnn_model_spec spec = make_spec(FRNN_CELL_GRU, 2, 3);
    std::mt19937 generator(9);
    ModelPtr model = create_model(spec, random_weights(spec, generator));
    WorkspacePtr workspace = create_workspace(model.get());
    ForwardBuffers buffers;
    buffers.seq_len = 2;
    buffers.batch = 1;
    buffers.x.assign(2 * 2, 0.5f);
    buffers.y.resize(2 * 3);
    frnn_forward_args args = buffers.args();
    EXPECT_EQ(frnn_model_forward(model.get(), workspace.get(), &args), FRNN_STATUS_OK) << frnn_last_error();
}

TEST(EnvironmentWarning, UnknownIsaNamesItAndTheSetUsedOnce) {
    setenv("FUSEDRNN_ISA", "avx-9000", 1);
    ::testing::internal::CaptureStderr();
    const char* name = nullptr;
    const frnn_status first = frnn_isa_name(&name);
    use_the_library();
    use_the_library();
    const frnn_status second = frnn_isa_name(&name);
    const std::vector<std::string> lines = lines_of(::testing::internal::GetCapturedStderr());
    unsetenv("FUSEDRNN_ISA");
    ASSERT_EQ(first, FRNN_STATUS_OK);
    ASSERT_EQ(second, FRNN_STATUS_OK);

    const std::string best = cpu_has_avx512() ? "avx512" : cpu_has_avx2_fma() ? "avx2" : "reference";
    EXPECT_EQ(std::string(name), best) << "an unknown name selects the best supported set";
    ASSERT_EQ(lines.size(), 1u) << "one line, however often the library is used";
    EXPECT_THAT(lines[0], HasSubstr("FUSEDRNN_ISA=avx-9000 is not a kernel set"));
    EXPECT_THAT(lines[0], HasSubstr("using " + best));
}

TEST(EnvironmentWarning, InvalidChunkBudgetNamesItOnce) {
    setenv("FUSEDRNN_CHUNK_BYTES", "64M", 1);
    ::testing::internal::CaptureStderr();
    use_the_library();
    use_the_library();
    const std::vector<std::string> lines = lines_of(::testing::internal::GetCapturedStderr());
    unsetenv("FUSEDRNN_CHUNK_BYTES");
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_THAT(lines[0], HasSubstr("FUSEDRNN_CHUNK_BYTES=64M is not a positive number of bytes; using 67108864"));
}

TEST(EnvironmentWarning, InvalidThreadLimitNamesItOnce) {
    setenv("FUSEDRNN_THREAD_LIMIT", "many", 1);
    ::testing::internal::CaptureStderr();
    frnn_model_spec spec = make_spec(FRNN_CELL_LSTM, 2, 3);
    spec.num_threads = 2;  // the limit is read when a model asks for threads
    std::mt19937 generator(9);
    for (int model = 0; model < 2; ++model) {
        create_model(spec, random_weights(spec, generator));
    }
    const std::vector<std::string> lines = lines_of(::testing::internal::GetCapturedStderr());
    unsetenv("FUSEDRNN_THREAD_LIMIT");
    const unsigned logical = std::max(1u, std::thread::hardware_concurrency());
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_THAT(lines[0],
                HasSubstr("FUSEDRNN_THREAD_LIMIT=many is not a thread count in 1..1024; using " + std::to_string(logical)));
}

}  // namespace
}  // namespace fusedrnn::test
