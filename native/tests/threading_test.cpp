// Multi-threaded forward calls: participants split hidden units in whole register blocks, or batch rows in whole
// row groups, so each output is computed by the same code on the same data whatever the split, and threaded
// results equal single-threaded ones bit for bit. Also the worker threads, which belong to one pool per process and
// are hired by the calls of every workspace.
#include "cpu/worker_team.h"
#include "network_cases.h"
#include "test_support.h"

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <thread>

namespace fusedrnn::test {
namespace {

// Every case but the small projection has steps big enough to be split (forward.cpp runs steps below 32K
// multiply-adds on the caller alone). The first ones split units (large weights, or a batch too small for a row
// group per participant), with hidden sizes that leave a partial last block; the `rows_` ones have weights small
// enough for every core's cache and batches of many row groups, including a last, partial group.
const NetworkCase thread_cases[] = {
    {"lstm_batch1_partial_block", FRNN_CELL_LSTM, 9, 150, 1, 1, 0, false, 12, 1, {}},
    {"lstm_deep_bidirectional", FRNN_CELL_LSTM, 16, 64, 3, 2, 0, false, 6, 6, {}},
    {"gru_packed_bidirectional", FRNN_CELL_GRU, 7, 83, 2, 2, 0, true, 8, 5, {8, 3, 5, 1, 8}},
    {"rnn_tanh_batch3", FRNN_CELL_RNN_TANH, 5, 150, 2, 1, 0, false, 5, 3, {}},
    {"rnn_relu_packed", FRNN_CELL_RNN_RELU, 4, 131, 1, 2, 0, false, 6, 4, {6, 2, 4, 5}},
    {"lstm_projection_runs_alone", FRNN_CELL_LSTM, 6, 24, 2, 1, 5, false, 5, 2, {}},
    {"lstm_large_weights_batch64_splits_units", FRNN_CELL_LSTM, 200, 150, 1, 1, 0, false, 3, 64, {}},
    {"rows_lstm_deep_bidirectional", FRNN_CELL_LSTM, 5, 16, 2, 2, 0, false, 6, 66, {}},
    {"rows_gru_packed_batch_first", FRNN_CELL_GRU, 7, 24, 1, 2, 0, true, 5, 50, mixed_lengths(5, 50)},
    {"rows_rnn_relu_time_major_packed", FRNN_CELL_RNN_RELU, 3, 40, 2, 1, 0, false, 4, 97, mixed_lengths(4, 97)},
    {"rows_lstm_projection", FRNN_CELL_LSTM, 6, 24, 2, 2, 8, false, 5, 64, mixed_lengths(5, 64)},
};

Outputs run_forward(const NetworkCase& c, int32_t threads, int repeats = 1) {
    std::mt19937 generator(20260101);
    const frnn_model_spec spec = spec_with_threads(c, threads);
    ModelPtr model = create_model(spec, random_weights(spec, generator));
    WorkspacePtr workspace = create_workspace(model.get());
    return run_calls(model.get(), workspace.get(), c, repeats);
}

class ThreadedForwardTest : public ::testing::TestWithParam<NetworkCase> {};

TEST_P(ThreadedForwardTest, EqualsSingleThreadedBitForBit) {
    const NetworkCase& c = GetParam();
    const Outputs serial = run_forward(c, 1);
    for (int32_t threads : {2, 3, 4}) {
        const Outputs threaded = run_forward(c, threads, 3);
        EXPECT_EQ(threaded.y, serial.y) << threads << " threads: y";
        EXPECT_EQ(threaded.hn, serial.hn) << threads << " threads: hn";
        EXPECT_EQ(threaded.cn, serial.cn) << threads << " threads: cn";
    }
}

INSTANTIATE_TEST_SUITE_P(Cases, ThreadedForwardTest, ::testing::ValuesIn(thread_cases),
                         [](const ::testing::TestParamInfo<NetworkCase>& case_info) {
                             return std::string(case_info.param.name);
                         });

// One workspace's calls of different sizes: a row split over 2, then 3 participants as the batch grows, then 2 again.
TEST(ThreadedForward, CallsOfOneWorkspaceHireWhatTheirSizeWantsAndResultsStaySerial) {
    std::mt19937 generator(20260101);
    const NetworkCase small = {"small", FRNN_CELL_LSTM, 64, 64, 1, 1, 0, false, 4, 8, {}};
    const NetworkCase large = {"large", FRNN_CELL_LSTM, 64, 64, 1, 1, 0, false, 4, 16, {}};
    const frnn_model_spec spec = spec_with_threads(small, 3);
    ModelPtr model = create_model(spec, random_weights(spec, generator));
    WorkspacePtr workspace = create_workspace(model.get());
    for (const NetworkCase* c : {&small, &large, &small}) {
        ForwardBuffers buffers = inputs_for(*c);
        frnn_forward_args args = buffers.args();
        ASSERT_EQ(frnn_model_forward(model.get(), workspace.get(), &args), FRNN_STATUS_OK) << frnn_last_error();
        const Outputs serial = run_forward(*c, 1);
        EXPECT_EQ(buffers.y, serial.y) << c->name;
        EXPECT_EQ(buffers.hn, serial.hn) << c->name;
        EXPECT_EQ(buffers.cn, serial.cn) << c->name;
    }
}

TEST(ThreadedForward, CallerThreadsSharingOneModelGetTheSerialResults) {
    const NetworkCase& c = thread_cases[1];
    const Outputs serial = run_forward(c, 1);
    std::mt19937 generator(20260101);
    const frnn_model_spec spec = spec_with_threads(c, 2);
    ModelPtr model = create_model(spec, random_weights(spec, generator));

    constexpr int caller_count = 4;
    std::vector<Outputs> results(caller_count);
    std::vector<frnn_status> statuses(caller_count, FRNN_STATUS_INTERNAL);
    std::vector<std::thread> callers;
    for (int index = 0; index < caller_count; ++index) {
        callers.emplace_back([&, index] {
            frnn_workspace* workspace = nullptr;
            statuses[index] = frnn_workspace_create(model.get(), &workspace);
            ForwardBuffers buffers = inputs_for(c);
            for (int repeat = 0; repeat < 10 && statuses[index] == FRNN_STATUS_OK; ++repeat) {
                frnn_forward_args args = buffers.args();
                statuses[index] = frnn_model_forward(model.get(), workspace, &args);
            }
            frnn_workspace_destroy(workspace);
            results[index] = {buffers.y, buffers.hn, buffers.cn};
        });
    }
    for (std::thread& caller : callers) {
        caller.join();
    }
    for (int index = 0; index < caller_count; ++index) {
        EXPECT_EQ(statuses[index], FRNN_STATUS_OK);
        EXPECT_EQ(results[index].y, serial.y) << "caller " << index;
        EXPECT_EQ(results[index].hn, serial.hn) << "caller " << index;
        EXPECT_EQ(results[index].cn, serial.cn) << "caller " << index;
    }
}

// The congestion advice of the team itself (the library's copy is hidden; the test builds worker_team.cpp too).
TEST(WorkerTeamCongestion, BlockedBarriersAdviseRunningAloneForADoublingStretch) {
    WorkerPool pool(1);
    WorkerTeam team(pool);
    EXPECT_FALSE(team.congested());
    // Participant 1 arrives 20 ms late at every barrier, as if it had lost its core: participant 0 spends half
    // of the call waiting.
    auto late = [&](int participant) {
        for (int barrier = 0; barrier < 2; ++barrier) {
            if (participant == 1) {
                std::this_thread::sleep_for(std::chrono::milliseconds(20));
            }
            team.barrier();
        }
    };
    ASSERT_EQ(team.hire(2), 2);
    team.run(late);
    EXPECT_TRUE(team.congested());
    EXPECT_FALSE(team.congested()) << "one call alone after the first congested call";
    ASSERT_EQ(team.hire(2), 2);
    team.run(late);
    EXPECT_TRUE(team.congested());
    EXPECT_TRUE(team.congested());
    EXPECT_FALSE(team.congested()) << "two after the second";
    // A call without waits ends the stretch: the next congested call is followed by one call alone.
    auto no_barriers = [](int) {};
    ASSERT_EQ(team.hire(2), 2);
    team.run(no_barriers);
    EXPECT_FALSE(team.congested());
    ASSERT_EQ(team.hire(2), 2);
    team.run(late);
    EXPECT_TRUE(team.congested());
    EXPECT_FALSE(team.congested());
}

TEST(WorkerTeam, RunsAJobOnTheHiredParticipants) {
    WorkerPool pool(2);
    WorkerTeam team(pool);
    std::atomic<int> ran[3] = {};
    auto count = [&](int participant) {
        ran[participant].fetch_add(1);
        team.barrier();  // counts the hired participants: would never pass if it waited for more
    };
    ASSERT_EQ(team.hire(2), 2);
    team.run(count);
    ASSERT_EQ(team.hire(3), 3);
    team.run(count);
    EXPECT_EQ(ran[0].load(), 2);
    EXPECT_EQ(ran[1].load(), 2);
    EXPECT_EQ(ran[2].load(), 1);
}

// Teams share the pool's workers: a team hires what is idle, so however many teams want threads, no more than the
// pool's limit run; workers come back when a call ends (or is dismissed) and are started only when none is idle.
TEST(WorkerTeam, HiresOnlyIdleWorkersOfItsPool) {
    WorkerPool pool(3);
    WorkerTeam first(pool);
    WorkerTeam second(pool);
    EXPECT_EQ(pool.started(), 0) << "workers start on demand";
    EXPECT_EQ(first.hire(3), 3);
    EXPECT_EQ(second.hire(4), 2) << "one worker left idle";
    EXPECT_EQ(pool.started(), 3);
    WorkerTeam third(pool);
    EXPECT_EQ(third.hire(2), 1) << "none idle: the caller alone";
    first.dismiss();
    EXPECT_EQ(third.hire(3), 3);
    std::atomic<int> ran{0};
    auto count = [&](int) {
        ran.fetch_add(1);
        third.barrier();
    };
    third.run(count);
    EXPECT_EQ(ran.load(), 3);
    EXPECT_EQ(first.hire(3), 3) << "run() gave its workers back";
    EXPECT_EQ(pool.started(), 3) << "and none more were started";
}

TEST(WorkerTeam, APoolOfNoWorkersRunsEveryCallOnItsCaller) {
    WorkerPool pool(0);
    WorkerTeam team(pool);
    EXPECT_EQ(team.hire(4), 1);
    int ran = 0;
    auto count = [&](int participant) {
        EXPECT_EQ(participant, 0);
        ++ran;
    };
    team.run(count);
    EXPECT_EQ(ran, 1);
}

#if defined(__linux__)
std::size_t live_thread_count() {
    const std::filesystem::directory_iterator tasks("/proc/self/task");
    return static_cast<std::size_t>(std::distance(begin(tasks), end(tasks)));
}

// The thread count once two readings 10 ms apart agree.
std::size_t stable_thread_count() {
    std::size_t count = live_thread_count();
    for (int attempt = 0; attempt < 200; ++attempt) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        const std::size_t again = live_thread_count();
        if (again == count) {
            break;
        }
        count = again;
    }
    return count;
}

// num_threads is capped at the logical processors, or at FUSEDRNN_THREAD_LIMIT where CTest sets it (the threads_N
// variants raise it so that 3 participants run as 3 on a 2-core machine).
int32_t thread_limit() {
    if (const char* text = std::getenv("FUSEDRNN_THREAD_LIMIT"); text != nullptr && text[0] != '\0') {
        return static_cast<int32_t>(std::strtol(text, nullptr, 10));
    }
    return static_cast<int32_t>(std::max(1u, std::thread::hardware_concurrency()));
}

int32_t expected_participants(int32_t threads) { return std::min<int32_t>(threads, thread_limit()); }

class WorkerThreads : public ::testing::Test {
protected:
    const NetworkCase& c = thread_cases[0];  // 19 unit blocks even at W = 8: three participants all get work
    ModelPtr model;
    ForwardBuffers buffers = inputs_for(c);

    void SetUp() override {
        std::thread([] {}).join();  // a sanitizer runtime starts its helper thread with the first thread, not ours
        std::mt19937 generator(5);
        const frnn_model_spec spec = spec_with_threads(c, 3);
        model = create_model(spec, random_weights(spec, generator));
    }

    void forward(frnn_workspace* workspace) {
        frnn_forward_args args = buffers.args();
        ASSERT_EQ(frnn_model_forward(model.get(), workspace, &args), FRNN_STATUS_OK) << frnn_last_error();
    }
};

// The pool is the process's: a 3-way call starts workers only while the pool has fewer than it needs, and they
// outlive the workspace. Then any number of workspaces, of any models, hire those same threads.
TEST_F(WorkerThreads, BelongToTheProcessAndServeEveryWorkspace) {
    {
        WorkspacePtr first = create_workspace(model.get());
        const std::size_t before = stable_thread_count();
        forward(first.get());
        const std::size_t workers = static_cast<std::size_t>(expected_participants(3) - 1);
        EXPECT_LE(live_thread_count(), before + workers) << "3 participants (if capped, fewer): the caller and workers";
    }
    const std::size_t pooled = stable_thread_count();
    std::mt19937 generator(6);
    const frnn_model_spec spec = spec_with_threads(c, 3);
    ModelPtr other = create_model(spec, random_weights(spec, generator));
    std::vector<WorkspacePtr> workspaces;
    for (int index = 0; index < 8; ++index) {
        workspaces.push_back(create_workspace(index % 2 == 0 ? model.get() : other.get()));
        frnn_forward_args args = buffers.args();
        ASSERT_EQ(frnn_model_forward(index % 2 == 0 ? model.get() : other.get(), workspaces.back().get(), &args),
                  FRNN_STATUS_OK)
            << frnn_last_error();
    }
    EXPECT_EQ(live_thread_count(), pooled) << "8 workspaces of 2 models, 3 participants each: no thread more";
    workspaces.clear();
    EXPECT_EQ(stable_thread_count(), pooled) << "the pool's workers outlive the workspaces";
}

TEST_F(WorkerThreads, SleepWhenIdle) {
    WorkspacePtr workspace = create_workspace(model.get());
    forward(workspace.get());
    // Idle workers stop spinning within a fraction of a millisecond, so 100 ms idle cost next to no CPU.
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    const std::clock_t cpu_before = std::clock();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    const double idle_cpu_seconds = static_cast<double>(std::clock() - cpu_before) / CLOCKS_PER_SEC;
    EXPECT_LT(idle_cpu_seconds, 0.03);
    forward(workspace.get());  // wakes them
}

// More participants than logical processors could never all run: the pool holds one worker fewer than the logical
// processors (FUSEDRNN_THREAD_LIMIT when it is set; each call's caller is the other participant), however many
// callers want threads at once. Here 4 callers, each with its own workspace of a num_threads = 10000 model, all in
// a call at once: the threads are the pool's and the callers, and the results are the serial ones.
TEST_F(WorkerThreads, NeverOutnumberTheLogicalProcessorsWhateverTheCallers) {
    const int32_t logical = expected_participants(10000);
    // LSTM, batch 1: unit blocks for more participants than that, whatever the kernel set's W (<= 16).
    const NetworkCase wide = {"wide", FRNN_CELL_LSTM, 4, std::max(96, 16 * (logical + 1)), 1, 1, 0, false, 2, 1, {}};
    std::mt19937 generator(5);
    const frnn_model_spec spec = spec_with_threads(wide, 10000);
    model = create_model(spec, random_weights(spec, generator));
    buffers = inputs_for(wide);
    {
        WorkspacePtr workspace = create_workspace(model.get());
        forward(workspace.get());  // the pool now holds all its workers
    }
    const std::size_t pooled = stable_thread_count();
    const Outputs serial = [&] {
        std::mt19937 same_weights(5);
        const frnn_model_spec one = spec_with_threads(wide, 1);
        ModelPtr alone = create_model(one, random_weights(one, same_weights));
        WorkspacePtr workspace = create_workspace(alone.get());
        return run_calls(alone.get(), workspace.get(), wide, 1);
    }();

    constexpr int caller_count = 4;
    std::atomic<int> arrived{0};
    std::atomic<bool> counted{false};
    std::vector<Outputs> results(caller_count);
    std::vector<std::thread> callers;
    for (int index = 0; index < caller_count; ++index) {
        callers.emplace_back([&, index] {
            WorkspacePtr workspace = create_workspace(model.get());
            results[index] = run_calls(model.get(), workspace.get(), wide, 20);
            arrived.fetch_add(1);
            while (!counted.load()) {
                std::this_thread::sleep_for(std::chrono::milliseconds(1));
            }
        });
    }
    while (arrived.load() < caller_count) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    EXPECT_EQ(live_thread_count(), pooled + caller_count) << "no worker beyond the pool's";
    counted.store(true);
    for (std::thread& caller : callers) {
        caller.join();
    }
    for (int index = 0; index < caller_count; ++index) {
        EXPECT_EQ(results[index].y, serial.y) << "caller " << index;
        EXPECT_EQ(results[index].hn, serial.hn) << "caller " << index;
    }
    frnn_model_spec reported{};
    reported.struct_size = sizeof reported;
    ASSERT_EQ(frnn_model_get_spec(model.get(), &reported), FRNN_STATUS_OK);
    EXPECT_EQ(reported.num_threads, 10000) << "the spec is reported as given";
}

TEST_F(WorkerThreads, AreNotStartedForOneThread) {
    std::mt19937 generator(5);
    const frnn_model_spec spec = spec_with_threads(c, 1);
    model = create_model(spec, random_weights(spec, generator));
    const std::size_t before = stable_thread_count();
    WorkspacePtr workspace = create_workspace(model.get());
    forward(workspace.get());
    EXPECT_EQ(live_thread_count(), before);
}
#endif

}  // namespace
}  // namespace fusedrnn::test
