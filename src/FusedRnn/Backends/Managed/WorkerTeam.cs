using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace FusedRnn.Backends.Managed;

/// <summary>
/// Persistent worker threads for one workspace (DeepCPU style): <see cref="Run"/> runs a job on the caller (participant
/// 0) and workers 1..P−1 at once, P up to <see cref="Size"/> (the rest sit the call out); inside it the participants meet
/// at <see cref="SignalAndWait"/>, a spinning barrier. No task or thread-pool dispatch per call or per step.
/// <para>
/// Between calls a worker spins for <see cref="IdleSpin"/> (back-to-back calls then start without a wake-up), then
/// blocks on a monitor so idle workers burn no CPU. Workers are background threads that hold only this team — never
/// the job between calls — so a workspace that is finalized rather than disposed can still stop them.
/// </para>
/// </summary>
internal sealed class WorkerTeam
{
    /// <summary>How long an idle worker spins before it blocks.</summary>
    private static readonly TimeSpan IdleSpin = TimeSpan.FromMilliseconds(1);

    private readonly Thread[] _workers;
    private readonly object _wake = new();
    private Action<int>? _job;
    private Exception? _failure;
    private int _generation;
    private int _sleepers;
    private int _running;
    private int _participants;
    private volatile bool _stopping;

    // The barrier: participants still to arrive, and the phase that flips when the last one does.
    private int _remaining;
    private volatile int _phase;

    public WorkerTeam(int size)
    {
        Size = size;
        _workers = new Thread[size - 1];
        for (int i = 0; i < _workers.Length; i++)
        {
            int participant = i + 1;
            _workers[i] = new Thread(() => WorkerLoop(participant)) { IsBackground = true, Name = $"FusedRnn managed worker {participant}" };
            _workers[i].Start();
        }
    }

    /// <summary>The caller plus the workers: the most participants a call can have.</summary>
    public int Size { get; }

    /// <summary>The worker threads (tests check that they end).</summary>
    internal IReadOnlyList<Thread> Workers => _workers;

    /// <summary>Runs <paramref name="job"/>(participant) on participants 0..<paramref name="participants"/>−1 and returns when all are done.</summary>
    public void Run(Action<int> job, int participants)
    {
        Debug.Assert(participants >= 1 && participants <= Size, "more participants than the team has");
        _job = job;
        _participants = participants;
        _remaining = participants;
        _running = participants - 1;
        // Interlocked: a full fence between publishing the job and reading _sleepers (the workers fence the other way).
        Interlocked.Increment(ref _generation);
        if (Volatile.Read(ref _sleepers) > 0)
        {
            lock (_wake) Monitor.PulseAll(_wake);
        }

        try
        {
            job(0);
        }
        catch (Exception e)
        {
            Fail(e);
        }

        var spin = default(SpinWait);
        while (Volatile.Read(ref _running) > 0) spin.SpinOnce(sleep1Threshold: -1);
        _job = null;
        if (_failure is { } failure)
        {
            _failure = null;
            throw new InvalidOperationException("a managed worker thread failed", failure);
        }
    }

    /// <summary>Waits until every participant has reached this point (one call per participant per phase).</summary>
    public void SignalAndWait()
    {
        int phase = _phase;
        if (Interlocked.Decrement(ref _remaining) == 0)
        {
            _remaining = _participants;
            _phase = phase + 1;
            return;
        }

        // sleep1Threshold −1: spin, then yield, never sleep a whole millisecond inside a step.
        var spin = default(SpinWait);
        while (_phase == phase)
        {
            if (Volatile.Read(ref _failure) is not null) throw new OperationCanceledException("another participant failed");
            spin.SpinOnce(sleep1Threshold: -1);
        }
    }

    /// <summary>Ends the workers (they finish the job they are running first). Safe from a finalizer.</summary>
    public void Stop()
    {
        _stopping = true;
        Interlocked.Increment(ref _generation);
        lock (_wake) Monitor.PulseAll(_wake);
    }

    private void Fail(Exception e) => Interlocked.CompareExchange(ref _failure, e, null);

    private void WorkerLoop(int participant)
    {
        int seen = 0;
        while (true)
        {
            seen = WaitForWork(seen);
            if (_stopping) return;
            // Published before the generation that woke this worker (see Run).
            if (participant >= _participants) continue;
            RunJob(participant);
            Interlocked.Decrement(ref _running);
        }
    }

    /// <summary>Not inlined so that no reference to the job outlives it on the worker's stack.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void RunJob(int participant)
    {
        try
        {
            _job!(participant);
        }
        catch (Exception e)
        {
            Fail(e);
        }
    }

    private int WaitForWork(int seen)
    {
        long start = Stopwatch.GetTimestamp();
        var spin = default(SpinWait);
        while (Volatile.Read(ref _generation) == seen)
        {
            if (Stopwatch.GetElapsedTime(start) < IdleSpin)
            {
                spin.SpinOnce(sleep1Threshold: -1);
                continue;
            }

            lock (_wake)
            {
                Interlocked.Increment(ref _sleepers);
                while (Volatile.Read(ref _generation) == seen) Monitor.Wait(_wake);
                Interlocked.Decrement(ref _sleepers);
            }
        }

        return Volatile.Read(ref _generation);
    }
}
