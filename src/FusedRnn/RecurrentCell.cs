using FusedRnn.Backends;

namespace FusedRnn;

/// <summary>The state after one cell step: h <c>[B, H]</c> and, for an LSTM, c <c>[B, H]</c>.</summary>
/// <param name="Hidden">h'.</param>
/// <param name="Cell">c' for an LSTM cell, else null.</param>
public sealed record CellOutput(FloatTensor Hidden, FloatTensor? Cell);

/// <summary>
/// One time step for a batch, like PyTorch's nn.LSTMCell, nn.GRUCell and nn.RNNCell. Weights use the cells'
/// state_dict names (<c>weight_ih</c>, <c>weight_hh</c>, <c>bias_ih</c>, <c>bias_hh</c>).
/// </summary>
public abstract class RecurrentCell : RecurrentBase
{
    private protected RecurrentCell(RnnWeights weights, RnnOptions? options, Func<CellKind, bool> acceptsKind, string expected)
        : base(CheckSingleLayer(weights), options, acceptsKind, expected)
    {
    }

    /// <summary>Input features.</summary>
    public int InputSize => Spec.InputSize;

    /// <summary>Hidden units.</summary>
    public int HiddenSize => Spec.HiddenSize;

    /// <summary>
    /// One step: x <c>[B, I]</c> (or unbatched <c>[I]</c>), h and c <c>[B, H]</c> (or <c>[H]</c>), null for zeros.
    /// Returns new tensors.
    /// </summary>
    /// <exception cref="ShapeMismatchException">An argument's shape does not fit.</exception>
    public CellOutput Forward(FloatTensor input, FloatTensor? hidden = null, FloatTensor? cell = null)
    {
        ArgumentNullException.ThrowIfNull(input);
        RnnSpec spec = Executor.Spec;
        if (input.Rank is not (1 or 2))
            throw new ShapeMismatchException(nameof(input), $"[batch, {spec.InputSize}]", $"has shape {FloatTensor.FormatShape(input.Shape)}",
                "batch, input_size; or [input_size] unbatched");
        int batch = input.Rank == 2 ? input.Dim(0) : 1;
        int[] StateShape(int features) => input.Rank == 2 ? [batch, features] : [features];
        ShapeChecks.CheckTensor(nameof(input), input, StateShape(spec.InputSize), "batch, input_size");
        ShapeChecks.CheckTensor(nameof(hidden), hidden, StateShape(spec.HiddenSize), "batch, hidden_size");
        if (!spec.Kind.HasCellState() && cell is not null)
            throw new ArgumentException($"a {spec.Kind.DisplayName()} cell has no cell state", nameof(cell));
        ShapeChecks.CheckTensor(nameof(cell), cell, StateShape(spec.HiddenSize), "batch, hidden_size");

        FloatTensor hOut = ShapeChecks.NewOutput("h'", StateShape(spec.HiddenSize), nameof(input));
        FloatTensor? cOut = spec.Kind.HasCellState() ? ShapeChecks.NewOutput("c'", StateShape(spec.HiddenSize), nameof(input)) : null;
        RnnWorkspace workspace = RentWorkspace();
        try
        {
            Step(input.Span, batch, hidden is null ? default : hidden.Span, cell is null ? default : cell.Span,
                hOut.Span, cOut is null ? default : cOut.Span, workspace);
        }
        finally
        {
            ReturnWorkspace(workspace);
        }
        return new CellOutput(hOut, cOut);
    }

    /// <summary>
    /// One step into caller-owned state buffers with a reused workspace; allocates nothing after the first call.
    /// <paramref name="hiddenOut"/> may be the same memory as <paramref name="hidden"/> (and likewise for c) to carry
    /// the state in place.
    /// </summary>
    /// <param name="input">x, <c>B·I</c> floats.</param>
    /// <param name="batch">B.</param>
    /// <param name="hidden">h, <c>B·H</c> floats, or empty for zeros.</param>
    /// <param name="cell">c (LSTM), <c>B·H</c> floats, or empty for zeros.</param>
    /// <param name="hiddenOut">h', <c>B·H</c> floats.</param>
    /// <param name="cellOut">c' (LSTM), <c>B·H</c> floats; empty for GRU/RNN.</param>
    /// <param name="workspace">From <see cref="RecurrentBase.CreateWorkspace"/>.</param>
    public void Step(
        ReadOnlySpan<float> input, int batch, ReadOnlySpan<float> hidden, ReadOnlySpan<float> cell,
        Span<float> hiddenOut, Span<float> cellOut, RnnWorkspace workspace)
    {
        RnnExecutor executor = Executor;
        CheckWorkspace(workspace);
        if (batch < 1) throw new ArgumentOutOfRangeException(nameof(batch), batch, "batch size must be at least 1");
        RnnSpec spec = executor.Spec;
        ReadOnlySpan<int> stateShape = [batch, spec.HiddenSize];
        ShapeChecks.CheckLength(nameof(input), input.Length, [batch, spec.InputSize], "batch, input_size", required: true);
        ShapeChecks.CheckLength(nameof(hidden), hidden.Length, stateShape, "batch, hidden_size", required: false);
        ShapeChecks.CheckLength(nameof(hiddenOut), hiddenOut.Length, stateShape, "batch, hidden_size", required: true);
        if (spec.Kind.HasCellState())
        {
            ShapeChecks.CheckLength(nameof(cell), cell.Length, stateShape, "batch, hidden_size", required: false);
            ShapeChecks.CheckLength(nameof(cellOut), cellOut.Length, stateShape, "batch, hidden_size", required: true);
        }
        else if (!cell.IsEmpty || !cellOut.IsEmpty)
        {
            throw new ArgumentException($"a {spec.Kind.DisplayName()} cell has no cell state", cell.IsEmpty ? nameof(cellOut) : nameof(cell));
        }

        Run(new ForwardRequest
        {
            Input = input, SeqLen = 1, Batch = batch,
            InitialHidden = hidden, InitialCell = cell,
            FinalHidden = hiddenOut, FinalCell = cellOut,
        }, workspace);
    }

    private static RnnWeights CheckSingleLayer(RnnWeights weights)
    {
        ArgumentNullException.ThrowIfNull(weights);
        RnnSpec spec = weights.Spec;
        if (spec.NumLayers != 1 || spec.Bidirectional || spec.ProjSize != 0)
            throw new InvalidWeightsException(nameof(weights), $"a cell needs one layer, one direction and no projection, but the weights describe {spec}");
        return weights;
    }
}

/// <summary>One LSTM step, like nn.LSTMCell: <c>c' = f⊙c + i⊙g</c>, <c>h' = o⊙tanh(c')</c>.</summary>
public sealed class LstmCell : RecurrentCell
{
    /// <summary>Loads single-layer LSTM weights.</summary>
    public LstmCell(RnnWeights weights, RnnOptions? options = null)
        : base(weights, options, kind => kind == CellKind.Lstm, "an LSTM cell")
    {
    }

    /// <summary>Loads an nn.LSTMCell (or single-layer nn.LSTM) state_dict from .safetensors.</summary>
    public static LstmCell Load(string path, string? prefix = null, RnnOptions? options = null) =>
        new(RnnWeights.LoadSafetensors(path, prefix), options);
}

/// <summary>One GRU step, like nn.GRUCell.</summary>
public sealed class GruCell : RecurrentCell
{
    /// <summary>Loads single-layer GRU weights.</summary>
    public GruCell(RnnWeights weights, RnnOptions? options = null)
        : base(weights, options, kind => kind == CellKind.Gru, "a GRU cell")
    {
    }

    /// <summary>Loads an nn.GRUCell (or single-layer nn.GRU) state_dict from .safetensors.</summary>
    public static GruCell Load(string path, string? prefix = null, RnnOptions? options = null) =>
        new(RnnWeights.LoadSafetensors(path, prefix), options);
}

/// <summary>One Elman RNN step with tanh or ReLU, like nn.RNNCell.</summary>
public sealed class RnnCell : RecurrentCell
{
    /// <summary>Loads single-layer Elman RNN weights.</summary>
    public RnnCell(RnnWeights weights, RnnOptions? options = null)
        : base(weights, options, kind => kind is CellKind.RnnTanh or CellKind.RnnRelu, "an Elman RNN cell")
    {
    }

    /// <summary>Loads an nn.RNNCell state_dict from .safetensors.</summary>
    public static RnnCell Load(string path, RnnNonlinearity nonlinearity, string? prefix = null, RnnOptions? options = null) =>
        new(RnnWeights.LoadSafetensors(path, prefix, nonlinearity), options);
}
