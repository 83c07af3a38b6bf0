using System.Threading.Tasks.Sources;

namespace FusedRnn.Streams;

/// <summary>
/// One stream of time steps through a network or a whole model (a connection's audio frames, a sensor's readings): it
/// owns the recurrent state (h and c of every layer of every network) in the precision it computes in, so a Float64
/// network keeps double state between steps, and stepping it T times gives exactly what the whole-sequence call gives
/// for those T inputs. Steps of different streams of one <see cref="StreamBatcher"/> run as one batched call; a
/// stream's results never depend on which streams shared its batches. A stream takes one step at a time: it is not
/// meant to be stepped from two threads at once. Open one with <see cref="StreamBatcher.Open"/>.
/// </summary>
public sealed class RnnStream : IDisposable
{
    private readonly StreamBatcher _batcher;
    private readonly object _lifecycle = new();
    private readonly ManualResetEventSlim _syncSignal = new(false);
    private readonly AsyncSignal _asyncSignal = new();
    private int _status;
    private bool _disposed;
    private bool _syncLeads;
    private bool _stepIsAsync;
    private Exception? _failure;

    internal RnnStream(StreamBatcher batcher, int slot)
    {
        _batcher = batcher;
        Slot = slot;
        Input = new float[batcher.InputSize];
        Output = new float[batcher.OutputSize];
    }

    /// <summary>Floats of one step's input x_t: the network's input size (the embedding's dimension for a model that takes token ids).</summary>
    public int InputSize => Input.Length;

    /// <summary>Floats of one step's output y_t: the last layer's h (its projection's size when it projects), or a model's heads' outputs.</summary>
    public int OutputSize => Output.Length;

    /// <summary>The pending step's token id, for a model that takes them.</summary>
    internal long Id { get; private set; }

    /// <summary>Steps taken since the stream was opened or reset (or the count a restored snapshot recorded).</summary>
    public long Steps { get; private set; }

    /// <summary>Whether <see cref="Dispose"/> was called.</summary>
    public bool IsDisposed => Volatile.Read(ref _disposed);

    internal StreamBatcher Batcher => _batcher;

    internal int Slot { get; }

    internal float[] Input { get; }

    internal float[] Output { get; }

    /// <summary>When the pending step was queued (<see cref="System.Diagnostics.Stopwatch"/> ticks).</summary>
    internal long QueuedAt { get; private set; }

    /// <summary>
    /// One step: x_t in, y_t out, the state advanced. Waits at most the batcher's window for other streams' steps
    /// to share the call, and for the batches ahead of it.
    /// </summary>
    /// <param name="input">x_t, <see cref="InputSize"/> floats.</param>
    /// <param name="output">y_t, <see cref="OutputSize"/> floats.</param>
    /// <exception cref="ShapeMismatchException">A span has the wrong length.</exception>
    /// <exception cref="ObjectDisposedException">The stream, its batcher or its network was disposed.</exception>
    /// <exception cref="InvalidOperationException">The stream already has a step in flight.</exception>
    /// <exception cref="StreamLimitExceededException">The batcher's queue is full; nothing changed.</exception>
    public void Step(ReadOnlySpan<float> input, Span<float> output) => _batcher.Step(this, input, null, output);

    /// <summary>
    /// One step of a model that starts with an embedding (<see cref="StreamBatcher.TakesIds"/>): the token
    /// <paramref name="id"/> in, y_t out, as <see cref="Step"/>.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The id is outside the vocabulary.</exception>
    /// <exception cref="InvalidOperationException">The model has no embedding, or the stream already has a step in flight.</exception>
    public void StepId(long id, Span<float> output) => _batcher.Step(this, default, id, output);

    /// <summary>
    /// <see cref="Step"/> without blocking the caller: when the batcher's queue is full it waits for room. Cancelling
    /// before the step joins a batch throws <see cref="OperationCanceledException"/> and leaves the state as it was;
    /// a step already in a batch completes (its state has advanced) and returns normally.
    /// </summary>
    public ValueTask StepAsync(ReadOnlyMemory<float> input, Memory<float> output, CancellationToken cancellationToken = default) =>
        _batcher.StepAsync(this, input, null, output, cancellationToken);

    /// <summary><see cref="StepId"/> without blocking the caller, as <see cref="StepAsync"/>.</summary>
    public ValueTask StepIdAsync(long id, Memory<float> output, CancellationToken cancellationToken = default) =>
        _batcher.StepAsync(this, default, id, output, cancellationToken);

    /// <summary>Back to the zero initial state, as a new stream.</summary>
    /// <exception cref="InvalidOperationException">A step is in flight.</exception>
    public void Reset()
    {
        lock (_lifecycle)
        {
            CheckIdle(nameof(Reset));
            _batcher.ClearSlot(Slot);
            Steps = 0;
        }
    }

    /// <summary>
    /// The state as bytes (versioned, with the network's fingerprint and a checksum) for <see cref="Restore"/> on a
    /// stream of the same network and precision, on any backend and in any process.
    /// </summary>
    /// <exception cref="InvalidOperationException">A step is in flight.</exception>
    public byte[] Snapshot()
    {
        lock (_lifecycle)
        {
            CheckIdle(nameof(Snapshot));
            byte[] state = new byte[_batcher.SlotBytes];
            _batcher.ReadSlot(Slot, state);
            return StreamSnapshot.Write(_batcher.SnapshotHeader(Steps), state);
        }
    }

    /// <summary>Takes the state (and step count) of a <see cref="Snapshot"/>; on any error the stream is unchanged.</summary>
    /// <exception cref="InvalidSnapshotException">The bytes are not a snapshot of this network and precision, or are corrupt.</exception>
    /// <exception cref="InvalidOperationException">A step is in flight.</exception>
    public void Restore(ReadOnlySpan<byte> snapshot)
    {
        lock (_lifecycle)
        {
            CheckIdle(nameof(Restore));
            Steps = StreamSnapshot.Read(snapshot, _batcher.SnapshotHeader(0), nameof(snapshot), out ReadOnlySpan<byte> state);
            _batcher.WriteSlot(Slot, state);
        }
    }

    /// <summary>Closes the stream and frees its slot (after the step in flight, if any, completes).</summary>
    public void Dispose()
    {
        lock (_lifecycle)
        {
            if (_disposed) return;
            _disposed = true;
            if (_status == (int)StepStatus.Idle) Close();
        }
    }

    private void Close()
    {
        _batcher.Release(Slot);
        _syncSignal.Dispose();
    }

    private void CheckIdle(string operation)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_status != (int)StepStatus.Idle)
            throw new InvalidOperationException($"the stream has a step in flight; {operation} it after the step completes");
    }

    /// <summary>Queues a step: copies x_t (or keeps its token id) and marks the stream pending.</summary>
    internal void Begin(ReadOnlySpan<float> input, long id, bool isAsync)
    {
        lock (_lifecycle)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_status != (int)StepStatus.Idle)
                throw new InvalidOperationException("the stream already has a step in flight; a stream takes one step at a time");
            input.CopyTo(Input);
            Id = id;
            _stepIsAsync = isAsync;
            _failure = null;
            if (isAsync) _asyncSignal.Reset();
            else _syncSignal.Reset();
            QueuedAt = System.Diagnostics.Stopwatch.GetTimestamp();
            Volatile.Write(ref _status, (int)StepStatus.Queued);
        }
    }

    /// <summary>Undoes <see cref="Begin"/> for a step that was never queued.</summary>
    internal void Abandon()
    {
        lock (_lifecycle)
        {
            _status = (int)StepStatus.Idle;
            if (_disposed) Close();
        }
    }

    /// <summary>Takes the pending step into a batch (it was queued, or promoted to lead one); false when it is not pending.</summary>
    internal bool TryTake() =>
        Interlocked.CompareExchange(ref _status, (int)StepStatus.Running, (int)StepStatus.Queued) == (int)StepStatus.Queued
        || Interlocked.CompareExchange(ref _status, (int)StepStatus.Running, (int)StepStatus.Leading) == (int)StepStatus.Leading;

    /// <summary>Makes the pending step the one that runs the next batch; false when it is not pending.</summary>
    internal bool TryPromote() =>
        Interlocked.CompareExchange(ref _status, (int)StepStatus.Leading, (int)StepStatus.Queued) == (int)StepStatus.Queued;

    /// <summary>Withdraws the pending step before any batch took it; false when it was taken (or promoted) first.</summary>
    internal bool TryCancel() =>
        Interlocked.CompareExchange(ref _status, (int)StepStatus.Canceled, (int)StepStatus.Queued) == (int)StepStatus.Queued;

    /// <summary>Ends the step a batch ran: <see cref="Output"/> holds y_t, or <paramref name="failure"/> says why not.</summary>
    internal void Complete(Exception? failure, bool signal)
    {
        _failure = failure;
        Volatile.Write(ref _status, (int)StepStatus.Completed);
        if (signal) Signal(leads: false);
    }

    /// <summary>Wakes the step's caller: to lead the next batch, or because its step is done.</summary>
    internal void Signal(bool leads)
    {
        if (_stepIsAsync)
        {
            _asyncSignal.SetResult(leads);
        }
        else
        {
            _syncLeads = leads;
            _syncSignal.Set();
        }
    }

    /// <summary>Blocks until <see cref="Signal"/>; whether this caller leads the next batch.</summary>
    internal bool WaitSync()
    {
        _syncSignal.Wait();
        return _syncLeads;
    }

    /// <summary>Completes when <see cref="Signal"/> is called; whether this caller leads the next batch.</summary>
    internal ValueTask<bool> WaitAsync() => _asyncSignal.Wait();

    /// <summary>After the step: copies y_t out, or throws why there is none; the stream is idle again.</summary>
    internal void End(Span<float> output, CancellationToken cancellationToken)
    {
        lock (_lifecycle)
        {
            var status = (StepStatus)_status;
            _status = (int)StepStatus.Idle;
            Exception? failure = _failure;
            _failure = null;
            if (status == StepStatus.Completed && failure is null)
            {
                Output.CopyTo(output);
                Steps++;
            }

            if (_disposed) Close();
            if (status == StepStatus.Canceled) throw new OperationCanceledException("the step was cancelled before it joined a batch; the state is unchanged", cancellationToken);
            if (failure is not null) throw new InvalidOperationException($"the batched call of this step failed: {failure.Message}", failure);
        }
    }

    private enum StepStatus
    {
        Idle,
        Queued,
        Leading,
        Running,
        Completed,
        Canceled,
    }

    /// <summary>The completion an async step awaits, reused from step to step.</summary>
    private sealed class AsyncSignal : IValueTaskSource<bool>
    {
        private ManualResetValueTaskSourceCore<bool> _core = new() { RunContinuationsAsynchronously = true };

        public void Reset() => _core.Reset();

        public void SetResult(bool leads) => _core.SetResult(leads);

        public ValueTask<bool> Wait() => new(this, _core.Version);

        public bool GetResult(short token) => _core.GetResult(token);

        public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

        public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            _core.OnCompleted(continuation, state, token, flags);
    }
}
