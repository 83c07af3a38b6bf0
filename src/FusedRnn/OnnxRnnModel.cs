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

/// <summary>The names of a node's inputs; null for one the node leaves out.</summary>
/// <param name="X">The sequence.</param>
/// <param name="SequenceLengths">sequence_lens.</param>
/// <param name="InitialHidden">initial_h.</param>
/// <param name="InitialCell">initial_c (LSTM).</param>
public sealed record OnnxNodeInputs(string X, string? SequenceLengths, string? InitialHidden, string? InitialCell);

/// <summary>The names of a node's outputs; null for one it does not produce.</summary>
/// <param name="Y">Every step's h.</param>
/// <param name="FinalHidden">Y_h.</param>
/// <param name="FinalCell">Y_c (LSTM).</param>
public sealed record OnnxNodeOutputs(string? Y, string? FinalHidden, string? FinalCell);

/// <summary>
/// An ONNX model of one LSTM, GRU or RNN node (opsets 7 to 22) read into this library's terms: <see cref="Weights"/>
/// holds the network in PyTorch's layout with every attribute in its <see cref="CellVariant"/> (activations with α and
/// β per direction, clip, input_forget, peepholes, linear_before_reset), and the node's direction, layout and
/// inputs say how ONNX lays out its arrays. <see cref="CreateModule"/> runs it on ONNX's arrays.
/// <para>
/// W, R, B and P must be initializers (stored in the file); sequence_lens, initial_h and initial_c may be graph inputs
/// or initializers (<see cref="SequenceLengths"/>, <see cref="InitialHidden"/>, <see cref="InitialCell"/>).
/// activation_alpha and activation_beta are read as ONNX Runtime reads them: each activation that takes α (β) takes
/// the next value of the list.
/// </para>
/// </summary>
public sealed class OnnxRnnModel
{
    internal OnnxRnnModel(RnnWeights weights, string nodeName, OnnxDirection direction, int layout, OnnxNodeInputs inputs,
        OnnxNodeOutputs outputs, int[]? sequenceLengths, FloatTensor? initialHidden, FloatTensor? initialCell)
    {
        Weights = weights;
        NodeName = nodeName;
        Direction = direction;
        Layout = layout;
        Inputs = inputs;
        Outputs = outputs;
        SequenceLengths = sequenceLengths;
        InitialHidden = initialHidden;
        InitialCell = initialCell;
    }

    /// <summary>Reads a <c>.onnx</c> file.</summary>
    /// <exception cref="MalformedFileException">The file is not an ONNX model, or its node or tensors contradict ONNX's operator definition; the message names them.</exception>
    /// <exception cref="UnsupportedModelException">The graph has other operators, external data or non-float32 weights.</exception>
    public static OnnxRnnModel Load(string path) => Parse(File.ReadAllBytes(path), path);

    /// <summary>Reads a model from its bytes; <paramref name="displayName"/> names it in messages.</summary>
    /// <inheritdoc cref="Load" path="/exception"/>
    public static OnnxRnnModel Parse(byte[] bytes, string displayName = "<memory>")
    {
        ArgumentNullException.ThrowIfNull(bytes);
        return OnnxImporter.Read(bytes, displayName);
    }

    /// <summary>The network, PyTorch's layout (for <see cref="OnnxDirection.Reverse"/>, one direction run over reversed sequences).</summary>
    public RnnWeights Weights { get; }

    /// <summary>The node's name.</summary>
    public string NodeName { get; }

    /// <summary>The node's direction.</summary>
    public OnnxDirection Direction { get; }

    /// <summary>
    /// The node's layout attribute: 0, X <c>[T, B, I]</c>, Y <c>[T, D, B, H]</c>, states <c>[D, B, H]</c>; 1, X
    /// <c>[B, T, I]</c>, Y <c>[B, T, D, H]</c>, states <c>[B, D, H]</c>.
    /// </summary>
    public int Layout { get; }

    /// <summary>The node's input names.</summary>
    public OnnxNodeInputs Inputs { get; }

    /// <summary>The node's output names.</summary>
    public OnnxNodeOutputs Outputs { get; }

    /// <summary>sequence_lens when the model stores it as an initializer; else null.</summary>
    public int[]? SequenceLengths { get; }

    /// <summary>initial_h when the model stores it, in the node's layout; else null.</summary>
    public FloatTensor? InitialHidden { get; }

    /// <summary>initial_c when the model stores it, in the node's layout; else null.</summary>
    public FloatTensor? InitialCell { get; }

    /// <summary>A module that runs the node on arrays in its ONNX layout.</summary>
    /// <param name="options">Backend, threads and precision; <see cref="RnnOptions.BatchFirst"/> is the layout's and is ignored.</param>
    public OnnxRecurrentModule CreateModule(RnnOptions? options = null) => new(this, options);
}

/// <summary>What an ONNX node computes, in its layout (<see cref="OnnxRnnModel.Layout"/>).</summary>
/// <param name="Y">Every step's h, zero past each row's length.</param>
/// <param name="FinalHidden">Y_h: each row's h after its last step (for the reverse direction, after its first).</param>
/// <param name="FinalCell">Y_c for an LSTM; else null.</param>
public sealed record OnnxOutputs(FloatTensor Y, FloatTensor FinalHidden, FloatTensor? FinalCell);

/// <summary>
/// An <see cref="OnnxRnnModel"/> ready to run on ONNX's arrays: x, sequence_lens, initial_h and initial_c in, Y, Y_h and
/// Y_c out, in the node's layout, through a <see cref="RecurrentModule"/> on the chosen backend. The reverse
/// direction runs the forward network over each row's steps in reverse order. Thread-safe as the module is.
/// </summary>
public sealed class OnnxRecurrentModule : IDisposable
{
    private readonly RecurrentModule _module;
    private readonly OnnxRnnModel _model;

    internal OnnxRecurrentModule(OnnxRnnModel model, RnnOptions? options)
    {
        _model = model;
        _module = RecurrentModule.Create(model.Weights, (options ?? new RnnOptions()) with { BatchFirst = model.Layout == 1 });
    }

    /// <summary>The module that computes it, in PyTorch's layout.</summary>
    public RecurrentModule Module => _module;

    /// <summary>Runs the node on arrays in its ONNX layout.</summary>
    /// <param name="x"><c>[T, B, I]</c> (layout 0) or <c>[B, T, I]</c> (layout 1).</param>
    /// <param name="sequenceLengths">One length per row in 1..T; null for the model's stored one, or every row T.</param>
    /// <param name="initialHidden">initial_h, <c>[D, B, H]</c> (layout 0) or <c>[B, D, H]</c> (layout 1); null for the model's stored one, or zeros.</param>
    /// <param name="initialCell">initial_c (LSTM), as initial_h.</param>
    /// <exception cref="ShapeMismatchException">An argument's shape does not fit the model or x.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A length is outside 1..T.</exception>
    /// <exception cref="ObjectDisposedException">The module was disposed.</exception>
    public OnnxOutputs Forward(FloatTensor x, int[]? sequenceLengths = null, FloatTensor? initialHidden = null, FloatTensor? initialCell = null)
    {
        int batch = BatchOf(x, LayoutIsBatchFirst);
        SequenceOutput output = Run(x, sequenceLengths,
            StateIn(initialHidden ?? _model.InitialHidden, nameof(initialHidden), batch), StateIn(initialCell ?? _model.InitialCell, nameof(initialCell), batch));
        return new OnnxOutputs(YOut(output.Output), StateOut(output.HiddenState), output.CellState is { } cn ? StateOut(cn) : null);
    }

    /// <summary>
    /// Runs the node on arrays in PyTorch's layouts instead, as an nn.LSTM, nn.GRU or nn.RNN of one layer would take
    /// them: x <c>[T, B, I]</c> (<c>[B, T, I]</c> when <paramref name="batchFirst"/>), y <c>[T, B, D·H]</c> (batch-first
    /// <c>[B, T, D·H]</c>), h0, c0, h_n and c_n <c>[D, B, H]</c>. The reverse direction's y is at each step's own
    /// position, as the reverse half of a bidirectional PyTorch output is.
    /// </summary>
    /// <inheritdoc cref="Forward" path="/exception"/>
    public SequenceOutput ForwardInPyTorchLayout(FloatTensor x, bool batchFirst, int[]? lengths = null, FloatTensor? h0 = null, FloatTensor? c0 = null)
    {
        int batch = BatchOf(x, batchFirst);
        bool transposed = batchFirst != LayoutIsBatchFirst;
        SequenceOutput output = Run(transposed ? SequenceSteps.Transpose01(x) : x, lengths,
            h0 ?? StateIn(_model.InitialHidden, "the stored initial_h", batch), c0 ?? StateIn(_model.InitialCell, "the stored initial_c", batch));
        return transposed ? output with { Output = SequenceSteps.Transpose01(output.Output) } : output;
    }

    /// <inheritdoc />
    public void Dispose() => _module.Dispose();

    /// <summary>Whether the node's layout (1) is batch-major, which the module was created with.</summary>
    private bool LayoutIsBatchFirst => _model.Layout == 1;

    /// <summary>B of x, which must be rank 3.</summary>
    private int BatchOf(FloatTensor x, bool batchFirst)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (x.Rank != 3)
        {
            throw new ShapeMismatchException(nameof(x), batchFirst ? "[B, T, I]" : "[T, B, I]", $"has shape {FloatTensor.FormatShape(x.Shape)}",
                "the sequence (an ONNX node takes a batch)");
        }

        return x.Dim(batchFirst ? 0 : 1);
    }

    /// <summary>
    /// The module on x in its layout (the node's), h0 and c0 <c>[D, B, H]</c> or null; the stored lengths when none
    /// are given. The reverse direction runs over each row's steps reversed, and its y is reversed back.
    /// </summary>
    private SequenceOutput Run(FloatTensor x, int[]? sequenceLengths, FloatTensor? h0, FloatTensor? c0)
    {
        int seqLen = x.Dim(LayoutIsBatchFirst ? 1 : 0), batch = x.Dim(LayoutIsBatchFirst ? 0 : 1);
        int[]? lengths = sequenceLengths ?? _model.SequenceLengths;
        if (_model.Direction != OnnxDirection.Reverse) return _module.Forward(x, h0, c0, lengths);
        if (lengths is not null) ShapeChecks.CheckLengths(lengths, seqLen, batch);
        SequenceOutput output = _module.Forward(SequenceSteps.ReverseSteps(x, seqLen, batch, lengths, LayoutIsBatchFirst), h0, c0, lengths);
        return output with { Output = SequenceSteps.ReverseSteps(output.Output, seqLen, batch, lengths, LayoutIsBatchFirst) };
    }

    /// <summary>A state in the node's layout as PyTorch's <c>[D, B, H]</c>.</summary>
    private FloatTensor? StateIn(FloatTensor? state, string name, int batch)
    {
        if (state is null || !LayoutIsBatchFirst) return state;
        int directions = _model.Weights.Spec.Directions, hidden = _model.Weights.Spec.HiddenSize;
        ShapeChecks.CheckTensor(name, state, [batch, directions, hidden], "[B, D, H] in layout 1");
        return SequenceSteps.Transpose01(state);
    }

    private FloatTensor StateOut(FloatTensor state) => _model.Layout == 0 ? state : SequenceSteps.Transpose01(state);


    /// <summary>
    /// PyTorch's y in the node's layout (<c>[T, B, D·H]</c>, or <c>[B, T, D·H]</c> batch-first) as ONNX's Y:
    /// <c>[T, D, B, H]</c> (layout 0) or <c>[B, T, D, H]</c> (layout 1, the same memory).
    /// </summary>
    private FloatTensor YOut(FloatTensor y)
    {
        int directions = _model.Weights.Spec.Directions, hidden = _model.Weights.Spec.HiddenSize;
        if (LayoutIsBatchFirst) return new FloatTensor(y.Memory, y.Dim(0), y.Dim(1), directions, hidden);
        int seqLen = y.Dim(0), batch = y.Dim(1);
        var result = new float[y.Length];
        ReadOnlySpan<float> source = y.Span;
        for (int t = 0; t < seqLen; t++)
            for (int b = 0; b < batch; b++)
                for (int d = 0; d < directions; d++)
                    source.Slice((((t * batch) + b) * directions * hidden) + (d * hidden), hidden).CopyTo(result.AsSpan(((((t * directions) + d) * batch) + b) * hidden, hidden));
        return new FloatTensor(result, seqLen, directions, batch, hidden);
    }
}
