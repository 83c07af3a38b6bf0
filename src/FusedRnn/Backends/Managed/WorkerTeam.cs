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
/// <para>
/// Participants that spend much of a call waiting at barriers are not getting their cores (other processes want the
/// CPUs): the team then advises running the next calls on the caller alone (<see cref="Congested"/>; the split never
/// changes a result), for a number of calls that doubles while it lasts. The native library's team does the same.
/// </para>
/// </summary>
internal sealed class WorkerTeam
{
    /// <summary>How long an idle worker spins before it blocks.</summary>
    private static readonly TimeSpan IdleSpin = TimeSpan.FromMilliseconds(1);

    /// <summary>How long a participant spins at a barrier before it yields (not counted as a long wait).</summary>
    private static readonly long BarrierSpinTicks = Stopwatch.Frequency / 50_000; // 20 µs

    /// <summary>
    /// How long it then yields before it blocks: a step takes microseconds, so a far longer wait means the participant
    /// it waits for has lost its core.
    /// </summary>
    private static readonly long BarrierYieldTicks = Stopwatch.Frequency / 20_000; // 50 µs

    /// <summary>The longest stretch of calls run alone after a congested one, before threads are tried again.</summary>
    private const int MaxCallsAlone = 1024;

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
    private readonly object _barrierWake = new();
    private int _barrierSleepers;

    // Congestion: Stopwatch ticks spent in long barrier waits in the current call; calls left to run alone and the
    // length of the next such stretch (caller only).
    private long _longWaitTicks;
    private int _callsAloneLeft;
    private int _nextCallsAlone = 1;

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
        long start = Stopwatch.GetTimestamp();
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
            Interlocked.Exchange(ref _longWaitTicks, 0);
            throw new InvalidOperationException("a managed worker thread failed", failure);
        }

        AdviseOnCongestion(Stopwatch.GetTimestamp() - start, participants);
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

    /// <summary>Ends the workers (they finish the job they are running first). Safe from a finalizer.</summary>
    public void Stop()
    {
        _stopping = true;
        Interlocked.Increment(ref _generation);
        lock (_wake) Monitor.PulseAll(_wake);
    }

    /// <summary>Records the first failure and wakes the participants blocked at a barrier, which then give up.</summary>
    private void Fail(Exception e)
    {
        Interlocked.CompareExchange(ref _failure, e, null);
        lock (_barrierWake) Monitor.PulseAll(_barrierWake);
    }

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
