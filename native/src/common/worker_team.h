// Persistent worker threads of one workspace (DeepCPU-style recurrence: each participant owns a slice of
// hidden units for a whole forward call and the participants meet at a spin barrier after every time step, or
// owns a range of batch rows and meets nobody; nothing is dispatched per step). The caller is participant 0, so
// a team of P participants has P-1 threads; a call may use fewer of them.
// Between calls the workers spin for a short while (back-to-back calls, e.g. streaming steps, find them awake)
// and then block on a condition variable, so an idle workspace costs no CPU.
// Participants that spend much of a call waiting at barriers are not getting their cores (other processes want
// the CPUs): the team then advises running the next calls on the caller alone (the split never changes a
// result), for a number of calls that doubles while it lasts.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
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

#if defined(_MSC_VER)
#pragma warning(push)
#pragma warning(disable : 4324)  // padded for alignas: the point of alignas here
#endif
class WorkerTeam {
public:
    // Starts participants - 1 threads; throws std::system_error if it cannot.
    explicit WorkerTeam(int participants);
    ~WorkerTeam();  // wakes and joins the workers

    WorkerTeam(const WorkerTeam&) = delete;
    WorkerTeam& operator=(const WorkerTeam&) = delete;

    // Runs job(participant) on participants 0 .. active-1 (active <= size()), the caller as 0, and returns when
    // all have returned. One call at a time (a workspace is used by one thread at a time); job must not throw.
    template <class Job>
    void run(Job& job, int active) {
        run_erased(&job, [](void* context, int participant) { (*static_cast<Job*>(context))(participant); }, active);
    }

    // The caller and the worker threads.
    int size() const { return participants_; }

    // Inside a job: waits until every active participant has arrived. Spins (time steps are microseconds apart), then
    // yields, then blocks, so that more participants than free cores still make progress.
    void barrier();

    // Whether the caller should run this call alone because recent calls found the cores busy elsewhere. Called
    // once per forward call, by the caller.
    bool congested();

private:
    using JobFn = void (*)(void* context, int participant);

    void run_erased(void* context, JobFn function, int active);
    void stop_and_join();
    void worker_main(int participant);

    const int participants_;
    // Job hand-off: generation_ changes under mutex_ (so a worker going to sleep cannot miss it).
    std::mutex mutex_;
    std::condition_variable wake_;
    std::atomic<uint64_t> generation_{0};
    bool stopping_ = false;  // under mutex_; read by workers once generation_ changed
    void* job_context_ = nullptr;
    JobFn job_function_ = nullptr;
    int active_ = 0;  // participants of the current job; set with the job, before generation_ changes
    alignas(64) std::atomic<int> finished_{0};
    // Barrier: the last of active_ arrivals resets arrived_ and advances phase_ (and wakes the sleepers).
    alignas(64) std::atomic<int> arrived_{0};
    alignas(64) std::atomic<uint32_t> phase_{0};
    std::atomic<int> barrier_sleepers_{0};
    std::condition_variable barrier_wake_;
    // Congestion: nanoseconds spent in barrier waits longer than the pause phase, in the current call; calls left
    // to run alone and the length of the next such stretch (caller only).
    std::atomic<int64_t> long_waits_{0};
    int calls_alone_left_ = 0;
    int next_calls_alone_ = 1;
    std::vector<std::thread> threads_;
};
#if defined(_MSC_VER)
#pragma warning(pop)
#endif

}  // namespace fusedrnn
