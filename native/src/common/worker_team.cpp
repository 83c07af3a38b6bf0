#include "common/worker_team.h"

#include <algorithm>
#include <chrono>

#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__)
#include <immintrin.h>
#define FUSEDRNN_CPU_RELAX() _mm_pause()
#else
#define FUSEDRNN_CPU_RELAX() std::this_thread::yield()
#endif

namespace fusedrnn {
namespace {

// Waits for `done` with pause for a few microseconds, without reading the clock; true when done.
template <class Done>
bool spin_pausing(Done done) {
    constexpr int pauses = 1024;
    for (int attempt = 0; attempt < pauses; ++attempt) {
        if (done()) {
            return true;
        }
        FUSEDRNN_CPU_RELAX();
    }
    return done();
}

// Then yields the core until `deadline`: with more runnable threads than cores, the thread we wait for may need it.
template <class Done>
bool spin_yielding(Done done, std::chrono::steady_clock::time_point deadline) {
    while (!done()) {
        std::this_thread::yield();
        if (std::chrono::steady_clock::now() > deadline) {
            return done();
        }
    }
    return true;
}

template <class Done>
bool spin_until(Done done, std::chrono::microseconds spin_for) {
    return spin_pausing(done) || spin_yielding(done, std::chrono::steady_clock::now() + spin_for);
}

// How long an idle worker stays awake for the next call before it blocks, and how long a participant waits at a
// barrier before it blocks (a step takes microseconds; far longer means the machine is oversubscribed).
constexpr std::chrono::microseconds idle_spin{200};
constexpr std::chrono::microseconds barrier_spin{50};
// The longest stretch of calls run alone after a congested one, before threads are tried again.
constexpr int max_calls_alone = 1024;

}  // namespace

WorkerTeam::WorkerTeam(int participants) : participants_(participants) {
    threads_.reserve(static_cast<std::size_t>(participants - 1));
    try {
        for (int participant = 1; participant < participants; ++participant) {
            threads_.emplace_back([this, participant] { worker_main(participant); });
        }
    } catch (...) {
        stop_and_join();  // the threads started so far
        throw;
    }
}

WorkerTeam::~WorkerTeam() { stop_and_join(); }

void WorkerTeam::stop_and_join() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stopping_ = true;
        generation_.fetch_add(1, std::memory_order_release);
    }
    wake_.notify_all();
    for (std::thread& thread : threads_) {
        thread.join();
    }
}

void WorkerTeam::run_erased(void* context, JobFn function, int active) {
    const auto start = std::chrono::steady_clock::now();
    finished_.store(0, std::memory_order_relaxed);
    {
        std::lock_guard<std::mutex> lock(mutex_);
        job_context_ = context;
        job_function_ = function;
        active_ = active;
        generation_.fetch_add(1, std::memory_order_release);
    }
    wake_.notify_all();
    function(context, 0);
    // The workers finish a few stores after the job's last barrier: not worth blocking for.
    const auto all_finished = [&] { return finished_.load(std::memory_order_acquire) == participants_ - 1; };
    while (!spin_until(all_finished, idle_spin)) {
    }
    // Participants that waited at barriers for more than a quarter of their time were not getting their cores
    // (or the split does not pay).
    const auto elapsed = std::chrono::steady_clock::now() - start;
    const auto waited = std::chrono::nanoseconds(long_waits_.exchange(0, std::memory_order_relaxed));
    if (waited * 4 > elapsed * active) {
        calls_alone_left_ = next_calls_alone_;
        next_calls_alone_ = std::min(next_calls_alone_ * 2, max_calls_alone);
    } else {
        next_calls_alone_ = 1;
    }
}

bool WorkerTeam::congested() {
    if (calls_alone_left_ == 0) {
        return false;
    }
    --calls_alone_left_;
    return true;
}

void WorkerTeam::worker_main(int participant) {
    uint64_t seen = 0;
    for (;;) {
        const auto changed = [&] { return generation_.load(std::memory_order_acquire) != seen; };
        if (!spin_until(changed, idle_spin)) {
            std::unique_lock<std::mutex> lock(mutex_);
            wake_.wait(lock, changed);
        }
        void* context = nullptr;
        JobFn function = nullptr;
        bool takes_part = false;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            seen = generation_.load(std::memory_order_relaxed);
            if (stopping_) {
                return;
            }
            context = job_context_;
            function = job_function_;
            takes_part = participant < active_;
        }
        if (takes_part) {
            function(context, participant);
        }
        finished_.fetch_add(1, std::memory_order_release);
    }
}

void WorkerTeam::barrier() {
    const uint32_t phase = phase_.load(std::memory_order_acquire);
    if (arrived_.fetch_add(1, std::memory_order_acq_rel) == active_ - 1) {
        arrived_.store(0, std::memory_order_relaxed);
        phase_.store(phase + 1, std::memory_order_seq_cst);
        // A sleeper counted itself before it checked phase_ under the lock, so it is either seen here or it saw
        // the new phase; the lock orders the notify after its wait began.
        if (barrier_sleepers_.load(std::memory_order_seq_cst) > 0) {
            { std::lock_guard<std::mutex> lock(mutex_); }
            barrier_wake_.notify_all();
        }
        return;
    }
    const auto passed = [&] { return phase_.load(std::memory_order_seq_cst) != phase; };
    if (spin_pausing(passed)) {
        return;
    }
    // A long wait: timed (for congested()), and blocking after barrier_spin.
    const auto start = std::chrono::steady_clock::now();
    if (!spin_yielding(passed, start + barrier_spin)) {
        std::unique_lock<std::mutex> lock(mutex_);
        barrier_sleepers_.fetch_add(1, std::memory_order_seq_cst);
        barrier_wake_.wait(lock, passed);
        barrier_sleepers_.fetch_sub(1, std::memory_order_relaxed);
    }
    const auto waited = std::chrono::steady_clock::now() - start;
    long_waits_.fetch_add(std::chrono::duration_cast<std::chrono::nanoseconds>(waited).count(),
                          std::memory_order_relaxed);
}

}  // namespace fusedrnn
