using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using FusedRnn.Backends;

namespace FusedRnn.Streams;

/// <summary>
/// Runs the steps of many <see cref="RnnStream"/>s of one network as batched calls: a step that finds no batch
/// forming starts one and waits up to <see cref="StreamBatcherOptions.BatchingWindow"/> for other streams' steps
/// (less when every open stream has joined, or the batch is full), then runs them all in one call of the backend.
/// Every stream's state lives in a slot of one buffer the backend reads and writes in place, addressed by a slot
/// table: nothing is gathered or scattered but x_t and y_t. The caller whose step starts a batch runs it, and hands
/// the next one to the oldest step still waiting, so no thread of the batcher's own waits or spins while it is idle.
/// Thread-safe: streams may be stepped from any threads.
/// </summary>
public sealed class StreamBatcher : IDisposable
{
    private readonly RecurrentBase _network;
    private readonly RnnWorkspace _workspace;
    private readonly byte[] _state;
    private readonly int _slotBytes;
    private readonly int _capacity, _maxBatch;
    private readonly long _windowTicks;
    private readonly SemaphoreSlim _room;
    private readonly object _gate = new();
    private readonly Queue<RnnStream> _queue = new();
    private readonly int[] _freeSlots;
    private int _freeCount;
    private int _open;
    private int _pending;
    private bool _leading;
    private bool _disposed;
    private readonly TagList _tags;

    // The running batch's streams and buffers; only its leader touches them.
    private readonly RnnStream?[] _batch;
    private readonly int[] _batchSlots;
    private readonly float[] _batchInput, _batchOutput;

    /// <summary>Creates the batcher and the state slots of <see cref="StreamBatcherOptions.Capacity"/> streams.</summary>
    /// <param name="network">A unidirectional network (a module or a cell); the batcher uses its backend, precision and threads, and does not own it.</param>
    /// <param name="options">Capacity, window and bounds; <see cref="StreamBatcherOptions.Default"/> when null.</param>
    /// <exception cref="NotSupportedException">The network is bidirectional.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range.</exception>
    public StreamBatcher(RecurrentBase network, StreamBatcherOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(network);
        Options = options ?? StreamBatcherOptions.Default;
        Options.Validate(nameof(options));
        RnnExecutor executor = network.LoadedExecutor;
        _slotBytes = executor.SlotBytes;
        _network = network;
        _capacity = Options.Capacity;
        _maxBatch = int.Min(Options.MaxBatch, _capacity);
        _windowTicks = (long)(Options.BatchingWindow.TotalSeconds * Stopwatch.Frequency);
        InputSize = executor.Spec.InputSize;
        OutputSize = executor.Spec.OutputSize;
        long stateBytes = (long)_slotBytes * _capacity;
        if (stateBytes > Array.MaxLength)
            throw new ArgumentOutOfRangeException(nameof(options), _capacity, $"{_capacity} streams of {_slotBytes} state bytes each need {stateBytes} bytes, more than one array holds; lower {nameof(StreamBatcherOptions.Capacity)}");
        // Pinned, so the native backend reads the slots where they are; zeroed: every slot starts at the zero state.
        _state = GC.AllocateArray<byte>((int)stateBytes, pinned: true);
        _freeSlots = new int[_capacity];
        for (int slot = 0; slot < _capacity; slot++) _freeSlots[slot] = _capacity - 1 - slot;
        _freeCount = _capacity;
        _room = new SemaphoreSlim(Options.EffectiveQueueLimit, Options.EffectiveQueueLimit);
        _batch = new RnnStream?[_maxBatch];
        _batchSlots = new int[_maxBatch];
        _batchInput = new float[checked(_maxBatch * InputSize)];
        _batchOutput = new float[checked(_maxBatch * OutputSize)];
        _workspace = network.CreateWorkspace();
        _tags = new TagList { { "fusedrnn.model", Options.Name }, { "fusedrnn.backend", network.Backend } };
    }

    /// <summary>The options this batcher was created with.</summary>
    public StreamBatcherOptions Options { get; }

    /// <summary>Floats of a step's input.</summary>
    public int InputSize { get; }

    /// <summary>Floats of a step's output.</summary>
    public int OutputSize { get; }

    /// <summary>Streams open now.</summary>
    public int OpenStreams => Volatile.Read(ref _open);

    /// <summary>Steps waiting for a batch now.</summary>
    public int QueuedSteps => Volatile.Read(ref _pending);

    /// <summary>Opens a stream at the zero initial state.</summary>
    /// <exception cref="StreamLimitExceededException">Every slot holds an open stream.</exception>
    /// <exception cref="ObjectDisposedException">The batcher was disposed.</exception>
    public RnnStream Open()
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_freeCount == 0)
                throw new StreamLimitExceededException(nameof(StreamBatcherOptions.Capacity), _capacity,
                    $"all {_capacity} stream slots are in use; dispose streams that are done, or raise {nameof(StreamBatcherOptions.Capacity)}");
            _open++;
            StreamMetrics.OpenStreamCount.Add(1, _tags);
            return new RnnStream(this, _freeSlots[--_freeCount]);
        }
    }

    /// <summary>
    /// Closes the batcher after the steps already queued have run; streams still open then fail their next step with
    /// <see cref="ObjectDisposedException"/>. The network is not disposed.
    /// </summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
        }

        var spinner = default(SpinWait);
        while (Volatile.Read(ref _leading)) spinner.SpinOnce();
        _workspace.Dispose();
    }

    internal Span<byte> SlotState(int slot) => _state.AsSpan(slot * _slotBytes, _slotBytes);

    internal StreamSnapshot.Header SnapshotHeader(long steps) =>
        new(_network.LoadedExecutor.Precision, _slotBytes, _network.WeightsFingerprint, steps);

    /// <summary>Frees a closed stream's slot, zeroed for the next stream.</summary>
    internal void Release(int slot)
    {
        SlotState(slot).Clear();
        lock (_gate)
        {
            _freeSlots[_freeCount++] = slot;
            _open--;
        }

        StreamMetrics.OpenStreamCount.Add(-1, _tags);
    }

    internal void Step(RnnStream stream, ReadOnlySpan<float> input, Span<float> output)
    {
        CheckStepShapes(input.Length, output.Length);
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!_room.Wait(0))
            throw new StreamLimitExceededException(nameof(StreamBatcherOptions.QueueLimit), Options.EffectiveQueueLimit,
                $"{Options.EffectiveQueueLimit} steps are already waiting for a batch; retry, or use StepAsync, which waits for room");
        Submit(stream, input, isAsync: false);
        bool leads = !Enqueue(stream) || stream.WaitSync();
        if (leads) Lead(stream);
        stream.End(output, default);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    internal async ValueTask StepAsync(RnnStream stream, ReadOnlyMemory<float> input, Memory<float> output, CancellationToken cancellationToken)
    {
        CheckStepShapes(input.Length, output.Length);
        ObjectDisposedException.ThrowIf(_disposed, this);
        ObjectDisposedException.ThrowIf(stream.IsDisposed, stream);
        await _room.WaitAsync(cancellationToken).ConfigureAwait(false);
        Submit(stream, input.Span, isAsync: true);
        bool leads = !Enqueue(stream);
        if (!leads)
        {
            CancellationTokenRegistration registration = cancellationToken.CanBeCanceled
                ? cancellationToken.UnsafeRegister(static waiting => ((RnnStream)waiting!).Batcher.Cancel((RnnStream)waiting), stream)
                : default;
            try
            {
                leads = await stream.WaitAsync().ConfigureAwait(false);
            }
            finally
            {
                await registration.DisposeAsync().ConfigureAwait(false);
            }
        }

        if (leads) Lead(stream);
        stream.End(output.Span, cancellationToken);
    }

    private void CheckStepShapes(int inputLength, int outputLength)
    {
        ShapeChecks.CheckLength("input", inputLength, [InputSize], "input_size", required: true);
        ShapeChecks.CheckLength("output", outputLength, [OutputSize], "hidden features of the last layer", required: true);
    }

    /// <summary>Marks the step pending, giving back its room in the queue if it cannot be.</summary>
    private void Submit(RnnStream stream, ReadOnlySpan<float> input, bool isAsync)
    {
        try
        {
            stream.Begin(input, isAsync);
        }
        catch
        {
            _room.Release();
            throw;
        }
    }

    /// <summary>Queues a pending step; true when a batch is forming or running (its leader will see the step), false when the caller must lead.</summary>
    private bool Enqueue(RnnStream stream)
    {
        lock (_gate)
        {
            if (_disposed || _network.IsDisposed)
            {
                stream.Abandon();
                _room.Release();
                throw new ObjectDisposedException(_disposed ? nameof(StreamBatcher) : _network.GetType().Name,
                    _disposed ? "the stream's batcher was disposed" : "the stream's network was disposed");
            }

            _queue.Enqueue(stream);
            _pending++;
            StreamMetrics.QueuedStepCount.Add(1, _tags);
            if (_leading) return true;
            _leading = true;
            return false;
        }
    }

    /// <summary>Withdraws a pending step whose caller's token was cancelled, unless a batch took it first.</summary>
    internal void Cancel(RnnStream stream)
    {
        lock (_gate)
        {
            if (!stream.TryCancel()) return;
            _pending--;
        }

        StreamMetrics.QueuedStepCount.Add(-1, _tags);
        _room.Release();
        stream.Signal(leads: false);
    }

    /// <summary>
    /// Runs the batches led by <paramref name="leader"/>'s step (the oldest pending): waits for company within the
    /// window, takes up to <see cref="StreamBatcherOptions.MaxBatch"/> pending steps and runs them; then, while another
    /// full batch is waiting (up to <see cref="MaxConsecutiveBatches"/> in all), runs that too, since waking another
    /// caller to lead it would only delay it; then hands the next batch to the oldest step still pending, or ends the
    /// leadership when none is.
    /// </summary>
    private void Lead(RnnStream leader)
    {
        long deadline = leader.QueuedAt + _windowTicks;
        var spinner = default(SpinWait);
        while (Volatile.Read(ref _pending) < int.Min(Volatile.Read(ref _open), _maxBatch) && Stopwatch.GetTimestamp() < deadline)
            spinner.SpinOnce(sleep1Threshold: -1);

        RnnStream? next = null;
        for (int led = 1; ; led++)
        {
            int count = 0;
            lock (_gate)
            {
                while (count < _maxBatch && _queue.TryDequeue(out RnnStream? stream))
                {
                    if (!stream.TryTake()) continue;  // cancelled, or taken already through an older entry
                    _batch[count++] = stream;
                    _pending--;
                }
            }

            if (count > 0)
            {
                _room.Release(count);
                StreamMetrics.QueuedStepCount.Add(-count, _tags);
                Run(count, leader);
            }

            lock (_gate)
            {
                if (_pending >= _maxBatch && led < MaxConsecutiveBatches) continue;
                while (_queue.TryPeek(out RnnStream? candidate))
                {
                    if (candidate.TryPromote())
                    {
                        next = candidate;
                        break;
                    }

                    _queue.Dequeue();
                }

                if (next is null) _leading = false;
                break;
            }
        }

        next?.Signal(leads: true);
    }

    /// <summary>
    /// The most batches one caller runs in a row: enough to skip most hand-offs under full load, few enough that the
    /// caller that leads them is not kept long from its own next step.
    /// </summary>
    private const int MaxConsecutiveBatches = 8;

    private void Run(int count, RnnStream leader)
    {
        for (int row = 0; row < count; row++)
        {
            RnnStream stream = _batch[row]!;
            _batchSlots[row] = stream.Slot;
            stream.Input.CopyTo(_batchInput.AsSpan(row * InputSize));
        }

        Exception? failure = null;
        long started = Stopwatch.GetTimestamp();
        try
        {
            _network.LoadedExecutor.StepSlots(new SlotStepRequest
            {
                Input = _batchInput.AsSpan(0, count * InputSize),
                Batch = count,
                Slots = _batchSlots.AsSpan(0, count),
                SlotCount = _capacity,
                State = _state,
                Output = _batchOutput.AsSpan(0, count * OutputSize),
            }, _workspace);
        }
        catch (Exception exception)
        {
            failure = exception;
        }

        long finished = Stopwatch.GetTimestamp();
        StreamMetrics.BatchSizes.Record(count, _tags);
        StreamMetrics.BatchDurations.Record(Stopwatch.GetElapsedTime(started, finished).TotalSeconds, _tags);
        for (int row = 0; row < count; row++)
        {
            RnnStream stream = _batch[row]!;
            _batch[row] = null;
            StreamMetrics.StepDurations.Record(Stopwatch.GetElapsedTime(stream.QueuedAt, finished).TotalSeconds, _tags);
            if (failure is null) _batchOutput.AsSpan(row * OutputSize, OutputSize).CopyTo(stream.Output);
            stream.Complete(failure, signal: !ReferenceEquals(stream, leader));
        }
    }
}
