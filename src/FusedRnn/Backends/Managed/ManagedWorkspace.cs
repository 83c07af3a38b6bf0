namespace FusedRnn.Backends.Managed;

/// <summary>
/// Grow-only scratch arrays of the managed kernels (double: see <see cref="ISimd{TVec}"/>), sized by the largest call
/// seen, and the worker threads of this caller, started by the first call that uses them. Workers read and write only
/// these arrays (never the caller's spans), so a call is shared between threads without pinning anything.
/// </summary>
internal sealed class ManagedWorkspace(RnnExecutor owner, int threads) : RnnWorkspace(owner)
{
    private WorkerTeam? _team;

    ~ManagedWorkspace() => Dispose(false);

    /// <summary>The first layer's input, widened to double.</summary>
    public double[] Input = [];

    /// <summary>Input projection of every time step of one layer, per direction: <c>[D][T·B, blocks·gates·width]</c>.</summary>
    public double[] Projection = [];

    /// <summary>Outputs of the two most recent layers, <c>[T, B, D·Hout]</c> each; the last layer's is narrowed into y.</summary>
    public double[] LayerOutputA = [], LayerOutputB = [];

    /// <summary>
    /// h of every (layer, direction) and batch row in length order, twice: a step reads one copy and writes the
    /// other, so one barrier per step is enough. Rows are padded to whole vectors.
    /// </summary>
    public double[] Hidden = [];

    /// <summary>c of every (layer, direction) and batch row in length order.</summary>
    public double[] Cell = [];

    /// <summary>Unprojected LSTM output of every batch row, before <c>W_hr</c>.</summary>
    public double[] Unprojected = [];

    /// <summary>Recurrent products of one pass (a few blocks of hidden units) for a row group, one tile per participant.</summary>
    public double[] GateTiles = [];

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

    /// <summary>The workers, started on first use; null until then and after disposal.</summary>
    internal WorkerTeam? Team => _team;

    /// <summary>Runs <see cref="Job"/> on <paramref name="participants"/> threads (1: the caller alone, no workers).</summary>
    public void Run(int participants)
    {
        if (participants == 1)
        {
            Job!(0);
            return;
        }

        ObjectDisposedException.ThrowIf(IsDisposed, this);
        _team ??= new WorkerTeam(participants);
        _team.Run(Job!);
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
        Interlocked.Exchange(ref _team, null)?.Stop();
        base.Dispose(disposing);
    }
}

/// <summary>
/// Sizes the scratch buffers of one call of <c>seq_len × batch</c> rows: refuses one that no array can hold, naming
/// the dimensions, and turns a failed allocation into an <see cref="InsufficientMemoryException"/> naming the bytes.
/// </summary>
internal readonly record struct WorkspaceSizes(int SeqLen, int Batch)
{
    /// <summary><paramref name="elements"/> doubles for <paramref name="buffer"/> as an array length.</summary>
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
            $"seq_len {SeqLen} × batch {Batch} needs {elements} doubles ({elements * (long)sizeof(double)} bytes) for {buffer}, more " +
            $"than one managed array holds ({Array.MaxLength} elements); split the batch or the sequence into smaller calls, or use the cpu backend");
    }

    /// <summary>Bytes that growing <paramref name="buffer"/> to <paramref name="length"/> doubles allocates.</summary>
    public static long Growth(double[] buffer, int length) => buffer.Length >= length ? 0 : (long)length * sizeof(double);

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
            $"({projectionElements * sizeof(double)} bytes of them for the input projection), but only {available} bytes are " +
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

    public void Grow(ref double[] buffer, int length, string what)
    {
        if (buffer.Length >= length) return;
        try
        {
            buffer = new double[length];
        }
        catch (OutOfMemoryException e)
        {
            throw new InsufficientMemoryException(
                $"the managed backend could not allocate {(long)length * sizeof(double)} bytes for {what} (seq_len {SeqLen}, batch {Batch})", e);
        }
    }
}

/// <summary>One call's shape and how it is split between participants.</summary>
internal readonly record struct CallShape(int SeqLen, int Batch, bool InputBatchFirst, bool OutputBatchFirst, int Participants, bool SplitRows);
