namespace FusedRnn;

/// <summary>
/// The architecture of a recurrent network, in PyTorch's terms: what the weights describe, independent of
/// the data layout of a call (batch-first is a module option, not part of the spec).
/// </summary>
/// <param name="Kind">Cell kind (LSTM, GRU, RNN with tanh or relu).</param>
/// <param name="InputSize">Features per input step, <c>input_size</c>.</param>
/// <param name="HiddenSize">Units per layer and direction, <c>hidden_size</c>.</param>
/// <param name="NumLayers">Stacked layers, <c>num_layers</c>.</param>
/// <param name="Bidirectional">Whether each layer also runs backwards in time.</param>
/// <param name="Bias">Whether the layers have <c>bias_ih</c>/<c>bias_hh</c>.</param>
/// <param name="ProjSize">LSTM projection size <c>proj_size</c> (0: none); must be below <paramref name="HiddenSize"/>.</param>
public sealed record RnnSpec(
    CellKind Kind,
    int InputSize,
    int HiddenSize,
    int NumLayers = 1,
    bool Bidirectional = false,
    bool Bias = true,
    int ProjSize = 0)
{
    /// <summary>
    /// What the cell computes beyond its kind (activations, clip, peepholes, coupled gate, GRU reset placement);
    /// <see cref="CellVariant.PyTorch"/> by default.
    /// </summary>
    public CellVariant Cell { get; init; } = CellVariant.PyTorch;

    /// <summary>1, or 2 when bidirectional.</summary>
    public int Directions => Bidirectional ? 2 : 1;

    /// <summary>Size of h: <see cref="ProjSize"/> when projecting, else <see cref="HiddenSize"/>.</summary>
    public int OutputSize => ProjSize > 0 ? ProjSize : HiddenSize;

    /// <summary>Gate blocks per layer (4, 3 or 1).</summary>
    public int GateCount => Kind.GateCount();

    /// <summary>Features of one output step: directions × <see cref="OutputSize"/>.</summary>
    public int OutputFeatures => Directions * OutputSize;

    /// <summary>Number of (layer, direction) pairs; also the first dimension of h_n and c_n.</summary>
    public int LayerDirectionCount => NumLayers * Directions;

    /// <summary>Input features of layer <paramref name="layer"/>: the input size, then the previous layer's output.</summary>
    public int LayerInputSize(int layer) => layer == 0 ? InputSize : OutputFeatures;

    /// <summary>
    /// The shapes of y, h_n and c_n a module's Forward returns for x of <paramref name="inputShape"/>
    /// (<c>[T, B, I]</c>, <c>[B, T, I]</c> when <paramref name="batchFirst"/>, or unbatched <c>[T, I]</c>): PyTorch's, which
    /// the caller-owned buffers of the span overload also take. Null for an input of another rank.
    /// </summary>
    public SequenceShapes? OutputShapes(ReadOnlySpan<int> inputShape, bool batchFirst)
    {
        if (inputShape.Length is not (2 or 3)) return null;
        bool batched = inputShape.Length == 3;
        int seqLen = batched && batchFirst ? inputShape[1] : inputShape[0];
        int batch = batched ? (batchFirst ? inputShape[0] : inputShape[1]) : 1;
        int[] StateShape(int features) => batched ? [LayerDirectionCount, batch, features] : [LayerDirectionCount, features];
        int[] output = !batched ? [seqLen, OutputFeatures] : batchFirst ? [batch, seqLen, OutputFeatures] : [seqLen, batch, OutputFeatures];
        return new SequenceShapes(output, StateShape(OutputSize), Kind.HasCellState() ? StateShape(HiddenSize) : null);
    }

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid field.</summary>
    public RnnSpec Validate()
    {
        if (!Enum.IsDefined(Kind)) throw new ArgumentException($"unknown cell kind {(int)Kind}", nameof(Kind));
        if (InputSize < 1) throw new ArgumentOutOfRangeException(nameof(InputSize), InputSize, "input size must be at least 1");
        if (HiddenSize < 1) throw new ArgumentOutOfRangeException(nameof(HiddenSize), HiddenSize, "hidden size must be at least 1");
        if (NumLayers < 1) throw new ArgumentOutOfRangeException(nameof(NumLayers), NumLayers, "number of layers must be at least 1");
        if (ProjSize < 0) throw new ArgumentOutOfRangeException(nameof(ProjSize), ProjSize, "projection size cannot be negative");
        if (ProjSize > 0 && Kind != CellKind.Lstm)
            throw new ArgumentException($"proj_size is only supported by LSTM, not {Kind.DisplayName()}", nameof(ProjSize));
        if (ProjSize >= HiddenSize && ProjSize > 0)
            throw new ArgumentOutOfRangeException(nameof(ProjSize), ProjSize, $"proj_size must be smaller than hidden_size ({HiddenSize}), as in PyTorch");
        ArgumentNullException.ThrowIfNull(Cell, nameof(Cell));
        Cell.Validate(this);
        // Every weight matrix must fit one array; in 64-bit arithmetic, so that no product of sizes downstream wraps.
        long gateRows = (long)GateCount * HiddenSize, outputFeatures = (long)Directions * OutputSize;
        long largestInput = long.Max(InputSize, NumLayers > 1 ? outputFeatures : 0);
        if (gateRows * long.Max(largestInput, OutputSize) > Array.MaxLength)
            throw new ArgumentOutOfRangeException(nameof(HiddenSize), HiddenSize,
                $"{GateCount}·hidden_size × max(input features, hidden features) = {gateRows} × {long.Max(largestInput, OutputSize)} weights " +
                $"per matrix, more than an array holds ({Array.MaxLength})");
        return this;
    }

    /// <inheritdoc />
    public override string ToString() =>
        $"{Kind.DisplayName()}(input_size={InputSize}, hidden_size={HiddenSize}, num_layers={NumLayers}, " +
        $"bidirectional={Bidirectional}, bias={Bias}" + (ProjSize > 0 ? $", proj_size={ProjSize}" : "") +
        (Cell.IsPyTorch ? ")" : $", cell: {Cell})");
}

/// <summary>The shapes of a sequence forward pass's outputs (see <see cref="RnnSpec.OutputShapes"/>).</summary>
/// <param name="Output">y.</param>
/// <param name="HiddenState">h_n.</param>
/// <param name="CellState">c_n for an LSTM, else null.</param>
public sealed record SequenceShapes(int[] Output, int[] HiddenState, int[]? CellState);
