using FusedRnn.Backends;

namespace FusedRnn;

/// <summary>What modules and cells share: weights loaded into one backend, workspaces, and disposal.</summary>
public abstract class RecurrentBase : IDisposable
{
    private readonly RnnExecutor _executor;

    // Workspaces the allocating overloads give back, for the next calls: one per logical processor at most, as many
    // calls as can run at once.
    private readonly RnnWorkspace?[] _keptWorkspaces = new RnnWorkspace?[Environment.ProcessorCount];
    private bool _disposed;

    private protected RecurrentBase(RnnWeights weights, RnnOptions? options, Func<CellKind, bool> acceptsKind, string expected)
    {
        ArgumentNullException.ThrowIfNull(weights);
        if (!acceptsKind(weights.Spec.Kind))
            throw new InvalidWeightsException(nameof(weights), $"the weights describe a {weights.Spec.Kind.DisplayName()}, not {expected}");
        Options = options ?? RnnOptions.Default;
        IRnnBackend backend = RnnBackends.Resolve(Options.Backend);
        Backend = backend.Name;
        _executor = backend.Load(weights, Options);
        WeightsFingerprint = Fingerprint(weights);
    }

    /// <summary>
    /// A hash of the architecture and every weight (not of the backend or precision): what a stream snapshot names its
    /// model by, so that it restores only into a stream of the same network.
    /// </summary>
    internal ulong WeightsFingerprint { get; }

    /// <summary>Whether <see cref="Dispose"/> was called.</summary>
    internal bool IsDisposed => Volatile.Read(ref _disposed);

    /// <summary>The executor, for streams (<see cref="Streams.StreamBatcher"/>), which step it through slots.</summary>
    internal RnnExecutor LoadedExecutor => Executor;

    private static ulong Fingerprint(RnnWeights weights)
    {
        var hash = new System.IO.Hashing.XxHash3();
        hash.Append(System.Text.Encoding.UTF8.GetBytes(weights.Spec.ToString()));
        foreach (LayerWeights layer in weights.Layers)
        {
            foreach (float[]? tensor in (ReadOnlySpan<float[]?>)[layer.WeightIh, layer.WeightHh, layer.BiasIh, layer.BiasHh, layer.WeightHr, layer.WeightP])
            {
                hash.Append(BitConverter.GetBytes(tensor?.Length ?? -1));
                if (tensor is not null) hash.Append(System.Runtime.InteropServices.MemoryMarshal.AsBytes(tensor.AsSpan()));
            }
        }

        return hash.GetCurrentHashAsUInt64();
    }

    /// <summary>The architecture.</summary>
    public RnnSpec Spec => _executor.Spec;

    /// <summary>The backend actually running (never <c>auto</c>).</summary>
    public string Backend { get; }

    /// <summary>The options this was created with.</summary>
    public RnnOptions Options { get; }

    /// <summary>
    /// Scratch memory for the allocation-free overloads. Use one per thread; it grows to the largest call and is then
    /// reused. Dispose it when done.
    /// </summary>
    public RnnWorkspace CreateWorkspace() => Executor.CreateWorkspace();

    /// <summary>
    /// A workspace for the allocating overloads: one this object keeps (a bounded pool, one per logical processor at
    /// most), else a fresh one. Reusing them spares the backend's setup (scratch memory, the worker team) for concurrent
    /// callers too. Give it back with <see cref="ReturnWorkspace"/>.
    /// </summary>
    internal RnnWorkspace RentWorkspace()
    {
        RnnExecutor executor = Executor;
        for (int index = 0; index < _keptWorkspaces.Length; index++)
        {
            if (Volatile.Read(ref _keptWorkspaces[index]) is not null && Interlocked.Exchange(ref _keptWorkspaces[index], null) is { } kept) return kept;
        }

        return executor.CreateWorkspace();
    }

    /// <summary>Keeps <paramref name="workspace"/> for a next call, or disposes it when the pool is full.</summary>
    internal void ReturnWorkspace(RnnWorkspace workspace)
    {
        int index = 0;
        while (index < _keptWorkspaces.Length && Interlocked.CompareExchange(ref _keptWorkspaces[index], workspace, null) is not null) index++;
        if (index == _keptWorkspaces.Length) workspace.Dispose();
        // A Dispose that ran meanwhile may have missed it.
        if (_disposed) DisposeKeptWorkspaces();
    }

    private void DisposeKeptWorkspaces()
    {
        for (int index = 0; index < _keptWorkspaces.Length; index++) Interlocked.Exchange(ref _keptWorkspaces[index], null)?.Dispose();
    }

    /// <summary>A dense layer loaded to run on this object's workspaces (a sequence model's heads, after its last network).</summary>
    internal DenseExecutor LoadDense(DenseLayer layer) => Executor.LoadDense(layer);

    private protected RnnExecutor Executor
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _executor;
        }
    }

    /// <summary>Runs a request whose sizes the caller checked: the aliasing rule is checked here, for every backend.</summary>
    private protected void Run(in ForwardRequest request, RnnWorkspace workspace)
    {
        ShapeChecks.CheckNoOverlap(request);
        Executor.Forward(request, workspace);
    }

    private protected void CheckWorkspace(RnnWorkspace workspace)
    {
        ArgumentNullException.ThrowIfNull(workspace);
        ObjectDisposedException.ThrowIf(workspace.IsDisposed, workspace);
        if (!ReferenceEquals(workspace.Owner, _executor))
            throw new ArgumentException("the workspace was created by another module or cell; use this one's CreateWorkspace()", nameof(workspace));
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        DisposeKeptWorkspaces();
        _executor.Dispose();
        GC.SuppressFinalize(this);
    }
}
