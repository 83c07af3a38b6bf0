using System.Diagnostics;
using System.Runtime.CompilerServices;
using FusedRnn.Backends;

namespace FusedRnn.Streams;

/// <summary>
/// Runs the steps of many <see cref="RnnStream"/>s of one network (or one whole <see cref="SequenceModel"/>) as batched
/// calls: a step that finds no batch forming starts one and waits up to <see cref="StreamBatcherOptions.BatchingWindow"/>
/// for other streams' steps (less when every open stream has joined, or the batch is full), then runs them all in one
/// call of the backend per network. Every stream's state lives in a slot of each network's buffer, which the backend
/// reads and writes in place, addressed by a slot table: nothing is gathered or scattered but x_t and y_t. The caller
/// whose step starts a batch runs it, and hands the next one to the oldest step still waiting, so no thread of the
/// batcher's own waits or spins while it is idle.
/// Thread-safe: streams may be stepped from any threads.
/// </summary>
public sealed class StreamBatcher : IDisposable
{
    private readonly StreamPipeline _pipeline;
    private readonly RnnWorkspace[] _workspaces;  // one per network
    private readonly byte[][] _states;            // one per network: its slots
    private readonly int _slotBytes;              // of every network together
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
    private readonly long[] _batchIds;
    private readonly float[] _batchInput;
    private readonly float[][] _stageOutputs;  // [MaxBatch, outputs] of each network, then each head
    // The batch's state in the networks a later stage's failure would leave advanced (all but the last network without
    // heads; all of them with heads), saved before the stages run and restored if one fails: a batch advances every
    // network's state or none. Empty for one network alone, whose call writes nothing when it fails.
    private readonly int _guardedNetworks;
    private readonly byte[] _savedState;

    /// <summary>Creates the batcher and the state slots of <see cref="StreamBatcherOptions.Capacity"/> streams.</summary>
    /// <param name="network">A unidirectional network (a module or a cell); the batcher uses its backend, precision and threads, and does not own it.</param>
    /// <param name="options">Capacity, window and bounds; <see cref="StreamBatcherOptions.Default"/> when null.</param>
    /// <exception cref="NotSupportedException">The network is bidirectional.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range.</exception>
    public StreamBatcher(RecurrentBase network, StreamBatcherOptions? options = null)
        : this(new StreamPipeline.Network(network ?? throw new ArgumentNullException(nameof(network))), options)
    {
    }

    /// <summary>
    /// A batcher of streams through a whole model: each step's y is the heads' output for that step (the last
    /// network's h without heads), as <see cref="SequenceModel.Step(ReadOnlySpan{float}, SequenceModelState, Span{float})"/>
    /// gives it; a model that starts with an embedding steps token ids (<see cref="RnnStream.StepId"/>).
    /// </summary>
    /// <param name="model">A model whose networks are unidirectional; the batcher does not own it.</param>
    /// <param name="options">Capacity, window and bounds; <see cref="StreamBatcherOptions.Default"/> when null.</param>
    /// <exception cref="NotSupportedException">A network is bidirectional; the message names it.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range.</exception>
    public StreamBatcher(SequenceModel model, StreamBatcherOptions? options = null)
        : this(new StreamPipeline.Model(model ?? throw new ArgumentNullException(nameof(model))), options)
    {
    }

    private StreamBatcher(StreamPipeline pipeline, StreamBatcherOptions? options)
    {
        Options = options ?? StreamBatcherOptions.Default;
        Options.Validate(nameof(options));
        _pipeline = pipeline;
        _capacity = Options.Capacity;
        _maxBatch = int.Min(Options.MaxBatch, _capacity);
        _windowTicks = (long)(Options.BatchingWindow.TotalSeconds * Stopwatch.Frequency);
        InputSize = pipeline.InputSize;
        OutputSize = pipeline.OutputSize;
        _slotBytes = checked((int)pipeline.SlotBytes.Sum(bytes => (long)bytes));
        long stateBytes = (long)pipeline.SlotBytes.Max() * _capacity;
        if (stateBytes > Array.MaxLength)
            throw new ArgumentOutOfRangeException(nameof(options), _capacity, $"{_capacity} streams of {pipeline.SlotBytes.Max()} state bytes each need {stateBytes} bytes, more than one array holds; lower {nameof(StreamBatcherOptions.Capacity)}");
        // Pinned, so the native backend reads the slots where they are; zeroed: every slot starts at the zero state.
        _states = [.. pipeline.SlotBytes.Select(bytes => GC.AllocateArray<byte>(bytes * _capacity, pinned: true))];
        _freeSlots = new int[_capacity];
        for (int slot = 0; slot < _capacity; slot++) _freeSlots[slot] = _capacity - 1 - slot;
        _freeCount = _capacity;
        _room = new SemaphoreSlim(Options.EffectiveQueueLimit, Options.EffectiveQueueLimit);
        _batch = new RnnStream?[_maxBatch];
        _batchSlots = new int[_maxBatch];
        _batchIds = new long[pipeline.Embedding is null ? 0 : _maxBatch];
        _batchInput = new float[checked(_maxBatch * InputSize)];
        _stageOutputs = [.. Enumerable.Range(0, pipeline.Networks.Length + pipeline.Heads.Count).Select(stage => new float[checked(_maxBatch * pipeline.StageOutputs(stage))])];
        _workspaces = [.. pipeline.Networks.Select(network => network.CreateWorkspace())];
        _guardedNetworks = pipeline.Heads.Count > 0 ? pipeline.Networks.Length : pipeline.Networks.Length - 1;
        _savedState = new byte[checked(_maxBatch * pipeline.SlotBytes.Take(_guardedNetworks).Sum())];
        _tags = new TagList { { "fusedrnn.model", Options.Name }, { "fusedrnn.backend", pipeline.Backend } };
    }

    /// <summary>Whether a step is a token id (<see cref="RnnStream.StepId"/>): the model starts with an embedding.</summary>
    public bool TakesIds => _pipeline.Embedding is not null;

    /// <summary>The options this batcher was created with.</summary>
    public StreamBatcherOptions Options { get; }

    /// <summary>Floats of a step's input vector (the embedding's dimension for a model that takes token ids).</summary>
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
        foreach (RnnWorkspace workspace in _workspaces) workspace.Dispose();
    }

    /// <summary>A stream's state in network <paramref name="network"/>.</summary>
    private Span<byte> SlotState(int network, int slot) =>
        _states[network].AsSpan(slot * _pipeline.SlotBytes[network], _pipeline.SlotBytes[network]);

    /// <summary>Bytes of one stream's state in every network together: what a snapshot holds.</summary>
    internal int SlotBytes => _slotBytes;

    /// <summary>A stream's state back to zero.</summary>
    internal void ClearSlot(int slot)
    {
        for (int network = 0; network < _states.Length; network++) SlotState(network, slot).Clear();
    }

    /// <summary>A stream's state in every network, first to last, into <paramref name="destination"/> (<see cref="SlotBytes"/>).</summary>
    internal void ReadSlot(int slot, Span<byte> destination)
    {
        for (int network = 0, at = 0; network < _states.Length; at += _pipeline.SlotBytes[network++]) SlotState(network, slot).CopyTo(destination[at..]);
    }

    /// <summary>The state <see cref="ReadSlot"/> gave, back into the stream's slots.</summary>
    internal void WriteSlot(int slot, ReadOnlySpan<byte> source)
    {
        for (int network = 0, at = 0; network < _states.Length; at += _pipeline.SlotBytes[network++]) source.Slice(at, _pipeline.SlotBytes[network]).CopyTo(SlotState(network, slot));
    }

    internal StreamSnapshot.Header SnapshotHeader(long steps) => new(_pipeline.Precision, _slotBytes, _pipeline.Fingerprint, steps);

    /// <summary>Checks a token id a stream steps against the embedding.</summary>
    internal void CheckId(long id)
    {
        EmbeddingLayer embedding = _pipeline.Embedding ?? throw new InvalidOperationException("the model has no embedding: step it with vectors (Step)");
        if (id < 0 || id >= embedding.VocabularySize)
            throw new ArgumentOutOfRangeException(nameof(id), id, $"token id {id} is outside the vocabulary of {embedding.Name} (0..{embedding.VocabularySize - 1})");
    }

    /// <summary>Frees a closed stream's slot, zeroed for the next stream.</summary>
    internal void Release(int slot)
    {
        ClearSlot(slot);
        lock (_gate)
        {
            _freeSlots[_freeCount++] = slot;
            _open--;
        }

        StreamMetrics.OpenStreamCount.Add(-1, _tags);
    }

    /// <summary>A stream's step: the vector <paramref name="input"/>, or the token <paramref name="id"/> when it is not null.</summary>
    internal void Step(RnnStream stream, ReadOnlySpan<float> input, long? id, Span<float> output)
    {
        CheckStep(input.Length, id, output.Length);
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!_room.Wait(0))
            throw new StreamLimitExceededException(nameof(StreamBatcherOptions.QueueLimit), Options.EffectiveQueueLimit,
                $"{Options.EffectiveQueueLimit} steps are already waiting for a batch; retry, or use StepAsync, which waits for room");
        Submit(stream, input, id, isAsync: false);
        bool leads = !Enqueue(stream) || stream.WaitSync();
        if (leads) Lead(stream);
        stream.End(output, default);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    internal async ValueTask StepAsync(RnnStream stream, ReadOnlyMemory<float> input, long? id, Memory<float> output, CancellationToken cancellationToken)
    {
        CheckStep(input.Length, id, output.Length);
        ObjectDisposedException.ThrowIf(_disposed, this);
        ObjectDisposedException.ThrowIf(stream.IsDisposed, stream);
        await _room.WaitAsync(cancellationToken).ConfigureAwait(false);
        Submit(stream, input.Span, id, isAsync: true);
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

    private void CheckStep(int inputLength, long? id, int outputLength)
    {
        if (id is { } token) CheckId(token);
        else if (_pipeline.Embedding is { } embedding)
            throw new InvalidOperationException($"the model starts with the embedding {embedding.Name}: step it with token ids (StepId)");
        else ShapeChecks.CheckLength("input", inputLength, [InputSize], "input_size", required: true);
        ShapeChecks.CheckLength("output", outputLength, [OutputSize], "one step's outputs", required: true);
    }

    /// <summary>Marks the step pending, giving back its room in the queue if it cannot be.</summary>
    private void Submit(RnnStream stream, ReadOnlySpan<float> input, long? id, bool isAsync)
    {
        try
        {
            stream.Begin(input, id ?? 0, isAsync);
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
        bool closed;
        lock (_gate)
        {
            closed = _disposed || _pipeline.IsDisposed;
            if (!closed)
            {
                _queue.Enqueue(stream);
                _pending++;
                StreamMetrics.QueuedStepCount.Add(1, _tags);
                if (_leading) return true;
                _leading = true;
                return false;
            }
        }

        // Outside the gate: a stream takes its own lock before the gate (to free its slot), never after.
        stream.Abandon();
        _room.Release();
        throw new ObjectDisposedException(_disposed ? nameof(StreamBatcher) : "network",
            _disposed ? "the stream's batcher was disposed" : "the stream's network was disposed");
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
    /// Runs one batch led by <paramref name="leader"/>'s step (the oldest pending): waits for company within the
    /// window, takes up to <see cref="StreamBatcherOptions.MaxBatch"/> pending steps, runs them, and hands the next
    /// batch to the oldest step still pending, or ends the leadership when none is.
    /// </summary>
    private void Lead(RnnStream leader)
    {
        long deadline = leader.QueuedAt + _windowTicks;
        var spinner = default(SpinWait);
        while (Volatile.Read(ref _pending) < int.Min(Volatile.Read(ref _open), _maxBatch) && Stopwatch.GetTimestamp() < deadline)
            spinner.SpinOnce(sleep1Threshold: -1);

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

        RnnStream? next = null;
        lock (_gate)
        {
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
        }

        next?.Signal(leads: true);
    }

    private void Run(int count, RnnStream leader)
    {
        Span<float> input = _batchInput.AsSpan(0, count * InputSize);
        for (int row = 0; row < count; row++)
        {
            RnnStream stream = _batch[row]!;
            _batchSlots[row] = stream.Slot;
            if (_batchIds.Length > 0) _batchIds[row] = stream.Id;
            else stream.Input.CopyTo(input[(row * InputSize)..]);
        }

        Exception? failure = null;
        ReadOnlySpan<float> output = default;
        long started = Stopwatch.GetTimestamp();
        try
        {
            output = RunStages(count, input);
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
            if (failure is null) output.Slice(row * OutputSize, OutputSize).CopyTo(stream.Output);
            stream.Complete(failure, signal: !ReferenceEquals(stream, leader));
        }
    }

    /// <summary>
    /// The batch's rows through the embedding, every network (its slots read and written in place) and the heads. If a
    /// stage fails, the networks before it get their state back, so the batch leaves every stream's state as it was.
    /// </summary>
    private ReadOnlySpan<float> RunStages(int count, Span<float> input)
    {
        CopyGuardedState(count, save: true);
        try
        {
            return RunStagesUnguarded(count, input);
        }
        catch
        {
            CopyGuardedState(count, save: false);
            throw;
        }
    }

    /// <summary>The batch's rows' slots of the guarded networks into <see cref="_savedState"/>, or back from it.</summary>
    private void CopyGuardedState(int count, bool save)
    {
        int at = 0;
        for (int network = 0; network < _guardedNetworks; network++)
        {
            int bytes = _pipeline.SlotBytes[network];
            for (int row = 0; row < count; row++, at += bytes)
            {
                Span<byte> slot = SlotState(network, _batchSlots[row]);
                Span<byte> saved = _savedState.AsSpan(at, bytes);
                if (save) slot.CopyTo(saved);
                else saved.CopyTo(slot);
            }
        }
    }

    private ReadOnlySpan<float> RunStagesUnguarded(int count, Span<float> input)
    {
        if (_pipeline.Embedding is { } embedding) embedding.Lookup(_batchIds.AsSpan(0, count), input);
        ReadOnlySpan<float> current = input;
        RecurrentBase[] networks = _pipeline.Networks;
        for (int stage = 0; stage < networks.Length; stage++)
        {
            Span<float> output = _stageOutputs[stage].AsSpan(0, count * _pipeline.StageOutputs(stage));
            networks[stage].LoadedExecutor.StepSlots(new SlotStepRequest
            {
                Input = current,
                Batch = count,
                Slots = _batchSlots.AsSpan(0, count),
                SlotCount = _capacity,
                State = _states[stage],
                Output = output,
            }, _workspaces[stage]);
            current = output;
        }

        IReadOnlyList<DenseExecutor> heads = _pipeline.Heads;
        for (int head = 0; head < heads.Count; head++)
        {
            Span<float> output = _stageOutputs[networks.Length + head].AsSpan(0, count * _pipeline.StageOutputs(networks.Length + head));
            heads[head].Apply(current, count, output, _workspaces[^1]);
            current = output;
        }

        return current;
    }
}
