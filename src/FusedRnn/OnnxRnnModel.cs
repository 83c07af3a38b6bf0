using FusedRnn.IO;

namespace FusedRnn;

/// <summary>Which way an ONNX LSTM, GRU or RNN node runs.</summary>
public enum OnnxDirection
{
    /// <summary><c>direction="forward"</c> (ONNX's default).</summary>
    Forward,

    /// <summary><c>direction="reverse"</c>: one direction, from each row's last step to its first.</summary>
    Reverse,

    /// <summary><c>direction="bidirectional"</c>: forward and reverse, PyTorch's bidirectional network.</summary>
    Bidirectional,
}

/// <summary>How an ONNX model lays out a sequence: its x, or its y.</summary>
public enum OnnxSequenceLayout
{
    /// <summary><c>[T, B, F]</c>: x as a node in layout 0 takes it, or y as PyTorch gives it (F = D·H).</summary>
    TimeMajor,

    /// <summary><c>[B, T, F]</c>: x as a node in layout 1 takes it, or y as a batch-first PyTorch network gives it.</summary>
    BatchMajor,

    /// <summary><c>[T, D, B, H]</c>: Y as a node in layout 0 gives it.</summary>
    OnnxTimeMajor,

    /// <summary><c>[B, T, D, H]</c>: Y as a node in layout 1 gives it.</summary>
    OnnxBatchMajor,
}

/// <summary>How an ONNX model lays out the initial and final states of its L layers of D directions.</summary>
public enum OnnxStateLayout
{
    /// <summary><c>[L·D, B, H]</c>: a node's states in layout 0, and PyTorch's h_n.</summary>
    DirectionMajor,

    /// <summary><c>[B, L·D, H]</c>: a node's states in layout 1.</summary>
    BatchMajor,
}

/// <summary>The layouts of a model's arrays, as its graph inputs and outputs have them.</summary>
/// <param name="X">The sequence in: <see cref="OnnxSequenceLayout.TimeMajor"/> or <see cref="OnnxSequenceLayout.BatchMajor"/>.</param>
/// <param name="Y">The sequence out (for a graph without one, its nodes' own Y).</param>
/// <param name="States">initial_h, initial_c, Y_h and Y_c.</param>
public sealed record OnnxArrayLayouts(OnnxSequenceLayout X, OnnxSequenceLayout Y, OnnxStateLayout States);

/// <summary>The graph inputs a model reads; null for one it does not have.</summary>
/// <param name="X">The sequence.</param>
/// <param name="SequenceLengths">Per-row lengths (every node's sequence_lens).</param>
/// <param name="InitialHidden">Every layer's initial_h, stacked.</param>
/// <param name="InitialCell">Every layer's initial_c (LSTM), stacked.</param>
public sealed record OnnxInputNames(string X, string? SequenceLengths, string? InitialHidden, string? InitialCell);

/// <summary>The graph outputs a model gives; null for one it does not have.</summary>
/// <param name="Y">The last layer's every step.</param>
/// <param name="FinalHidden">Every layer's Y_h, stacked.</param>
/// <param name="FinalCell">Every layer's Y_c (LSTM), stacked.</param>
public sealed record OnnxOutputNames(string? Y, string? FinalHidden, string? FinalCell);

/// <summary>
/// An ONNX model (opsets 7 to 22) of LSTM, GRU or RNN nodes read into this library's terms: one node, or one node per
/// layer chained by the layout ops exporters write between them (Transpose, Reshape, Squeeze, Unsqueeze, Concat,
/// Slice, Split, Gather, Expand, Identity, and Constant, ConstantOfShape, Shape and Cast for their parameters and the
/// zero initial states). <see cref="Weights"/> holds the stack in PyTorch's layout with every attribute in its
/// <see cref="CellVariant"/> (activations with α and β per direction, clip, input_forget, peepholes,
/// linear_before_reset); <see cref="Layouts"/> says how the graph's own inputs and outputs lay out the arrays.
/// <see cref="CreateModule"/> runs it on those arrays, or on PyTorch's.
/// <para>
/// W, R, B and P must be stored in the file (initializers, or layout ops on them); sequence_lens, initial_h and
/// initial_c may be graph inputs or stored (<see cref="SequenceLengths"/>, <see cref="InitialHidden"/>,
/// <see cref="InitialCell"/>). The nodes of a stack share their operator, hidden size, direction (forward or
/// bidirectional), layout and cell attributes. activation_alpha and activation_beta are read as ONNX Runtime reads
/// them: each activation that takes α (β) takes the next value of the list.
/// </para>
/// </summary>
public sealed class OnnxRnnModel
{
    private readonly OnnxWholeModel? _whole;

    internal OnnxRnnModel(RnnWeights weights, IReadOnlyList<string> nodeNames, OnnxDirection direction, int layout, OnnxInputNames inputs,
        OnnxOutputNames outputs, OnnxArrayLayouts layouts, int[]? sequenceLengths, FloatTensor? initialHidden, FloatTensor? initialCell,
        OnnxWholeModel? whole = null)
    {
        _whole = whole;
        Weights = weights;
        NodeNames = nodeNames;
        Direction = direction;
        Layout = layout;
        Inputs = inputs;
        Outputs = outputs;
        Layouts = layouts;
        SequenceLengths = sequenceLengths;
        InitialHidden = initialHidden;
        InitialCell = initialCell;
    }

    /// <summary>Reads a <c>.onnx</c> file.</summary>
    /// <exception cref="MalformedFileException">The file is not an ONNX model, or its nodes or tensors contradict ONNX's operator definitions; the message names them.</exception>
    /// <exception cref="UnsupportedModelException">The graph has other operators, nodes that do not form one stack, external data or non-float32 weights; the message names them.</exception>
    public static OnnxRnnModel Load(string path) => Parse(File.ReadAllBytes(path), path);

    /// <summary>Reads a model from its bytes; <paramref name="displayName"/> names it in messages.</summary>
    /// <inheritdoc cref="Load" path="/exception"/>
    public static OnnxRnnModel Parse(byte[] bytes, string displayName = "<memory>")
    {
        ArgumentNullException.ThrowIfNull(bytes);
        return OnnxImporter.Read(bytes, displayName);
    }

    /// <summary>The network, PyTorch's layout, a layer per node (for <see cref="OnnxDirection.Reverse"/>, one direction run over reversed sequences).</summary>
    public RnnWeights Weights { get; }

    /// <summary>The recurrent nodes' names, first layer first.</summary>
    public IReadOnlyList<string> NodeNames { get; }

    /// <summary>The nodes' direction.</summary>
    public OnnxDirection Direction { get; }

    /// <summary>The nodes' layout attribute: 0, X <c>[T, B, I]</c> and states <c>[D, B, H]</c>; 1, X <c>[B, T, I]</c> and states <c>[B, D, H]</c>.</summary>
    public int Layout { get; }

    /// <summary>The graph inputs the model reads.</summary>
    public OnnxInputNames Inputs { get; }

    /// <summary>The graph outputs the model gives.</summary>
    public OnnxOutputNames Outputs { get; }

    /// <summary>How the graph's inputs and outputs lay out x, y and the states.</summary>
    public OnnxArrayLayouts Layouts { get; }

    /// <summary>sequence_lens when the model stores it; else null.</summary>
    public int[]? SequenceLengths { get; }

    /// <summary>initial_h when the model stores it, every layer's stacked in <see cref="OnnxArrayLayouts.States"/>; else null.</summary>
    public FloatTensor? InitialHidden { get; }

    /// <summary>initial_c when the model stores it, as <see cref="InitialHidden"/>; else null.</summary>
    public FloatTensor? InitialCell { get; }

    /// <summary>
    /// Whether the graph is a whole model: an embedding (Gather of a stored table by the ids input) before the stack,
    /// or dense layers (MatMul or Gemm, Add, Relu, Tanh, Sigmoid, Softmax, LogSoftmax) after it.
    /// <see cref="CreateSequenceModel"/> runs all of it; <see cref="CreateModule"/> the stack alone.
    /// </summary>
    public bool IsWholeModel => _whole is not null;

    /// <summary>The embedding before the stack; null for none. <see cref="Inputs"/>' X then names the ids input.</summary>
    public EmbeddingLayer? Embedding => _whole?.Embedding;

    /// <summary>The dense layers after the stack, first to last; empty for none. <see cref="Outputs"/>' Y then names their output.</summary>
    public IReadOnlyList<DenseLayer> Heads => _whole?.Heads ?? [];

    /// <summary>Which steps the heads read: every step, each row's last one (<c>y[:, -1]</c>), or the final states.</summary>
    public HeadSteps HeadSteps => _whole?.HeadSteps ?? HeadSteps.Every;

    /// <summary>
    /// The whole model as a <see cref="SequenceModel"/>: embedding, stack and heads, in PyTorch's layouts
    /// (<see cref="RnnOptions.BatchFirst"/> for batch-major ids or x; the graph's own is <see cref="OnnxArrayLayouts.X"/>).
    /// </summary>
    /// <exception cref="InvalidOperationException">The node runs in reverse, which a SequenceModel's modules do not.</exception>
    public SequenceModel CreateSequenceModel(RnnOptions? options = null)
    {
        if (Direction == OnnxDirection.Reverse)
            throw new InvalidOperationException($"node '{NodeNames[0]}' runs in reverse; run it with CreateModule, which reverses each row's steps");
        return SequenceModel.Create(new SequenceModelParts(Embedding, [Weights], Heads, HeadSteps, [$"the stack {string.Join(" -> ", NodeNames.Select(n => $"'{n}'"))}"]), options);
    }

    /// <summary>A module that runs the model on arrays in its graph's layouts (or PyTorch's).</summary>
    /// <param name="options">Backend, threads and precision; <see cref="RnnOptions.BatchFirst"/> is the graph's and is ignored.</param>
    public OnnxRecurrentModule CreateModule(RnnOptions? options = null) => new(this, options);
}

/// <summary>What an ONNX model computes, in its graph's layouts (<see cref="OnnxRnnModel.Layouts"/>).</summary>
/// <param name="Y">The last layer's every step's h, zero past each row's length.</param>
/// <param name="FinalHidden">Every layer's Y_h stacked: each row's h after its last step (for the reverse direction, after its first).</param>
/// <param name="FinalCell">Every layer's Y_c for an LSTM; else null.</param>
public sealed record OnnxOutputs(FloatTensor Y, FloatTensor FinalHidden, FloatTensor? FinalCell);

/// <summary>
/// An <see cref="OnnxRnnModel"/> ready to run on its graph's arrays: x, sequence_lens, initial_h and initial_c in, Y,
/// Y_h and Y_c out, in the layouts of <see cref="OnnxRnnModel.Layouts"/>, through a <see cref="RecurrentModule"/> on
/// the chosen backend. The reverse direction runs the forward network over each row's steps in reverse order.
/// Thread-safe as the module is.
/// </summary>
public sealed class OnnxRecurrentModule : IDisposable
{
    private readonly RecurrentModule _module;
    private readonly OnnxRnnModel _model;

    internal OnnxRecurrentModule(OnnxRnnModel model, RnnOptions? options)
    {
        _model = model;
        _module = RecurrentModule.Create(model.Weights, (options ?? new RnnOptions()) with { BatchFirst = XIsBatchMajor });
    }

    /// <summary>The module that computes it, in PyTorch's layout.</summary>
    public RecurrentModule Module => _module;

    /// <summary>Runs the model on arrays in its graph's layouts.</summary>
    /// <param name="x"><c>[T, B, I]</c> or <c>[B, T, I]</c>, as <see cref="OnnxArrayLayouts.X"/> says.</param>
    /// <param name="sequenceLengths">One length per row in 1..T; null for the model's stored one, or every row T.</param>
    /// <param name="initialHidden">initial_h of every layer, <c>[L·D, B, H]</c> or <c>[B, L·D, H]</c> as <see cref="OnnxArrayLayouts.States"/> says; null for the model's stored one, or zeros.</param>
    /// <param name="initialCell">initial_c (LSTM), as initial_h.</param>
    /// <exception cref="ShapeMismatchException">An argument's shape does not fit the model or x.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A length is outside 1..T.</exception>
    /// <exception cref="ObjectDisposedException">The module was disposed.</exception>
    public OnnxOutputs Forward(FloatTensor x, int[]? sequenceLengths = null, FloatTensor? initialHidden = null, FloatTensor? initialCell = null)
    {
        int batch = BatchOf(x, XIsBatchMajor);
        SequenceOutput output = Run(x, sequenceLengths,
            StateIn(initialHidden ?? _model.InitialHidden, nameof(initialHidden), batch), StateIn(initialCell ?? _model.InitialCell, nameof(initialCell), batch));
        return new OnnxOutputs(YOut(output.Output), StateOut(output.HiddenState), output.CellState is { } cn ? StateOut(cn) : null);
    }

    /// <summary>
    /// Runs the model on arrays in PyTorch's layouts instead, as an nn.LSTM, nn.GRU or nn.RNN of its layers would take
    /// them: x <c>[T, B, I]</c> (<c>[B, T, I]</c> when <paramref name="batchFirst"/>), y <c>[T, B, D·H]</c> (batch-first
    /// <c>[B, T, D·H]</c>), h0, c0, h_n and c_n <c>[L·D, B, H]</c>. The reverse direction's y is at each step's own
    /// position, as the reverse half of a bidirectional PyTorch output is.
    /// </summary>
    /// <inheritdoc cref="Forward" path="/exception"/>
    public SequenceOutput ForwardInPyTorchLayout(FloatTensor x, bool batchFirst, int[]? lengths = null, FloatTensor? h0 = null, FloatTensor? c0 = null)
    {
        int batch = BatchOf(x, batchFirst);
        bool transposed = batchFirst != XIsBatchMajor;
        SequenceOutput output = Run(transposed ? SequenceSteps.Transpose01(x) : x, lengths,
            h0 ?? StateIn(_model.InitialHidden, "the stored initial_h", batch), c0 ?? StateIn(_model.InitialCell, "the stored initial_c", batch));
        return transposed ? output with { Output = SequenceSteps.Transpose01(output.Output) } : output;
    }

    /// <inheritdoc />
    public void Dispose() => _module.Dispose();

    /// <summary>Whether the graph takes x batch-major, as the module was created.</summary>
    private bool XIsBatchMajor => _model.Layouts.X == OnnxSequenceLayout.BatchMajor;

    /// <summary>B of x, which must be rank 3.</summary>
    private static int BatchOf(FloatTensor x, bool batchFirst)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (x.Rank != 3)
        {
            throw new ShapeMismatchException(nameof(x), batchFirst ? "[B, T, I]" : "[T, B, I]", $"has shape {FloatTensor.FormatShape(x.Shape)}",
                "the sequence (an ONNX model takes a batch)");
        }

        return x.Dim(batchFirst ? 0 : 1);
    }

    /// <summary>
    /// The module on x in the module's layout, h0 and c0 <c>[L·D, B, H]</c> or null; the stored lengths when none
    /// are given. The reverse direction runs over each row's steps reversed, and its y is reversed back.
    /// </summary>
    private SequenceOutput Run(FloatTensor x, int[]? sequenceLengths, FloatTensor? h0, FloatTensor? c0)
    {
        int seqLen = x.Dim(XIsBatchMajor ? 1 : 0), batch = x.Dim(XIsBatchMajor ? 0 : 1);
        int[]? lengths = sequenceLengths ?? _model.SequenceLengths;
        if (_model.Direction != OnnxDirection.Reverse) return _module.Forward(x, h0, c0, lengths);
        if (lengths is not null) ShapeChecks.CheckLengths(lengths, seqLen, batch);
        SequenceOutput output = _module.Forward(SequenceSteps.ReverseSteps(x, seqLen, batch, lengths, XIsBatchMajor), h0, c0, lengths);
        return output with { Output = SequenceSteps.ReverseSteps(output.Output, seqLen, batch, lengths, XIsBatchMajor) };
    }

    private bool StatesAreBatchMajor => _model.Layouts.States == OnnxStateLayout.BatchMajor;

    /// <summary>A state in the graph's layout as PyTorch's <c>[L·D, B, H]</c>.</summary>
    private FloatTensor? StateIn(FloatTensor? state, string name, int batch)
    {
        if (state is null || !StatesAreBatchMajor) return state;
        RnnSpec spec = _model.Weights.Spec;
        ShapeChecks.CheckTensor(name, state, [batch, spec.LayerDirectionCount, spec.HiddenSize], "[B, L·D, H], the graph's layout");
        return SequenceSteps.Transpose01(state);
    }

    private FloatTensor StateOut(FloatTensor state) => StatesAreBatchMajor ? SequenceSteps.Transpose01(state) : state;

    /// <summary>The module's y (<c>[T, B, D·H]</c>, or <c>[B, T, D·H]</c> when x is batch-major) in the graph's Y layout.</summary>
    private FloatTensor YOut(FloatTensor y)
    {
        OnnxSequenceLayout layout = _model.Layouts.Y;
        bool wantBatchMajor = layout is OnnxSequenceLayout.BatchMajor or OnnxSequenceLayout.OnnxBatchMajor;
        FloatTensor ordered = wantBatchMajor == XIsBatchMajor ? y : SequenceSteps.Transpose01(y);
        int directions = _model.Weights.Spec.Directions, hidden = _model.Weights.Spec.HiddenSize;
        if (layout is OnnxSequenceLayout.TimeMajor or OnnxSequenceLayout.BatchMajor) return ordered;
        if (layout == OnnxSequenceLayout.OnnxBatchMajor) return new FloatTensor(ordered.Memory, ordered.Dim(0), ordered.Dim(1), directions, hidden);
        int seqLen = ordered.Dim(0), batch = ordered.Dim(1);
        var result = new float[ordered.Length];
        ReadOnlySpan<float> source = ordered.Span;
        for (int t = 0; t < seqLen; t++)
            for (int b = 0; b < batch; b++)
                for (int d = 0; d < directions; d++)
                    source.Slice((((t * batch) + b) * directions * hidden) + (d * hidden), hidden).CopyTo(result.AsSpan(((((t * directions) + d) * batch) + b) * hidden, hidden));
        return new FloatTensor(result, seqLen, directions, batch, hidden);
    }
}

/// <summary>What a whole model's graph holds around its stack.</summary>
internal sealed record OnnxWholeModel(EmbeddingLayer? Embedding, IReadOnlyList<DenseLayer> Heads, HeadSteps HeadSteps);
