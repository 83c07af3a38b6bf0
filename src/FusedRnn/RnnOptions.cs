namespace FusedRnn;

/// <summary>How a module or cell runs (the weights say what it computes).</summary>
public sealed record RnnOptions
{
    /// <summary>The default: the fastest available backend, time-major data.</summary>
    public static RnnOptions Default { get; } = new();

    /// <summary><c>managed</c>, <c>cpu</c>, <c>cuda</c> or <c>auto</c> (the fastest available; the default).</summary>
    public string Backend { get; init; } = RnnBackends.Auto;

    /// <summary>What the kernels compute in: <see cref="RnnPrecision.Float32"/> (the default) or the exact <see cref="RnnPrecision.Float64"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is not an <see cref="RnnPrecision"/>.</exception>
    public RnnPrecision Precision
    {
        get;
        init => field = Enum.IsDefined(value) ? value : throw new ArgumentOutOfRangeException(nameof(Precision), value, "precision must be Float32 or Float64");
    }

    /// <summary>Whether x and y are <c>[B, T, F]</c> instead of <c>[T, B, F]</c> (PyTorch's <c>batch_first</c>).</summary>
    public bool BatchFirst { get; init; }

    /// <summary>
    /// Threads a forward call may use, the caller's included; 0 (the default) is one per physical core (SMT siblings
    /// count once; read from Linux's sysfs CPU topology, the logical processors where that is unreadable), 1 runs on
    /// the calling thread alone. More than the machine's logical processors is capped to that number (or to
    /// <c>FUSEDRNN_THREAD_LIMIT</c>, 1..1024, where that environment variable is set). The cpu and
    /// managed backends share a call by one rule: a step under 32K multiply-adds runs on the caller alone, where a
    /// per-step barrier would cost more than it saves; above it the threads split the hidden units (each keeps its
    /// slice of the weights in its own cache), or the batch rows in groups of 4, where there are at least two groups
    /// and either the weights fit every core's cache or there are more groups than unit blocks to share. A model with a
    /// projection splits only rows. A call may use fewer threads than this: no more than it has blocks or groups, and no
    /// more workers than are idle in the backend's pool, one per process of one fewer than the cap above, that every
    /// model's calls hire from (so many models together never run more threads than the cores, besides their callers).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is negative.</exception>
    public int Threads
    {
        get;
        init => field = value >= 0 ? value : throw new ArgumentOutOfRangeException(nameof(Threads), value, "thread count cannot be negative (0 = backend default)");
    }

    /// <summary>
    /// Lets the managed backend run more participants than this machine has logical processors (tests use it to cover
    /// the splits of bigger machines on a small one).
    /// </summary>
    internal bool OversubscribeThreads { get; init; }

    /// <summary>Caps the managed kernels' vector width (tests use it to cover every path in one process).</summary>
    internal Backends.Managed.SimdLevel? ManagedSimdLevel { get; init; }
}
