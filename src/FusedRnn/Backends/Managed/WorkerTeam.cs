using System.Diagnostics;

namespace FusedRnn.Backends.Managed;

/// <summary>
/// What one workspace keeps between its multi-threaded calls (DeepCPU style): the workers hired from a
/// <see cref="WorkerPool"/> for the next call (<see cref="Hire"/>), the barrier the participants meet at
/// (<see cref="SignalAndWait"/>), and the congestion advice. <see cref="Run"/> runs a job on the caller (participant 0)
/// and the hired workers at once, then gives the workers back. No task or thread-pool dispatch per call or per step.
/// <para>
/// Participants that spend much of a call waiting at barriers are not getting their cores (other processes want the
/// CPUs): the team then advises running the next calls on the caller alone (<see cref="Congested"/>; the split never
/// changes a result), for a number of calls that doubles while it lasts. The native library's team does the same.
/// </para>
/// </summary>
internal sealed class WorkerTeam(WorkerPool pool)
{
    /// <summary>How long a participant spins at a barrier before it yields (not counted as a long wait).</summary>
    private static readonly long BarrierSpinTicks = Stopwatch.Frequency / 50_000; // 20 µs

    /// <summary>
    /// How long it then yields before it blocks: a step takes microseconds, so a far longer wait means the participant
    /// it waits for has lost its core.
    /// </summary>
    private static readonly long BarrierYieldTicks = Stopwatch.Frequency / 20_000; // 50 µs

    /// <summary>The longest stretch of calls run alone after a congested one, before threads are tried again.</summary>
    private const int MaxCallsAlone = 1024;

    private PoolWorker[] _hired = [];
    private int _hiredCount;
    private Action<int>? _job;
    private Exception? _failure;
    private int _running;
    private int _participants = 1;

    // The barrier: participants still to arrive, and the phase that flips when the last one does.
    private int _remaining;
    private volatile int _phase;
    private readonly object _barrierWake = new();
    private int _barrierSleepers;

    // Congestion: Stopwatch ticks spent in long barrier waits in the current call; calls left to run alone and the
    // length of the next such stretch (caller only).
    private long _longWaitTicks;
    private int _callsAloneLeft;
    private int _nextCallsAlone = 1;

    /// <summary>The participants of the next <see cref="Run"/>: the caller and the hired workers.</summary>
    public int Size => _hiredCount + 1;

    /// <summary>The hired workers' threads (tests check them).</summary>
    internal IEnumerable<Thread> HiredThreads => _hired.Take(_hiredCount).Select(worker => worker.Thread);

    /// <summary>
    /// Hires workers for the next <see cref="Run"/>: up to <paramref name="wanted"/> − 1, as many as the pool has idle
    /// (all of them when <paramref name="beyondPoolLimit"/>). Returns the participants the call will have, the caller
    /// included (1 when none was idle).
    /// </summary>
    public int Hire(int wanted, bool beyondPoolLimit = false)
    {
        Dismiss();
        if (_hired.Length < wanted - 1) _hired = new PoolWorker[wanted - 1];
        _hiredCount = pool.Hire(wanted - 1, beyondPoolLimit, _hired);
        return Size;
    }

    /// <summary>Gives back the hired workers without running anything (a call that failed after <see cref="Hire"/>); a no-op when none.</summary>
    public void Dismiss()
    {
        if (_hiredCount == 0) return;
        pool.GiveBack(_hired, _hiredCount);
        _hiredCount = 0;
    }

    /// <summary>
    /// Runs <paramref name="job"/>(participant) on the caller and the hired workers, returns when all are done, and gives
    /// the workers back.
    /// </summary>
    public void Run(Action<int> job)
    {
        long start = Stopwatch.GetTimestamp();
        int workers = _hiredCount;
        _job = job;
        _participants = workers + 1;
        _remaining = _participants;
        _running = workers;
        for (int i = 0; i < workers; i++) _hired[i].Post(this, i + 1);

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
        Dismiss();
        if (_failure is { } failure)
        {
            _failure = null;
            Interlocked.Exchange(ref _longWaitTicks, 0);
            throw new InvalidOperationException("a managed worker thread failed", failure);
        }

        AdviseOnCongestion(Stopwatch.GetTimestamp() - start, _participants);
    }

    /// <summary>A worker's part of the running call; the team is not touched once the worker has counted itself done.</summary>
    internal void Work(int participant)
    {
        try
        {
            _job!(participant);
        }
        catch (Exception e)
        {
            Fail(e);
        }
        finally
        {
            Interlocked.Decrement(ref _running);
        }
    }

    /// <summary>
    /// Whether the caller should run this call alone because recent calls found the cores busy elsewhere. Called once
    /// per call, by the caller, before it decides the split.
    /// </summary>
    public bool Congested()
    {
        if (_callsAloneLeft == 0) return false;
        _callsAloneLeft--;
        return true;
    }

    /// <summary>
    /// Participants that waited at barriers for more than a quarter of their time were not getting their cores (or
    /// the split does not pay): the next calls run alone, a stretch twice as long as the last while it lasts.
    /// </summary>
    private void AdviseOnCongestion(long elapsedTicks, int participants)
    {
        long waited = Interlocked.Exchange(ref _longWaitTicks, 0);
        if (waited * 4 > elapsedTicks * participants)
        {
            _callsAloneLeft = _nextCallsAlone;
            _nextCallsAlone = int.Min(_nextCallsAlone * 2, MaxCallsAlone);
        }
        else
        {
            _nextCallsAlone = 1;
        }
    }

    /// <summary>
    /// Waits until every participant has reached this point (one call per participant per phase). Spins for
    /// <see cref="BarrierSpinTicks"/> (steps are microseconds apart), then yields for <see cref="BarrierYieldTicks"/>,
    /// then blocks, so that more participants than free cores still make progress; the time past the spin counts
    /// towards <see cref="Congested"/>.
    /// </summary>
    public void SignalAndWait()
    {
        int phase = _phase;
        if (Interlocked.Decrement(ref _remaining) == 0)
        {
            _remaining = _participants;
            // Interlocked: a full fence between the new phase and reading _barrierSleepers (a sleeper fences the other
            // way, and the lock orders the pulse after its wait began).
            Interlocked.Exchange(ref _phase, phase + 1);
            if (Volatile.Read(ref _barrierSleepers) > 0)
            {
                lock (_barrierWake) Monitor.PulseAll(_barrierWake);
            }

            return;
        }

        // Spin first, for as long as the native team's 1024 pauses take: a participant that arrives within that is
        // running, only later (or never) and it has lost its core.
        long spinStart = Stopwatch.GetTimestamp();
        while (_phase == phase)
        {
            if (Stopwatch.GetTimestamp() - spinStart >= BarrierSpinTicks) break;
            ThrowIfAnotherFailed();
            Thread.SpinWait(8);
        }

        if (_phase != phase) return;
        long start = Stopwatch.GetTimestamp();
        while (_phase == phase)
        {
            ThrowIfAnotherFailed();
            if (Stopwatch.GetTimestamp() - start < BarrierYieldTicks)
            {
                Thread.Yield();
                continue;
            }

            lock (_barrierWake)
            {
                Interlocked.Increment(ref _barrierSleepers);
                while (_phase == phase && Volatile.Read(ref _failure) is null) Monitor.Wait(_barrierWake);
                Interlocked.Decrement(ref _barrierSleepers);
            }
        }

        Interlocked.Add(ref _longWaitTicks, Stopwatch.GetTimestamp() - start);
    }

    private void ThrowIfAnotherFailed()
    {
        if (Volatile.Read(ref _failure) is not null) throw new OperationCanceledException("another participant failed");
    }

    /// <summary>Records the first failure and wakes the participants blocked at a barrier, which then give up.</summary>
    private void Fail(Exception e)
    {
        Interlocked.CompareExchange(ref _failure, e, null);
        lock (_barrierWake) Monitor.PulseAll(_barrierWake);
    }
}
