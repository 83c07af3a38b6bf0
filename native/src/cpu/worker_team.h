// Worker threads for multi-threaded calls (DeepCPU-style recurrence: each participant owns a slice of hidden units
// for a whole forward call and the participants meet at a spin barrier after every time step, or owns a range of
// batch rows and meets nobody; nothing is dispatched per step).
//
// The threads belong to one pool per process (WorkerPool), not to a workspace: a call hires idle workers for its
// duration and gives them back when it returns, so any number of models and workspaces never run more workers than
// the pool holds (the thread limit less one: every call's caller is a participant too). A call that finds fewer
// workers idle than it wants runs on fewer participants; the split never changes a result.
//
// A WorkerTeam is what one workspace keeps between its calls: the barrier, the congestion advice, and the workers
// hired for the running call. Between calls a worker spins for a short while (back-to-back calls, e.g. streaming
// steps, find it awake) and then blocks, so an idle pool costs no CPU. Participants that spend much of a call
// waiting at barriers are not getting their cores (other processes want the CPUs): the team then advises running
// the next calls on the caller alone, for a number of calls that doubles while it lasts.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace fusedrnn {

// [begin, end) of some index: time steps, batch rows, unit blocks.
struct Range {
    int64_t begin;
    int64_t end;

    int64_t size() const { return end - begin; }
    bool operator==(const Range& other) const { return begin == other.begin && end == other.end; }
};

// `count` items for one of `parts` participants, in contiguous, balanced ranges.
inline Range share(int64_t count, int participant, int parts) {
    return {count * participant / parts, count * (participant + 1) / parts};
}

class WorkerTeam;

#if defined(_MSC_VER)
#pragma warning(push)
#pragma warning(disable : 4324)  // padded for alignas: the point of alignas here
#endif

// One thread of the pool, with its own mailbox: a team posts (team, participant) and the thread runs it.
class PooledWorker {
public:
    PooledWorker();  // starts the thread; throws std::system_error if it cannot
    ~PooledWorker();  // wakes and joins it (only the pool destroys workers, when none is hired)

    PooledWorker(const PooledWorker&) = delete;
    PooledWorker& operator=(const PooledWorker&) = delete;

    // Hands participant `participant` of `team`'s running call to this worker.
    void post(WorkerTeam& team, int participant);

private:
    void main();

    std::mutex mutex_;
    std::condition_variable wake_;
    alignas(64) std::atomic<uint64_t> posted_{0};  // changes under mutex_, so a worker going to sleep cannot miss it
    WorkerTeam* team_ = nullptr;  // under mutex_
    int participant_ = 0;  // under mutex_
    bool stopping_ = false;  // under mutex_
    std::thread thread_;  // last: started once the members above exist
};

// Workers for teams to hire: at most limit() of them, each started when a call first finds none idle. The process's
// pool lives until the process exits (tests make pools of their own, whose destructor joins their workers).
class WorkerPool {
public:
    explicit WorkerPool(int limit) : limit_(limit) {}
    ~WorkerPool() = default;  // joins every worker; none may be hired

    WorkerPool(const WorkerPool&) = delete;
    WorkerPool& operator=(const WorkerPool&) = delete;

    // The pool of this process: thread_limit() - 1 workers (cpu_topology.h).
    static WorkerPool& process();

    // Moves up to `wanted` idle workers into `hired` (starting new ones while the pool has fewer than limit());
    // returns how many. The most recently given back come first, so a workspace's calls keep meeting the same
    // threads (and the weights each one left in its core's cache).
    int hire(int wanted, std::vector<PooledWorker*>& hired);
    // Gives back the workers hire() moved into `hired`, and empties it.
    void give_back(std::vector<PooledWorker*>& hired);

    int limit() const { return limit_; }
    // Workers started so far.
    int started();

private:
    const int limit_;
    std::mutex mutex_;
    std::vector<std::unique_ptr<PooledWorker>> workers_;  // every worker started
    std::vector<PooledWorker*> idle_;  // a stack: the last given back on top
};

class WorkerTeam {
public:
    // Hires from `pool` (tests pass their own).
    explicit WorkerTeam(WorkerPool& pool = WorkerPool::process()) : pool_(pool) {}
    ~WorkerTeam() { dismiss(); }

    WorkerTeam(const WorkerTeam&) = delete;
    WorkerTeam& operator=(const WorkerTeam&) = delete;

    // Hires workers for the next run(): up to wanted - 1, as many as the pool has idle. Returns the participants the
    // call will have, the caller included (1 when none was idle).
    int hire(int wanted);

    // Runs job(participant) on the caller (participant 0) and the hired workers, returns when all have returned, and
    // gives the workers back. One call at a time (a workspace is used by one thread at a time); job must not throw.
    template <class Job>
    void run(Job& job) {
        run_erased(&job, [](void* context, int participant) { (*static_cast<Job*>(context))(participant); });
    }

    // Gives back the hired workers without running anything (a call that failed after hire()); a no-op when none.
    void dismiss() { pool_.give_back(hired_); }

    // The participants of the running (or next) call: the caller and the hired workers.
    int size() const { return static_cast<int>(hired_.size()) + 1; }

    // Inside a job: waits until every participant has arrived. Spins (time steps are microseconds apart), then
    // yields, then blocks, so that more participants than free cores still make progress.
    void barrier();

    // Whether the caller should run this call alone because recent calls found the cores busy elsewhere. Called
    // once per forward call, by the caller.
    bool congested();

private:
    friend class PooledWorker;
    using JobFn = void (*)(void* context, int participant);

    void run_erased(void* context, JobFn function);
    // A worker's part of the running call; the team may be gone once it has counted itself finished.
    void work(int participant);

    WorkerPool& pool_;
    std::vector<PooledWorker*> hired_;
    void* job_context_ = nullptr;
    JobFn job_function_ = nullptr;
    alignas(64) std::atomic<int> finished_{0};
    // Barrier: the last of size() arrivals resets arrived_ and advances phase_ (and wakes the sleepers).
    alignas(64) std::atomic<int> arrived_{0};
    alignas(64) std::atomic<uint32_t> phase_{0};
    std::atomic<int> barrier_sleepers_{0};
    int participants_ = 1;  // of the running call, for the barrier
    std::mutex barrier_mutex_;
    std::condition_variable barrier_wake_;
    // Congestion: nanoseconds spent in barrier waits longer than the pause phase, in the current call; calls left
    // to run alone and the length of the next such stretch (caller only).
    std::atomic<int64_t> long_waits_{0};
    int calls_alone_left_ = 0;
    int next_calls_alone_ = 1;
};

// Gives a team's hired workers back when a call leaves before (or without) running them.
class DismissOnExit {
public:
    explicit DismissOnExit(WorkerTeam* team) : team_(team) {}
    ~DismissOnExit() {
        if (team_ != nullptr) {
            team_->dismiss();
        }
    }
    DismissOnExit(const DismissOnExit&) = delete;
    DismissOnExit& operator=(const DismissOnExit&) = delete;

private:
    WorkerTeam* team_;
};

#if defined(_MSC_VER)
#pragma warning(pop)
#endif

}  // namespace fusedrnn
