// Proves the design rule "steady-state forward calls never allocate": this executable (separate from the main
// suite because it changes a process-wide function) replaces the global operator new, which the library's
// allocations also resolve to, with a counting one.
#include "test_support.h"

#include <atomic>
#include <cstdlib>
#include <new>

#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define FUSEDRNN_RUNNING_ON_VALGRIND() (RUNNING_ON_VALGRIND != 0)
#else
#define FUSEDRNN_RUNNING_ON_VALGRIND() false
#endif

namespace {

std::atomic<long> allocation_count{0};

void* counted_allocation(std::size_t size, std::size_t alignment) {
    allocation_count.fetch_add(1, std::memory_order_relaxed);
    const std::size_t rounded = (size + alignment - 1) / alignment * alignment;
    void* memory = alignment <= alignof(std::max_align_t)
                       ? std::malloc(rounded == 0 ? 1 : rounded)
                       : std::aligned_alloc(alignment, rounded == 0 ? alignment : rounded);
    if (memory == nullptr) {
        throw std::bad_alloc();
    }
    return memory;
}

}  // namespace

// Tools replace these operators too (valgrind substitutes some of this executable's symbols, ASan brings its
// own sized deletes), so every free must reach the allocator that made the block whoever replaced what: only
// the unsized forms touch memory, the sized forms call them through their symbols, and nothing is inlined.
// (The standard library's array forms forward to these as well.)
__attribute__((noinline)) void* operator new(std::size_t size) {
    return counted_allocation(size, alignof(std::max_align_t));
}
__attribute__((noinline)) void* operator new(std::size_t size, std::align_val_t alignment) {
    return counted_allocation(size, static_cast<std::size_t>(alignment));
}
// The library's aligned arrays ask with nothrow, to report a failure with its size: those forms too, so that ASan's
// own nothrow new (which its delete would have to free) is never the one that runs.
__attribute__((noinline)) void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
    try {
        return counted_allocation(size, alignof(std::max_align_t));
    } catch (const std::bad_alloc&) {
        return nullptr;
    }
}
__attribute__((noinline)) void* operator new(std::size_t size, std::align_val_t alignment,
                                             const std::nothrow_t&) noexcept {
    try {
        return counted_allocation(size, static_cast<std::size_t>(alignment));
    } catch (const std::bad_alloc&) {
        return nullptr;
    }
}
__attribute__((noinline)) void operator delete(void* memory) noexcept { std::free(memory); }
__attribute__((noinline)) void operator delete(void* memory, std::align_val_t) noexcept { std::free(memory); }
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"  // GCC flags the forwarding itself
void operator delete(void* memory, std::size_t) noexcept { ::operator delete(memory); }
void operator delete(void* memory, std::size_t, std::align_val_t alignment) noexcept {
    ::operator delete(memory, alignment);
}
#pragma GCC diagnostic pop

namespace fusedrnn::test {
namespace {

class Allocation : public ::testing::Test {
protected:
    void SetUp() override {
        if (FUSEDRNN_RUNNING_ON_VALGRIND()) {
            GTEST_SKIP() << "valgrind replaces operator new, so allocations cannot be counted here";
        }
    }
};

TEST_F(Allocation, CountingOperatorNewSeesLibraryAllocations) {
    const long before = allocation_count.load();
    frnn_model_spec spec = make_spec(FRNN_CELL_GRU, 2, 3);
    std::mt19937 generator(5);
    std::vector<LayerTensors> layers = random_weights(spec, generator);
    const long after_test_setup = allocation_count.load();
    ModelPtr model = create_model(spec, layers);
    EXPECT_GT(after_test_setup, before);
    EXPECT_GT(allocation_count.load(), after_test_setup) << "model creation must be seen by the counter";
}

TEST_F(Allocation, SteadyStateForwardDoesNotAllocate) {
    frnn_model_spec spec = make_spec(FRNN_CELL_LSTM, 6, 9, 3, 2, 4);
    std::mt19937 generator(6);
    ModelPtr model = create_model(spec, random_weights(spec, generator));
    WorkspacePtr workspace = create_workspace(model.get());

    ForwardBuffers large;
    large.seq_len = 7;
    large.batch = 3;
    large.x = random_floats(generator, 7 * 3 * 6, 1.0f);
    large.h0 = random_floats(generator, 6 * 3 * 4, 0.5f);
    large.c0 = random_floats(generator, 6 * 3 * 9, 0.5f);
    large.lengths = {7, 2, 5};
    large.y.resize(7 * 3 * 8);
    large.hn.resize(6 * 3 * 4);
    large.cn.resize(6 * 3 * 9);
    ForwardBuffers small = large;
    small.seq_len = 2;
    small.batch_first = true;
    small.x.resize(2 * 3 * 6);
    small.lengths = {1, 2, 2};
    small.y.resize(2 * 3 * 8);
    frnn_forward_args large_args = large.args();
    frnn_forward_args small_args = small.args();

    ASSERT_EQ(frnn_model_forward(model.get(), workspace.get(), &large_args), FRNN_STATUS_OK) << frnn_last_error();
    const long before = allocation_count.load();
    frnn_status statuses[4] = {
        frnn_model_forward(model.get(), workspace.get(), &large_args),
        frnn_model_forward(model.get(), workspace.get(), &small_args),
        frnn_model_forward(model.get(), workspace.get(), &large_args),
        frnn_model_forward(model.get(), workspace.get(), &small_args),
    };
    const long allocations = allocation_count.load() - before;
    for (frnn_status status : statuses) {
        EXPECT_EQ(status, FRNN_STATUS_OK) << frnn_last_error();
    }
    EXPECT_EQ(allocations, 0);
}

TEST_F(Allocation, SteadyStateThreadedForwardDoesNotAllocate) {
    frnn_model_spec spec = make_spec(FRNN_CELL_GRU, 5, 96, 2, 2);  // big enough to be split
    spec.num_threads = 2;
    std::mt19937 generator(7);
    ModelPtr model = create_model(spec, random_weights(spec, generator));
    WorkspacePtr workspace = create_workspace(model.get());
    ForwardBuffers buffers;
    buffers.seq_len = 6;
    buffers.batch = 3;
    buffers.x = random_floats(generator, 6 * 3 * 5, 1.0f);
    buffers.lengths = {6, 2, 4};
    buffers.y.resize(6 * 3 * 192);
    buffers.hn.resize(4 * 3 * 96);
    frnn_forward_args args = buffers.args();

    // The first call starts the worker thread (and sizes the arena).
    ASSERT_EQ(frnn_model_forward(model.get(), workspace.get(), &args), FRNN_STATUS_OK) << frnn_last_error();
    const long before = allocation_count.load();
    for (int repeat = 0; repeat < 5; ++repeat) {
        EXPECT_EQ(frnn_model_forward(model.get(), workspace.get(), &args), FRNN_STATUS_OK) << frnn_last_error();
    }
    EXPECT_EQ(allocation_count.load() - before, 0);
}

}  // namespace
}  // namespace fusedrnn::test
