using FusedRnn.Backends;
using FusedRnn.IO;

namespace FusedRnn;

/// <summary>Which steps of the last recurrent module's output a model's dense layers see.</summary>
public enum HeadSteps
{
    /// <summary>Every step: y is <c>[T, B, O]</c> (<c>[B, T, O]</c> batch-first), as a per-step prediction.</summary>
    Every,

    /// <summary>
    /// Each row's output at its last valid step (its length − 1, PyTorch's <c>output[-1]</c> for full rows): y is
    /// <c>[B, O]</c>. For a bidirectional module the reverse half is its output there, after one step.
    /// </summary>
    Last,

    /// <summary>
    /// Each row's final hidden state of the last module's last layer, every direction (PyTorch's <c>h_n[-D:]</c>
    /// concatenated, Keras's <c>return_sequences=False</c>): y is <c>[B, O]</c>. Equal to <see cref="Last"/> for a
    /// unidirectional module; for a bidirectional one the reverse half has read the whole row.
    /// </summary>
    FinalState,
}

/// <summary>The parts of a <see cref="SequenceModel"/>, first to last.</summary>
/// <param name="Embedding">Token ids → vectors, or null for a model that takes feature vectors.</param>
/// <param name="Recurrent">One or more recurrent networks, each feeding the next (any kind, variant and size).</param>
/// <param name="Heads">Dense layers after the last recurrent network, each feeding the next; may be empty.</param>
/// <param name="HeadSteps">Which steps the heads see.</param>
/// <param name="RecurrentNames">What messages call each recurrent network (its prefix or layer name); null for its place.</param>
public sealed record SequenceModelParts(
    EmbeddingLayer? Embedding, IReadOnlyList<RnnWeights> Recurrent, IReadOnlyList<DenseLayer> Heads, HeadSteps HeadSteps = HeadSteps.Every,
    IReadOnlyList<string>? RecurrentNames = null);

/// <summary>
/// A whole sequence model as one object: an optional embedding, one or more recurrent modules, and dense heads on
/// every step, each row's last valid step or the final state. <see cref="Forward"/> runs whole sequences, <see cref="Step(FloatTensor, SequenceModelState)"/> one
/// step of a stream whose state a <see cref="SequenceModelState"/> holds. Arrays are in PyTorch's layouts
/// (<see cref="RnnOptions.BatchFirst"/> for batch-major); the recurrent modules run on the chosen backend, and the heads
/// on the same backend in the model's precision, on the last network's workspace and threads
/// (<see cref="RnnExecutor.LoadDense"/>). Thread-safe as its modules are.
/// </summary>
public sealed class SequenceModel : IDisposable
{
    private readonly RecurrentModule[] _recurrent;
    private readonly string[] _recurrentNames;
    private readonly DenseExecutor[] _heads;

    private SequenceModel(SequenceModelParts parts, RecurrentModule[] recurrent, DenseExecutor[] heads, string[] recurrentNames, RnnOptions options)
    {
        Embedding = parts.Embedding;
        Heads = [.. parts.Heads];
        _heads = heads;
        HeadSteps = parts.HeadSteps;
        _recurrent = recurrent;
        _recurrentNames = recurrentNames;
        Options = options;
    }

    /// <summary>A model of <paramref name="parts"/>, its recurrent modules created with <paramref name="options"/>.</summary>
    /// <exception cref="InvalidWeightsException">A part's size does not fit the part before it; the message names both.</exception>
    /// <exception cref="ArgumentException">There is no recurrent network.</exception>
    public static SequenceModel Create(SequenceModelParts parts, RnnOptions? options = null) => Create(parts, options, source: null);

    /// <summary>As <see cref="Create(SequenceModelParts, RnnOptions?)"/>; <paramref name="source"/> (a file) begins each message when given.</summary>
    internal static SequenceModel Create(SequenceModelParts parts, RnnOptions? options, string? source)
    {
        ArgumentNullException.ThrowIfNull(parts);
        string from = source is null ? "" : source + ": ";
        ArgumentNullException.ThrowIfNull(parts.Recurrent);
        ArgumentNullException.ThrowIfNull(parts.Heads);
        if (parts.Recurrent.Count == 0) throw new ArgumentException("a sequence model needs at least one recurrent network", nameof(parts));
        if (parts.RecurrentNames is { } given && given.Count != parts.Recurrent.Count)
            throw new ArgumentException($"{given.Count} recurrent names for {parts.Recurrent.Count} recurrent networks", nameof(parts));
        string[] names = [.. parts.Recurrent.Select((_, index) => parts.RecurrentNames?[index] ?? $"recurrent[{index}]")];
        string[] headNames = [.. parts.Heads.Select((head, index) => head.Name ?? $"heads[{index}]")];

        (string Name, int Features) previous = parts.Embedding is { } embedding ? (embedding.Name, embedding.Dimension) : ("", 0);
        for (int index = 0; index < parts.Recurrent.Count; index++)
        {
            RnnSpec spec = parts.Recurrent[index].Spec;
            if (previous.Name.Length > 0 && spec.InputSize != previous.Features)
                throw new InvalidWeightsException(names[index], $"{from}{names[index]}: takes input_size {spec.InputSize} but {previous.Name} gives {previous.Features} features");
            previous = (names[index], spec.OutputFeatures);
        }

        for (int index = 0; index < parts.Heads.Count; index++)
        {
            DenseLayer head = parts.Heads[index];
            if (head.InputSize != previous.Features)
                throw new InvalidWeightsException(headNames[index], $"{from}{headNames[index]}: takes {head.InputSize} features but {previous.Name} gives {previous.Features}");
            previous = (headNames[index], head.OutputSize);
        }

        if (!Enum.IsDefined(parts.HeadSteps)) throw new ArgumentOutOfRangeException(nameof(parts), parts.HeadSteps, "not a HeadSteps");
        RnnOptions resolved = options ?? new RnnOptions();
        var modules = new List<RecurrentModule>();
        var heads = new List<DenseExecutor>();
        try
        {
            foreach (RnnWeights weights in parts.Recurrent) modules.Add(RecurrentModule.Create(weights, resolved));
            // The heads run on the last network's workspaces: in its backend, on its threads.
            foreach (DenseLayer head in parts.Heads) heads.Add(modules[^1].LoadDense(head));
        }
        catch
        {
            foreach (DenseExecutor head in heads) head.Dispose();
            foreach (RecurrentModule module in modules) module.Dispose();
            throw;
        }

        return new SequenceModel(parts, [.. modules], [.. heads], names, resolved);
    }

    /// <summary>
    /// A PyTorch model from its state_dict (<c>.safetensors</c>) and the JSON description of its layers (README,
    /// "Whole sequence models": <c>embedding</c>, <c>recurrent</c> prefixes, <c>heads</c>, <c>head_steps</c>).
    /// </summary>
    /// <exception cref="MalformedFileException">A file is broken, or the description is not JSON, names an unknown property, activation or step choice; the message names it.</exception>
    /// <exception cref="InvalidWeightsException">A tensor the description names is missing or of the wrong shape, or a layer's size does not fit the one before.</exception>
    public static SequenceModel LoadPyTorch(string weightsPath, string descriptionPath, RnnOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(weightsPath);
        ArgumentNullException.ThrowIfNull(descriptionPath);
        return FromPyTorch(SafetensorsFile.Load(weightsPath), File.ReadAllText(descriptionPath), descriptionPath, options);
    }

    /// <summary>As <see cref="LoadPyTorch"/>, from a read state_dict and the description's text.</summary>
    /// <inheritdoc cref="LoadPyTorch" path="/exception"/>
    public static SequenceModel FromPyTorch(SafetensorsFile weights, string descriptionJson, string descriptionName = "<description>", RnnOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentNullException.ThrowIfNull(descriptionJson);
        return Create(PyTorchSequenceModelReader.Read(weights, descriptionJson, descriptionName), options, weights.FilePath);
    }

    /// <summary>Token ids → vectors; null when the model takes feature vectors.</summary>
    public EmbeddingLayer? Embedding { get; }

    /// <summary>The recurrent modules, first to last.</summary>
    public IReadOnlyList<RecurrentModule> Recurrent => _recurrent;

    /// <summary>The dense layers after the last recurrent module.</summary>
    public IReadOnlyList<DenseLayer> Heads { get; }

    /// <summary>Which steps the heads see.</summary>
    public HeadSteps HeadSteps { get; }

    /// <summary>Backend, threads, precision and layout of the modules.</summary>
    public RnnOptions Options { get; }

    /// <summary>Features of each step's input: the first module's input_size (the embedding's dimension, for a model of ids).</summary>
    public int InputSize => _recurrent[0].Spec.InputSize;

    /// <summary>Features of each output: the last head's outputs, or the last module's features.</summary>
    public int OutputSize => Heads.Count > 0 ? Heads[^1].OutputSize : _recurrent[^1].Spec.OutputFeatures;

    /// <summary>The output's shape for an input of <paramref name="inputShape"/> (x, or ids without the feature axis).</summary>
    public int[] OutputShape(ReadOnlySpan<int> inputShape)
    {
        int[] steps = Embedding is null ? inputShape[..^1].ToArray() : inputShape.ToArray();
        if (HeadSteps == HeadSteps.Every) return [.. steps, OutputSize];
        // Last and FinalState: one output per row.
        return steps.Length == 2 ? [steps[Options.BatchFirst ? 0 : 1], OutputSize] : [OutputSize];
    }

    /// <summary>Runs the model on feature vectors.</summary>
    /// <param name="x"><c>[T, B, I]</c> (<c>[B, T, I]</c> batch-first), or <c>[T, I]</c> for one sequence.</param>
    /// <param name="lengths">Each row's valid steps in 1..T; null for all T.</param>
    /// <returns>Every step's output <c>[T, B, O]</c> (batch-first <c>[B, T, O]</c>), or one per row <c>[B, O]</c> (<see cref="HeadSteps.Last"/>, <see cref="HeadSteps.FinalState"/>).</returns>
    /// <exception cref="InvalidOperationException">The model starts with an embedding: give it ids (<see cref="ForwardIds"/>).</exception>
    /// <exception cref="ShapeMismatchException">x does not fit the model.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A length is outside 1..T.</exception>
    /// <exception cref="ObjectDisposedException">The model was disposed.</exception>
    public FloatTensor Forward(FloatTensor x, int[]? lengths = null)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (Embedding is not null) throw new InvalidOperationException($"the model starts with the embedding {Embedding.Name}: give it token ids (ForwardIds)");
        return Run(x, lengths);
    }

    /// <summary>Runs the model on token ids, looked up in <see cref="Embedding"/>.</summary>
    /// <param name="ids">The ids, row-major in <paramref name="shape"/>.</param>
    /// <param name="shape"><c>[T, B]</c> (<c>[B, T]</c> batch-first), or <c>[T]</c> for one sequence.</param>
    /// <param name="lengths">Each row's valid steps in 1..T; null for all T.</param>
    /// <returns>As <see cref="Forward"/>.</returns>
    /// <exception cref="InvalidOperationException">The model has no embedding: give it vectors (<see cref="Forward"/>).</exception>
    /// <exception cref="ShapeMismatchException">The shape is not of rank 1 or 2, or does not hold as many ids.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An id is outside the vocabulary, or a length outside 1..T.</exception>
    public FloatTensor ForwardIds(ReadOnlySpan<long> ids, int[] shape, int[]? lengths = null)
    {
        ArgumentNullException.ThrowIfNull(shape);
        return Run(Embed(ids, shape, nameof(ids)), lengths);
    }

    /// <summary>A stream's state for <paramref name="batch"/> rows: every module's h (and c) at zero.</summary>
    /// <exception cref="InvalidOperationException">A module is bidirectional: its reverse direction needs the whole sequence.</exception>
    public SequenceModelState CreateState(int batch)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batch, 1);
        for (int index = 0; index < _recurrent.Length; index++)
        {
            if (_recurrent[index].Spec.Bidirectional)
                throw new InvalidOperationException($"{_recurrentNames[index]} is bidirectional; a stream cannot step its reverse direction, which reads the sequence from its end");
        }

        return new SequenceModelState(this, batch);
    }

    /// <summary>One step of feature vectors <c>[B, I]</c> through the model, <paramref name="state"/> carried: the heads' output <c>[B, O]</c>.</summary>
    /// <exception cref="ShapeMismatchException">x_t does not fit the model or the state's batch.</exception>
    /// <exception cref="ArgumentException">The state belongs to another model.</exception>
    public FloatTensor Step(FloatTensor xt, SequenceModelState state)
    {
        ArgumentNullException.ThrowIfNull(xt);
        CheckState(state);
        ShapeChecks.CheckTensor(nameof(xt), xt, [state.Batch, InputSize], "one step's vectors, [batch, input_size]");
        var y = new float[state.Batch * OutputSize];
        Step(xt.Span, state, y);
        return new FloatTensor(y, state.Batch, OutputSize);
    }

    /// <summary>
    /// One step of feature vectors (<c>B·I</c> floats) into <paramref name="output"/> (<c>B·O</c> floats): after the
    /// first step of a state nothing is allocated, the state holding every buffer and workspace.
    /// </summary>
    /// <inheritdoc cref="Step(FloatTensor, SequenceModelState)" path="/exception"/>
    public void Step(ReadOnlySpan<float> xt, SequenceModelState state, Span<float> output)
    {
        if (Embedding is not null) throw new InvalidOperationException($"the model starts with the embedding {Embedding.Name}: step it with token ids (StepIds)");
        CheckState(state);
        ShapeChecks.CheckLength(nameof(xt), xt.Length, [state.Batch, InputSize], "one step's vectors, [batch, input_size]", required: true);
        StepVectors(xt, state, output);
    }

    /// <summary>One step of token ids <c>[B]</c> through the model, <paramref name="state"/> carried: the heads' output <c>[B, O]</c>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">An id is outside the vocabulary.</exception>
    /// <exception cref="ShapeMismatchException">There is not one id per row of the state.</exception>
    public FloatTensor StepIds(ReadOnlySpan<long> ids, SequenceModelState state)
    {
        CheckState(state);
        var y = new float[state.Batch * OutputSize];
        StepIds(ids, state, y);
        return new FloatTensor(y, state.Batch, OutputSize);
    }

    /// <summary>One step of token ids into <paramref name="output"/> (<c>B·O</c> floats), allocating nothing after the state's first step.</summary>
    /// <inheritdoc cref="StepIds(ReadOnlySpan{long}, SequenceModelState)" path="/exception"/>
    public void StepIds(ReadOnlySpan<long> ids, SequenceModelState state, Span<float> output)
    {
        CheckState(state);
        EmbeddingLayer embedding = Embedding ?? throw new InvalidOperationException("the model has no embedding: step it with vectors (Step)");
        if (ids.Length != state.Batch)
            throw new ShapeMismatchException(nameof(ids), $"[{state.Batch}]", $"has {ids.Length} ids", "one id per row of the stream");
        Span<float> vectors = state.Buffer(-1, state.Batch * embedding.Dimension);
        embedding.Lookup(ids, vectors);
        StepVectors(vectors, state, output);
    }

    /// <summary>The heads as loaded on the last network's backend, for streams (<see cref="Streams.StreamBatcher"/>).</summary>
    internal IReadOnlyList<DenseExecutor> HeadExecutors => _heads;

    /// <summary>What each recurrent network is called in messages.</summary>
    internal IReadOnlyList<string> RecurrentNames => _recurrentNames;

    /// <summary>Whether <see cref="Dispose"/> was called.</summary>
    internal bool IsDisposed { get; private set; }

    /// <inheritdoc />
    public void Dispose()
    {
        IsDisposed = true;
        foreach (DenseExecutor head in _heads) head.Dispose();
        foreach (RecurrentModule module in _recurrent) module.Dispose();
    }

    /// <inheritdoc />
    public override string ToString()
    {
        IEnumerable<string> parts = [
            .. Embedding is null ? [] : new[] { $"Embedding({Embedding.VocabularySize}, {Embedding.Dimension})" },
            .. _recurrent.Select(module => module.Spec.ToString()),
            .. Heads.Select(head => $"Dense({head.InputSize} -> {head.OutputSize}, {ActivationName(head.Activation)})"),
        ];
        return string.Join(" -> ", parts) + HeadSteps switch
        {
            HeadSteps.Last => " on each row's last step",
            HeadSteps.FinalState => " on the final state",
            _ => "",
        };
    }

    private static string ActivationName(DenseActivation activation) => activation == DenseActivation.LogSoftmax ? "log_softmax" : activation.ToString().ToLowerInvariant();

    private FloatTensor Embed(ReadOnlySpan<long> ids, int[] shape, string name)
    {
        EmbeddingLayer embedding = Embedding ?? throw new InvalidOperationException("the model has no embedding: give it vectors");
        if (shape.Length is not (1 or 2) || shape.Any(dim => dim < 1) || (long)shape.Aggregate(1L, (count, dim) => count * dim) != ids.Length)
        {
            throw new ShapeMismatchException(name, Options.BatchFirst ? "[B, T] or [T]" : "[T, B] or [T]",
                $"has {ids.Length} ids in shape {FloatTensor.FormatShape(shape)}", "token ids");
        }

        long count = (long)ids.Length * embedding.Dimension;
        if (count > Array.MaxLength) throw new ShapeMismatchException(name, "fewer ids", $"has {ids.Length} ids of {embedding.Dimension} features each", "vectors an array holds");
        var vectors = new float[count];
        embedding.Lookup(ids, vectors);
        return new FloatTensor(vectors, [.. shape, embedding.Dimension]);
    }

    private FloatTensor Run(FloatTensor x, int[]? lengths)
    {
        FloatTensor current = x;
        SequenceOutput? output = null;
        foreach (RecurrentModule module in _recurrent)
        {
            output = module.Forward(current, null, null, lengths);
            current = output.Output;
        }

        current = HeadSteps switch
        {
            HeadSteps.Last => LastSteps(current, lengths),
            HeadSteps.FinalState => SequenceSteps.FinalStates(output!.HiddenState, (_recurrent[^1].Spec.NumLayers - 1) * _recurrent[^1].Spec.Directions, _recurrent[^1].Spec.Directions),
            _ => current,
        };
        return ApplyHeads(current);
    }

    /// <summary>Each row's output at its last valid step: <c>[B, F]</c> (<c>[F]</c> for one sequence).</summary>
    private FloatTensor LastSteps(FloatTensor output, int[]? lengths)
    {
        int features = output.Dim(output.Rank - 1);
        if (output.Rank == 2) return new FloatTensor(output.Span.Slice((output.Dim(0) - 1) * features, features).ToArray(), features);
        bool batchFirst = Options.BatchFirst;
        int seqLen = output.Dim(batchFirst ? 1 : 0), batch = output.Dim(batchFirst ? 0 : 1);
        var last = new float[batch * features];
        ReadOnlySpan<float> source = output.Span;
        for (int b = 0; b < batch; b++)
        {
            int t = (lengths?[b] ?? seqLen) - 1;
            source.Slice((batchFirst ? (b * seqLen) + t : (t * batch) + b) * features, features).CopyTo(last.AsSpan(b * features));
        }

        return new FloatTensor(last, batch, features);
    }

    /// <summary>The heads on every row of <paramref name="input"/> (its last axis the features).</summary>
    private FloatTensor ApplyHeads(FloatTensor input)
    {
        if (_heads.Length == 0) return input;
        FloatTensor current = input;
        RecurrentModule last = _recurrent[^1];
        RnnWorkspace workspace = last.RentWorkspace();
        try
        {
            foreach (DenseExecutor head in _heads)
            {
                int rows = current.Length / head.Layer.InputSize;
                long count = (long)rows * head.Layer.OutputSize;
                if (count > Array.MaxLength) throw new ShapeMismatchException("x", "fewer steps", $"gives {rows} rows of {head.Layer.OutputSize} outputs", "outputs an array holds");
                var output = new float[count];
                head.Apply(current.Span, rows, output, workspace);
                int[] shape = current.Shape.ToArray();
                shape[^1] = head.Layer.OutputSize;
                current = new FloatTensor(output, shape);
            }
        }
        finally
        {
            last.ReturnWorkspace(workspace);
        }

        return current;
    }

    /// <summary>One step through every module (its state updated in place) and the heads, with the state's buffers.</summary>
    private void StepVectors(ReadOnlySpan<float> vectors, SequenceModelState state, Span<float> output)
    {
        int batch = state.Batch;
        if (output.Length != batch * OutputSize)
            throw new ShapeMismatchException(nameof(output), $"[{batch}, {OutputSize}]", $"has {output.Length} floats", "one step's outputs");
        ReadOnlySpan<float> current = vectors;
        for (int index = 0; index < _recurrent.Length; index++)
        {
            RecurrentModule module = _recurrent[index];
            bool last = index == _recurrent.Length - 1 && Heads.Count == 0;
            Span<float> y = last ? output : state.Buffer(index, batch * module.Spec.OutputFeatures);
            float[] hidden = state.Hidden[index], cell = state.Cell[index];
            module.Forward(current, 1, batch, y, hidden, cell, state.Workspace(index), hidden, cell);
            current = y;
        }

        for (int index = 0; index < _heads.Length; index++)
        {
            DenseExecutor head = _heads[index];
            Span<float> y = index == _heads.Length - 1 ? output : state.Buffer(_recurrent.Length + index, batch * head.Layer.OutputSize);
            head.Apply(current, batch, y, state.Workspace(_recurrent.Length - 1));
            current = y;
        }
    }

    private void CheckState(SequenceModelState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (!ReferenceEquals(state.Model, this)) throw new ArgumentException("the state was created by another model", nameof(state));
    }
}

/// <summary>
/// A stream's recurrent state in a <see cref="SequenceModel"/>: every module's h (and c for an LSTM),
/// <c>[L·D, B, H]</c> each, carried from one <see cref="SequenceModel.Step(FloatTensor, SequenceModelState)"/> to the
/// next, with the buffers and workspaces a step uses, so that a step into a caller's span allocates nothing after the
/// first. One stream: step it from one thread at a time. Dispose it to free its workspaces.
/// </summary>
public sealed class SequenceModelState : IDisposable
{
    private readonly RnnWorkspace?[] _workspaces;
    private readonly Dictionary<int, float[]> _buffers = [];

    internal SequenceModelState(SequenceModel model, int batch)
    {
        Model = model;
        Batch = batch;
        int modules = model.Recurrent.Count;
        Hidden = new float[modules][];
        Cell = new float[modules][];
        _workspaces = new RnnWorkspace?[modules];
        for (int index = 0; index < modules; index++)
        {
            RnnSpec spec = model.Recurrent[index].Spec;
            Hidden[index] = new float[spec.LayerDirectionCount * batch * spec.OutputSize];
            Cell[index] = spec.Kind.HasCellState() ? new float[spec.LayerDirectionCount * batch * spec.HiddenSize] : [];
        }
    }

    /// <summary>The rows the stream steps at once.</summary>
    public int Batch { get; }

    internal SequenceModel Model { get; }

    /// <summary>Each module's h after the last step, updated in place.</summary>
    internal float[][] Hidden { get; }

    /// <summary>Each LSTM module's c after the last step (empty for the others), updated in place.</summary>
    internal float[][] Cell { get; }

    /// <summary>A copy of module <paramref name="index"/>'s h, <c>[L·D, B, H]</c>.</summary>
    public FloatTensor HiddenState(int index)
    {
        RnnSpec spec = Model.Recurrent[index].Spec;
        return new FloatTensor([.. Hidden[index]], spec.LayerDirectionCount, Batch, spec.OutputSize);
    }

    /// <summary>A copy of module <paramref name="index"/>'s c (an LSTM's), <c>[L·D, B, H]</c>; null for another kind.</summary>
    public FloatTensor? CellState(int index)
    {
        RnnSpec spec = Model.Recurrent[index].Spec;
        return spec.Kind.HasCellState() ? new FloatTensor([.. Cell[index]], spec.LayerDirectionCount, Batch, spec.HiddenSize) : null;
    }

    /// <summary>Every state back to zero, as a new stream starts.</summary>
    public void Reset()
    {
        foreach (float[] state in Hidden.Concat(Cell)) Array.Clear(state);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (RnnWorkspace? workspace in _workspaces) workspace?.Dispose();
    }

    /// <summary>Module <paramref name="index"/>'s workspace, made on its first step.</summary>
    internal RnnWorkspace Workspace(int index) => _workspaces[index] ??= Model.Recurrent[index].CreateWorkspace();

    /// <summary>The buffer of one stage of a step (-1 the embedding's vectors, then each module's and head's output), made on first use.</summary>
    internal Span<float> Buffer(int stage, int length)
    {
        if (!_buffers.TryGetValue(stage, out float[]? buffer) || buffer.Length != length) _buffers[stage] = buffer = new float[length];
        return buffer;
    }
}
