using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace FusedRnn.Backends.Managed;

/// <summary>
/// The managed backend's worker threads, one pool per process (<see cref="Process"/>): a multi-threaded call hires idle
/// workers through its workspace's <see cref="WorkerTeam"/> and gives them back when it returns, so however many models
/// and workspaces run at once, no more than <see cref="Limit"/> workers compute for them. A call that finds fewer idle
/// than it wants runs on fewer participants (the split never changes a result). Workers start when a call first finds
/// none idle and are background threads that live as long as the process. The native library has a pool of its own,
/// with the same rule.
/// </summary>
internal sealed class WorkerPool(int limit)
{
    private readonly object _lock = new();
    private readonly Stack<PoolWorker> _idle = new();
    private int _started;
    private int _busy;

    /// <summary>The process's pool: one worker fewer than <see cref="ManagedBackend.ThreadLimit"/> (each call's caller is a participant too).</summary>
    public static WorkerPool Process { get; } = new(ManagedBackend.ThreadLimit - 1);

    /// <summary>The most workers that run calls at once.</summary>
    public int Limit { get; } = limit;

    /// <summary>Workers started so far.</summary>
    public int Started
    {
        get
        {
            lock (_lock) return _started;
        }
    }

    /// <summary>
    /// Moves up to <paramref name="wanted"/> idle workers into <paramref name="hired"/>, starting new ones while fewer
    /// than <see cref="Limit"/> are hired; returns how many. The last given back come first, so a workspace's calls keep
    /// meeting the same threads. <paramref name="beyondLimit"/> (tests that check a split) always gets all it wants.
    /// </summary>
    public int Hire(int wanted, bool beyondLimit, PoolWorker[] hired)
    {
        Debug.Assert(wanted <= hired.Length, "more workers wanted than the array holds");
        int count = 0;
        lock (_lock)
        {
            while (count < wanted && (beyondLimit || _busy < Limit))
            {
                if (!_idle.TryPop(out PoolWorker? worker))
                {
                    worker = new PoolWorker($"FusedRnn managed worker {++_started}");
                }

                hired[count++] = worker;
                _busy++;
            }
        }

        return count;
    }

    /// <summary>Gives back the first <paramref name="count"/> workers of <paramref name="hired"/> and clears them there.</summary>
    public void GiveBack(PoolWorker[] hired, int count)
    {
        lock (_lock)
        {
            // In reverse, so that the next Hire takes them in the order this one did.
            for (int i = count - 1; i >= 0; i--)
            {
                _idle.Push(hired[i]);
                hired[i] = null!;
            }

            _busy -= count;
        }
    }
}

/// <summary>
/// One thread of a <see cref="WorkerPool"/>, with its own mailbox: a team posts a participant of its running call and
/// the thread runs it. Between calls it spins for <see cref="IdleSpin"/> (back-to-back calls then start without a
/// wake-up), then blocks on a monitor, so idle workers burn no CPU. It holds a team only while it runs the team's job,
/// so a workspace that is dropped without being disposed is still collected.
/// </summary>
internal sealed class PoolWorker
{
    /// <summary>How long an idle worker spins before it blocks.</summary>
    private static readonly TimeSpan IdleSpin = TimeSpan.FromMilliseconds(1);

    private readonly object _wake = new();
    private int _posted;
    private int _sleeping;
    private WorkerTeam? _team;
    private int _participant;

    public PoolWorker(string name)
    {
        Thread = new Thread(Loop) { IsBackground = true, Name = name };
        Thread.Start();
    }

    /// <summary>The worker's thread (tests count them).</summary>
    internal Thread Thread { get; }

    /// <summary>Hands participant <paramref name="participant"/> of <paramref name="team"/>'s running call to this worker.</summary>
    public void Post(WorkerTeam team, int participant)
    {
        _team = team;
        _participant = participant;
        // Interlocked: a full fence between publishing the job and reading _sleeping (the worker fences the other way).
        Interlocked.Increment(ref _posted);
        if (Volatile.Read(ref _sleeping) != 0)
        {
            lock (_wake) Monitor.Pulse(_wake);
        }
    }

    private void Loop()
    {
        int seen = 0;
        while (true)
        {
            seen = WaitForPost(seen);
            RunPosted();
        }
    }

    /// <summary>Not inlined so that no reference to the team outlives the job on the worker's stack.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void RunPosted()
    {
        WorkerTeam team = _team!;
        _team = null;
        team.Work(_participant);
    }

    private int WaitForPost(int seen)
    {
        long start = Stopwatch.GetTimestamp();
        var spin = default(SpinWait);
        while (Volatile.Read(ref _posted) == seen)
        {
            if (Stopwatch.GetElapsedTime(start) < IdleSpin)
            {
                spin.SpinOnce(sleep1Threshold: -1);
                continue;
            }

            lock (_wake)
            {
                Interlocked.Increment(ref _sleeping);
                while (Volatile.Read(ref _posted) == seen) Monitor.Wait(_wake);
                Interlocked.Decrement(ref _sleeping);
            }
        }

        return Volatile.Read(ref _posted);
    }
}
