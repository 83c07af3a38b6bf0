using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace FusedRnn.Backends.Managed;

/// <summary>
/// What a managed workspace holds besides its buffers: the running call's shape and row order, and the team through
/// which its multi-threaded calls hire workers of the process's <see cref="WorkerPool"/>. Workers read and write only
/// the workspace's arrays (never the caller's spans), so a call is shared between threads without pinning anything.
/// </summary>
internal abstract class ManagedWorkspace(RnnExecutor owner, int threads) : RnnWorkspace(owner)
{
    private WorkerTeam? _team;

    /// <summary>Batch rows sorted by length, longest first, so the rows still running are always a prefix.</summary>
    public int[] RowOrder = [];

    /// <summary>Length of each row of <see cref="RowOrder"/>.</summary>
    public int[] SortedLengths = [];

    /// <summary>What the running call computes; read by every participant.</summary>
    public CallShape Call;

    /// <summary>The executor's job for this workspace, made once so that calls allocate nothing.</summary>
    public Action<int>? Job;

    /// <summary>Threads a call may use, the caller's included.</summary>
    public int Threads { get; } = threads;

    /// <summary>The team, made by the first call that wants workers; null until then.</summary>
    internal WorkerTeam? Team => _team;

    /// <summary>
    /// Whether a call planned for P participants always runs on P: it ignores the congestion advice
    /// (<see cref="WorkerTeam.Congested"/>) and hires workers beyond the pool's limit. Tests that check how a call is
    /// split set it (a test runner's other tests keep the cores and the pool busy).
    /// </summary>
    internal bool SplitsAsPlanned { get; set; }

    /// <summary>
    /// The participants this call runs on, hiring their workers: <paramref name="planned"/>, fewer when the pool has
    /// fewer idle, or 1 while recent calls found the cores busy. The call then runs (<see cref="Run(int)"/>) or
    /// <see cref="Dismiss"/>es them.
    /// </summary>
    public int Hire(int planned)
    {
        if (planned == 1) return 1;
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        WorkerTeam team = _team ??= new WorkerTeam(WorkerPool.Process);
        if (!SplitsAsPlanned && team.Congested()) return 1;
        return team.Hire(planned, beyondPoolLimit: SplitsAsPlanned);
    }

    /// <summary>Gives back workers hired for a call that did not run them; a no-op otherwise.</summary>
    public void Dismiss() => _team?.Dismiss();

    /// <summary>The running dense layer's call (<see cref="ManagedDenseExecutor"/>); made on the first one that uses threads.</summary>
    internal DenseCall? Dense;

    /// <summary>Runs <see cref="Job"/> on the <paramref name="participants"/> <see cref="Hire"/> returned (1: the caller alone).</summary>
    public void Run(int participants) => Run(Job!, participants);

    /// <summary>Runs <paramref name="job"/> as <see cref="Run(int)"/> runs <see cref="Job"/>.</summary>
    public void Run(Action<int> job, int participants)
    {
        if (participants == 1)
        {
            job(0);
            return;
        }

        Debug.Assert(_team is not null && _team.Size == participants, "participants other than the hired ones");
        _team!.Run(job);
    }

    /// <summary>The per-step barrier; a no-op when the caller runs alone.</summary>
    public void SignalAndWait(int participants)
    {
        if (participants > 1) _team!.SignalAndWait();
    }

    public static void Grow(ref int[] buffer, int length)
    {
        if (buffer.Length < length) buffer = new int[length];
    }

    protected override void Dispose(bool disposing)
    {
        Interlocked.Exchange(ref _team, null)?.Dismiss();
        base.Dispose(disposing);
    }
}

/// <summary>
/// Grow-only scratch arrays of the managed kernels, of their element type <typeparamref name="T"/> (float for
/// <see cref="RnnPrecision.Float32"/>, double for Float64), sized by the largest call seen.
/// </summary>
internal sealed class ManagedWorkspace<T>(RnnExecutor owner, int threads) : ManagedWorkspace(owner, threads)
    where T : unmanaged
{
    /// <summary>The first layer's input, as <typeparamref name="T"/>.</summary>
    public T[] Input = [];

    /// <summary>Input projection of every time step of one layer, per direction: <c>[D][T·B, blocks·gates·width]</c>.</summary>
    public T[] Projection = [];

    /// <summary>Outputs of the two most recent layers, <c>[T, B, D·Hout]</c> each; the last layer's is rounded into y.</summary>
    public T[] LayerOutputA = [], LayerOutputB = [];

    /// <summary>
    /// h of every (layer, direction) and batch row in length order, twice: a step reads one copy and writes the
    /// other, so one barrier per step is enough. Rows are padded to whole vectors.
    /// </summary>
    public T[] Hidden = [];

    /// <summary>c of every (layer, direction) and batch row in length order.</summary>
    public T[] Cell = [];

    /// <summary>
    /// Unprojected LSTM output of every batch row, before <c>W_hr</c>; for the GRU with the reset before the product,
    /// r ⊙ h of every row.
    /// </summary>
    public T[] Unprojected = [];

    /// <summary>z of every batch row between the two passes of the GRU with the reset before the product.</summary>
    public T[] UpdateGates = [];

    /// <summary>Recurrent products of one tile (a few unit blocks) for a row group, one tile per participant.</summary>
    public T[] GateTiles = [];
}

/// <summary>
/// Sizes the scratch buffers of one call of <c>seq_len × batch</c> rows: refuses one that no array can hold, naming
/// the dimensions, and turns a failed allocation into an <see cref="InsufficientMemoryException"/> naming the bytes.
/// </summary>
internal readonly record struct WorkspaceSizes<T>(int SeqLen, int Batch)
    where T : unmanaged
{
    private static string ElementName => typeof(T) == typeof(float) ? "floats" : "doubles";

    /// <summary><paramref name="elements"/> elements for <paramref name="buffer"/> as an array length.</summary>
    /// <param name="buffer">What the buffer holds, for the message.</param>
    /// <param name="elements">Its size.</param>
    /// <param name="perStep">Whether it holds one step (its size does not grow with the sequence length).</param>
    /// <exception cref="ArgumentOutOfRangeException">More than <see cref="Array.MaxLength"/>; the parameter is the batch
    /// when one step alone is too large, else the sequence length.</exception>
    public int Require(string buffer, long elements, bool perStep = false)
    {
        if (elements <= Array.MaxLength) return (int)elements;
        bool oneStepTooLarge = perStep || elements / SeqLen > Array.MaxLength;
        throw new ArgumentOutOfRangeException(oneStepTooLarge ? "batch" : "seqLen", oneStepTooLarge ? Batch : SeqLen,
            $"seq_len {SeqLen} × batch {Batch} needs {elements} {ElementName} ({elements * (long)Unsafe.SizeOf<T>()} bytes) for {buffer}, more " +
            $"than one managed array holds ({Array.MaxLength} elements); split the batch or the sequence into smaller calls, or use the cpu backend");
    }

    /// <summary>Bytes that growing <paramref name="buffer"/> to <paramref name="length"/> elements allocates.</summary>
    public static long Growth(T[] buffer, int length) => buffer.Length >= length ? 0 : (long)length * Unsafe.SizeOf<T>();

    /// <summary>
    /// Refuses, before anything is allocated, a call whose new scratch memory exceeds what the process can still get.
    /// The GC would otherwise commit and zero it, and the kernel's OOM killer end the process before an
    /// <see cref="OutOfMemoryException"/> could be thrown.
    /// </summary>
    /// <param name="growthBytes">The bytes this call's buffers grow by.</param>
    /// <param name="projectionElements">The input projection's size, the buffer that dominates, for the message.</param>
    public void RequireAvailableMemory(long growthBytes, long projectionElements)
    {
        if (growthBytes == 0) return;
        long available = AvailableMemoryBytes();
        if (growthBytes <= available) return;
        throw new InsufficientMemoryException(
            $"the managed backend needs {growthBytes} more bytes of workspace for seq_len {SeqLen} × batch {Batch} " +
            $"({projectionElements * Unsafe.SizeOf<T>()} bytes of them for the input projection), but only {available} bytes are " +
            "available; split the batch or the sequence into smaller calls, or use the cpu backend, which bounds its workspace");
    }

    /// <summary>
    /// What this process may still allocate: the GC's limit for it (a heap hard limit, a container's limit, or the
    /// physical memory) less what it has committed, and no more than the machine has free now (MemAvailable on Linux;
    /// elsewhere the GC's machine-wide load as of the last collection).
    /// </summary>
    private static long AvailableMemoryBytes()
    {
        GCMemoryInfo memory = GC.GetGCMemoryInfo();
        long processRoom = memory.TotalAvailableMemoryBytes - memory.TotalCommittedBytes;
        long machineRoom = LinuxMemAvailableBytes() ?? memory.TotalAvailableMemoryBytes - memory.MemoryLoadBytes;
        return long.Max(0, long.Min(processRoom, machineRoom));
    }

    private static long? LinuxMemAvailableBytes()
    {
        const string meminfo = "/proc/meminfo", key = "MemAvailable:";
        try
        {
            if (!File.Exists(meminfo)) return null;
            foreach (string line in File.ReadLines(meminfo))
            {
                // "MemAvailable:   12345678 kB"
                if (!line.StartsWith(key, StringComparison.Ordinal)) continue;
                string[] parts = line[key.Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                return parts.Length == 2 && parts[1] == "kB" && long.TryParse(parts[0], System.Globalization.CultureInfo.InvariantCulture, out long kib)
                    ? kib * 1024 : null;
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }

        return null;
    }

    public void Grow(ref T[] buffer, int length, string what)
    {
        if (buffer.Length >= length) return;
        try
        {
            buffer = new T[length];
        }
        catch (OutOfMemoryException e)
        {
            throw new InsufficientMemoryException(
                $"the managed backend could not allocate {(long)length * Unsafe.SizeOf<T>()} bytes for {what} (seq_len {SeqLen}, batch {Batch})", e);
        }
    }
}
