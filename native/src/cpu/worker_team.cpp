#include "cpu/worker_team.h"

#include "cpu/cpu_topology.h"

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

PooledWorker::PooledWorker() : thread_([this] { main(); }) {}

PooledWorker::~PooledWorker() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stopping_ = true;
        posted_.fetch_add(1, std::memory_order_release);
    }
    wake_.notify_one();
    thread_.join();
}

void PooledWorker::post(WorkerTeam& team, int participant) {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        team_ = &team;
        participant_ = participant;
        posted_.fetch_add(1, std::memory_order_release);
    }
    wake_.notify_one();
}

void PooledWorker::main() {
    uint64_t seen = 0;
    for (;;) {
        const auto changed = [&] { return posted_.load(std::memory_order_acquire) != seen; };
        if (!spin_until(changed, idle_spin)) {
            std::unique_lock<std::mutex> lock(mutex_);
            wake_.wait(lock, changed);
        }
        WorkerTeam* team = nullptr;
        int participant = 0;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            seen = posted_.load(std::memory_order_relaxed);
            if (stopping_) {
                return;
            }
            team = team_;
            participant = participant_;
            team_ = nullptr;
        }
        team->work(participant);
    }
}

WorkerPool& WorkerPool::process() {
    // Never destroyed: at exit another thread may still be inside a call, and the workers then end with the process.
    static WorkerPool* const pool = new WorkerPool(thread_limit() - 1);
    return *pool;
}

int WorkerPool::hire(int wanted, std::vector<PooledWorker*>& hired) {
    std::lock_guard<std::mutex> lock(mutex_);
    while (static_cast<int>(hired.size()) < wanted) {
        if (idle_.empty()) {
            if (static_cast<int>(workers_.size()) >= limit_) {
                break;
            }
            try {
                workers_.push_back(std::make_unique<PooledWorker>());
            } catch (const std::exception&) {
                break;  // no thread to be had (std::system_error, std::bad_alloc): the call runs on fewer
            }
            idle_.push_back(workers_.back().get());
        }
        hired.push_back(idle_.back());
        idle_.pop_back();
    }
    return static_cast<int>(hired.size());
}

void WorkerPool::give_back(std::vector<PooledWorker*>& hired) {
    if (hired.empty()) {
        return;
    }
    {
        std::lock_guard<std::mutex> lock(mutex_);
        // In reverse, so that the next hire() takes them in the order this one did.
        idle_.insert(idle_.end(), hired.rbegin(), hired.rend());
    }
    hired.clear();
}

int WorkerPool::started() {
    std::lock_guard<std::mutex> lock(mutex_);
    return static_cast<int>(workers_.size());
}

int WorkerTeam::hire(int wanted) {
    dismiss();
    hired_.reserve(static_cast<std::size_t>(wanted - 1));  // once per size: steady calls do not allocate
    pool_.hire(wanted - 1, hired_);
    return size();
}

void WorkerTeam::run_erased(void* context, JobFn function) {
    const auto start = std::chrono::steady_clock::now();
    const int workers = static_cast<int>(hired_.size());
    participants_ = workers + 1;
    finished_.store(0, std::memory_order_relaxed);
    job_context_ = context;
    job_function_ = function;
    // post() publishes the job (its mutex orders these stores before the worker reads them).
    for (int worker = 0; worker < workers; ++worker) {
        hired_[static_cast<std::size_t>(worker)]->post(*this, worker + 1);
    }
    function(context, 0);
    // The workers finish a few stores after the job's last barrier: not worth blocking for.
    const auto all_finished = [&] { return finished_.load(std::memory_order_acquire) == workers; };
    while (!spin_until(all_finished, idle_spin)) {
    }
    dismiss();
    // Participants that waited at barriers for more than a quarter of their time were not getting their cores
    // (or the split does not pay).
    const auto elapsed = std::chrono::steady_clock::now() - start;
    const auto waited = std::chrono::nanoseconds(long_waits_.exchange(0, std::memory_order_relaxed));
    if (waited * 4 > elapsed * participants_) {
        calls_alone_left_ = next_calls_alone_;
        next_calls_alone_ = std::min(next_calls_alone_ * 2, max_calls_alone);
    } else {
        next_calls_alone_ = 1;
    }
}

void WorkerTeam::work(int participant) {
    job_function_(job_context_, participant);
    finished_.fetch_add(1, std::memory_order_release);
}

bool WorkerTeam::congested() {
    if (calls_alone_left_ == 0) {
        return false;
    }
    --calls_alone_left_;
    return true;
}

void WorkerTeam::barrier() {
    const uint32_t phase = phase_.load(std::memory_order_acquire);
    if (arrived_.fetch_add(1, std::memory_order_acq_rel) == participants_ - 1) {
        arrived_.store(0, std::memory_order_relaxed);
        phase_.store(phase + 1, std::memory_order_seq_cst);
        // A sleeper counted itself before it checked phase_ under the lock, so it is either seen here or it saw
        // the new phase; the lock orders the notify after its wait began.
        if (barrier_sleepers_.load(std::memory_order_seq_cst) > 0) {
            { std::lock_guard<std::mutex> lock(barrier_mutex_); }
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
        std::unique_lock<std::mutex> lock(barrier_mutex_);
        barrier_sleepers_.fetch_add(1, std::memory_order_seq_cst);
        barrier_wake_.wait(lock, passed);
        barrier_sleepers_.fetch_sub(1, std::memory_order_relaxed);
    }
    const auto waited = std::chrono::steady_clock::now() - start;
    long_waits_.fetch_add(std::chrono::duration_cast<std::chrono::nanoseconds>(waited).count(),
                          std::memory_order_relaxed);
}

}  // namespace fusedrnn
