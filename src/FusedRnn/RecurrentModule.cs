using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using FusedRnn.Backends;

namespace FusedRnn;

/// <summary>The result of a sequence forward pass, with PyTorch's shapes.</summary>
/// <param name="Output">y: <c>[T, B, D·Hout]</c> (<c>[B, T, D·Hout]</c> when batch-first), zero past each row's length.</param>
/// <param name="HiddenState">h_n: <c>[L·D, B, Hout]</c>, each row's state after its last valid step.</param>
/// <param name="CellState">c_n: <c>[L·D, B, H]</c> for an LSTM, else null.</param>
public sealed record SequenceOutput(FloatTensor Output, FloatTensor HiddenState, FloatTensor? CellState);

/// <summary>
/// A multi-layer, optionally bidirectional recurrent network over whole sequences, like PyTorch's nn.LSTM, nn.GRU
/// and nn.RNN. Thread-safe for concurrent forward calls as long as each thread uses its own workspace (the
/// allocating overloads make their own).
/// </summary>
public abstract class RecurrentModule : RecurrentBase
{
    private protected RecurrentModule(RnnWeights weights, RnnOptions? options, Func<CellKind, bool> acceptsKind, string expected)
        : base(weights, options, acceptsKind, expected)
    {
    }

    /// <summary>Whether x and y are <c>[B, T, F]</c>.</summary>
    public bool BatchFirst => Options.BatchFirst;

    /// <summary>Loads a PyTorch state_dict from .safetensors as whichever module it holds (LSTM, GRU or RNN).</summary>
    /// <param name="path">The file.</param>
    /// <param name="prefix">The module's name prefix (e.g. <c>rnn.</c>); null finds it.</param>
    /// <param name="options">Backend and layout.</param>
    /// <param name="nonlinearity">For an Elman RNN (the file cannot tell).</param>
    public static RecurrentModule Load(string path, string? prefix = null, RnnOptions? options = null, RnnNonlinearity nonlinearity = RnnNonlinearity.Tanh) =>
        Create(RnnWeights.LoadSafetensors(path, prefix, nonlinearity), options);

    /// <summary>The module type matching the weights' kind.</summary>
    public static RecurrentModule Create(RnnWeights weights, RnnOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(weights);
        return weights.Spec.Kind switch
        {
            CellKind.Lstm => new Lstm(weights, options),
            CellKind.Gru => new Gru(weights, options),
            _ => new Rnn(weights, options),
        };
    }

    /// <summary>
    /// Runs whole sequences and returns new tensors. x is <c>[T, B, I]</c> (<c>[B, T, I]</c> when batch-first) or
    /// unbatched <c>[T, I]</c>; states and outputs then drop their batch dimension, as in PyTorch.
    /// </summary>
    /// <param name="input">x.</param>
    /// <param name="h0">Initial hidden state <c>[L·D, B, Hout]</c>; null for zeros.</param>
    /// <param name="c0">Initial cell state <c>[L·D, B, H]</c> (LSTM only); null for zeros.</param>
    /// <param name="lengths">One length per batch row in 1..T, any order (PackedSequence semantics); null for all T.</param>
    /// <exception cref="ShapeMismatchException">An argument's shape does not fit the model or x.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A length is outside 1..T.</exception>
    /// <exception cref="ObjectDisposedException">The module was disposed.</exception>
    public SequenceOutput Forward(FloatTensor input, FloatTensor? h0 = null, FloatTensor? c0 = null, int[]? lengths = null)
    {
        ArgumentNullException.ThrowIfNull(input);
        return ForwardAllocating(input.Span, input.Shape, h0 is null ? default : h0.Span, h0 is null ? default : h0.Shape,
            c0 is null ? default : c0.Span, c0 is null ? default : c0.Shape, lengths);
    }

    /// <summary>
    /// <see cref="Forward(FloatTensor, FloatTensor?, FloatTensor?, int[])"/> over System.Numerics.Tensors' types
    /// (a <c>Tensor&lt;float&gt;</c> or <c>TensorSpan&lt;float&gt;</c> converts to a <see cref="ReadOnlyTensorSpan{T}"/>):
    /// dense tensors are read in place, nothing is copied. An empty <paramref name="h0"/> or <paramref name="c0"/>
    /// (the default) means zeros.
    /// </summary>
    /// <exception cref="ArgumentException">A tensor is not dense (strided or broadcast).</exception>
    public SequenceOutput Forward(ReadOnlyTensorSpan<float> input, ReadOnlyTensorSpan<float> h0 = default, ReadOnlyTensorSpan<float> c0 = default, int[]? lengths = null)
    {
        return ForwardAllocating(DenseSpan(input, nameof(input)), Dims(input, nameof(input)), DenseSpan(h0, nameof(h0)), Dims(h0, nameof(h0)),
            DenseSpan(c0, nameof(c0)), Dims(c0, nameof(c0)), lengths);

        static ReadOnlySpan<float> DenseSpan(in ReadOnlyTensorSpan<float> tensor, string name)
        {
            if (tensor.IsEmpty) return default;
            if (!tensor.IsDense) throw new ArgumentException($"{name} must be a dense tensor (contiguous, row-major)", name);
            return MemoryMarshal.CreateReadOnlySpan(ref Unsafe.AsRef(in tensor.GetPinnableReference()), checked((int)tensor.FlattenedLength));
        }

        static int[] Dims(in ReadOnlyTensorSpan<float> tensor, string name)
        {
            if (tensor.IsEmpty) return [];
            var dims = new int[tensor.Rank];
            for (int axis = 0; axis < dims.Length; axis++)
                dims[axis] = tensor.Lengths[axis] <= int.MaxValue ? (int)tensor.Lengths[axis] : throw new ArgumentOutOfRangeException(name, tensor.Lengths[axis], $"{name} dimension {axis} is larger than int.MaxValue");
            return dims;
        }
    }

    private SequenceOutput ForwardAllocating(
        ReadOnlySpan<float> input, ReadOnlySpan<int> inputDims, ReadOnlySpan<float> h0, ReadOnlySpan<int> h0Dims,
        ReadOnlySpan<float> c0, ReadOnlySpan<int> c0Dims, int[]? lengths)
    {
        RnnSpec spec = Executor.Spec;
        SequenceShapes shapes = spec.OutputShapes(inputDims, BatchFirst)
            ?? throw new ShapeMismatchException(nameof(input), BatchFirst ? "[batch, seq_len, input_size]" : "[seq_len, batch, input_size]",
                $"has shape {FloatTensor.FormatShape(inputDims)}", "3-D, or 2-D [seq_len, input_size] for one unbatched sequence");
        bool batched = inputDims.Length == 3;
        int seqLen = batched && BatchFirst ? inputDims[1] : inputDims[0];
        int batch = batched ? (BatchFirst ? inputDims[0] : inputDims[1]) : 1;
        int[] inputShape = !batched ? [seqLen, spec.InputSize] : BatchFirst ? [batch, seqLen, spec.InputSize] : [seqLen, batch, spec.InputSize];
        ShapeChecks.CheckDims(nameof(input), inputDims, inputShape, "input_size must match the model");
        if (!h0Dims.IsEmpty) ShapeChecks.CheckDims(nameof(h0), h0Dims, shapes.HiddenState, "num_layers*num_directions, batch, hidden features");
        if (shapes.CellState is { } cellShape && !c0Dims.IsEmpty) ShapeChecks.CheckDims(nameof(c0), c0Dims, cellShape, "num_layers*num_directions, batch, hidden_size");

        FloatTensor output = ShapeChecks.NewOutput("y", shapes.Output, nameof(input));
        FloatTensor hn = ShapeChecks.NewOutput("h_n", shapes.HiddenState, nameof(input));
        FloatTensor? cn = shapes.CellState is { } cell ? ShapeChecks.NewOutput("c_n", cell, nameof(input)) : null;
        RnnWorkspace workspace = RentWorkspace();
        try
        {
            Forward(input, seqLen, batch, output.Span, hn.Span, cn is null ? default : cn.Span, workspace, h0, c0, lengths);
        }
        finally
        {
            ReturnWorkspace(workspace);
        }
        return new SequenceOutput(output, hn, cn);
    }

    /// <summary>
    /// Runs whole sequences into caller-owned outputs with a reused workspace: after the first call of a given size
    /// nothing is allocated. Spans are row-major with the shapes of <see cref="Forward(FloatTensor, FloatTensor?, FloatTensor?, int[])"/>.
    /// </summary>
    /// <param name="input">x, <c>T·B·I</c> floats.</param>
    /// <param name="seqLen">T.</param>
    /// <param name="batch">B.</param>
    /// <param name="output">y, <c>T·B·D·Hout</c> floats.</param>
    /// <param name="hiddenState">h_n, <c>L·D·B·Hout</c> floats.</param>
    /// <param name="cellState">c_n, <c>L·D·B·H</c> floats for an LSTM; empty for GRU/RNN.</param>
    /// <param name="workspace">From <see cref="RecurrentBase.CreateWorkspace"/>; one per thread.</param>
    /// <param name="h0">Initial hidden state, or empty for zeros. May alias <paramref name="hiddenState"/>.</param>
    /// <param name="c0">Initial cell state (LSTM), or empty for zeros. May alias <paramref name="cellState"/>.</param>
    /// <param name="lengths">One length per row in 1..T, or empty for all T.</param>
    public void Forward(
        ReadOnlySpan<float> input, int seqLen, int batch,
        Span<float> output, Span<float> hiddenState, Span<float> cellState, RnnWorkspace workspace,
        ReadOnlySpan<float> h0 = default, ReadOnlySpan<float> c0 = default, ReadOnlySpan<int> lengths = default)
    {
        RnnExecutor executor = Executor;
        CheckWorkspace(workspace);
        ShapeChecks.CheckSequence(executor.Spec, BatchFirst, seqLen, batch, input.Length, h0.Length, c0.Length, lengths,
            output.Length, hiddenState.Length, cellState.Length, outputsRequired: true);
        Run(new ForwardRequest
        {
            Input = input, SeqLen = seqLen, Batch = batch, BatchFirst = BatchFirst,
            InitialHidden = h0, InitialCell = c0, Lengths = lengths,
            Output = output, FinalHidden = hiddenState, FinalCell = cellState,
        }, workspace);
    }
}

/// <summary>A multi-layer LSTM with PyTorch's semantics (gates i, f, g, o; optional projection <c>proj_size</c>).</summary>
public sealed class Lstm : RecurrentModule
{
    /// <summary>Loads <paramref name="weights"/> (an LSTM) into the backend named by <paramref name="options"/>.</summary>
    public Lstm(RnnWeights weights, RnnOptions? options = null)
        : base(weights, options, kind => kind == CellKind.Lstm, "an LSTM")
    {
    }

    /// <summary>Loads an nn.LSTM state_dict from .safetensors.</summary>
    public static Lstm Load(string path, string? prefix = null, RnnOptions? options = null) =>
        new(RnnWeights.LoadSafetensors(path, prefix), options);

    /// <summary>
    /// <see cref="RecurrentModule.Forward(FloatTensor, FloatTensor?, FloatTensor?, int[])"/> with c_n typed as present,
    /// which it always is for an LSTM.
    /// </summary>
    public new LstmOutput Forward(FloatTensor input, FloatTensor? h0 = null, FloatTensor? c0 = null, int[]? lengths = null) =>
        LstmOutput.From(base.Forward(input, h0, c0, lengths));

    /// <summary>
    /// <see cref="RecurrentModule.Forward(ReadOnlyTensorSpan{float}, ReadOnlyTensorSpan{float}, ReadOnlyTensorSpan{float}, int[])"/>
    /// with c_n typed as present.
    /// </summary>
    public new LstmOutput Forward(ReadOnlyTensorSpan<float> input, ReadOnlyTensorSpan<float> h0 = default, ReadOnlyTensorSpan<float> c0 = default, int[]? lengths = null) =>
        LstmOutput.From(base.Forward(input, h0, c0, lengths));
}

/// <summary>An LSTM's <see cref="SequenceOutput"/>: the same tensors, with c_n never null.</summary>
/// <param name="Output">y: <c>[T, B, D·Hout]</c> (<c>[B, T, D·Hout]</c> when batch-first), zero past each row's length.</param>
/// <param name="HiddenState">h_n: <c>[L·D, B, Hout]</c>.</param>
/// <param name="CellState">c_n: <c>[L·D, B, H]</c>.</param>
public sealed record LstmOutput(FloatTensor Output, FloatTensor HiddenState, FloatTensor CellState)
{
    /// <summary>The same tensors as the <see cref="SequenceOutput"/> every module returns.</summary>
    public static implicit operator SequenceOutput(LstmOutput output)
    {
        ArgumentNullException.ThrowIfNull(output);
        return new(output.Output, output.HiddenState, output.CellState);
    }

    internal static LstmOutput From(SequenceOutput output) => new(output.Output, output.HiddenState, output.CellState!);
}

/// <summary>A multi-layer GRU with PyTorch's semantics (gates r, z, n; <c>b_hn</c> inside the reset product).</summary>
public sealed class Gru : RecurrentModule
{
    /// <summary>Loads <paramref name="weights"/> (a GRU) into the backend named by <paramref name="options"/>.</summary>
    public Gru(RnnWeights weights, RnnOptions? options = null)
        : base(weights, options, kind => kind == CellKind.Gru, "a GRU")
    {
    }

    /// <summary>Loads an nn.GRU state_dict from .safetensors.</summary>
    public static Gru Load(string path, string? prefix = null, RnnOptions? options = null) =>
        new(RnnWeights.LoadSafetensors(path, prefix), options);
}

/// <summary>A multi-layer Elman RNN with tanh or ReLU, like nn.RNN.</summary>
public sealed class Rnn : RecurrentModule
{
    /// <summary>Loads <paramref name="weights"/> (an Elman RNN; the kind carries the nonlinearity).</summary>
    public Rnn(RnnWeights weights, RnnOptions? options = null)
        : base(weights, options, kind => kind is CellKind.RnnTanh or CellKind.RnnRelu, "an Elman RNN")
    {
    }

    /// <summary>The nonlinearity.</summary>
    public RnnNonlinearity Nonlinearity => Spec.Kind == CellKind.RnnRelu ? RnnNonlinearity.Relu : RnnNonlinearity.Tanh;

    /// <summary>Loads an nn.RNN state_dict from .safetensors.</summary>
    public static Rnn Load(string path, RnnNonlinearity nonlinearity, string? prefix = null, RnnOptions? options = null) =>
        new(RnnWeights.LoadSafetensors(path, prefix, nonlinearity), options);
}
