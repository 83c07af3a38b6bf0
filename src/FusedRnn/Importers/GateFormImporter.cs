namespace FusedRnn;

/// <summary>
/// Converts the per-gate form — one <c>[H, H+I]</c> matrix per gate applied to <c>concat(h_prev, x)</c> and one bias
/// per gate — into PyTorch's stacked layout: the first H columns go to <c>weight_hh</c>, the last I to
/// <c>weight_ih</c>, the gate biases become <c>bias_ih</c> and <c>bias_hh</c> is zero.
/// </summary>
internal static class GateFormImporter
{
    /// <param name="kind">LSTM or GRU.</param>
    /// <param name="inputSize">I.</param>
    /// <param name="hiddenSize">H.</param>
    /// <param name="gates">Gate matrices in PyTorch's gate order, with the names the caller used.</param>
    /// <param name="biases">Gate biases in the same order; all null for no bias.</param>
    /// <param name="cell">The cell variant the gates are written for (PyTorch's when null).</param>
    public static RnnWeights Import(CellKind kind, int inputSize, int hiddenSize, (string Name, float[] Matrix)[] gates, (string Name, float[]? Bias)[] biases,
        CellVariant? cell = null)
    {
        var spec = new RnnSpec(kind, inputSize, hiddenSize, Bias: biases.Any(b => b.Bias is not null)) { Cell = cell ?? CellVariant.PyTorch }.Validate();
        int combined = hiddenSize + inputSize;
        var weightIh = new float[gates.Length * hiddenSize * inputSize];
        var weightHh = new float[gates.Length * hiddenSize * hiddenSize];
        for (int gate = 0; gate < gates.Length; gate++)
        {
            (string name, float[] matrix) = gates[gate];
            if (matrix is null) throw new InvalidWeightsException(name, $"{name} is null");
            if (matrix.Length != hiddenSize * combined)
                throw new InvalidWeightsException(name,
                    $"{name} has {matrix.Length} elements but must have shape [{hiddenSize}, {combined}] (hidden, hidden + input) = {hiddenSize * combined}");
            for (int row = 0; row < hiddenSize; row++)
            {
                ReadOnlySpan<float> source = matrix.AsSpan(row * combined, combined);
                int stackedRow = gate * hiddenSize + row;
                source[..hiddenSize].CopyTo(weightHh.AsSpan(stackedRow * hiddenSize, hiddenSize));
                source[hiddenSize..].CopyTo(weightIh.AsSpan(stackedRow * inputSize, inputSize));
            }
        }

        float[]? biasIh = null, biasHh = null;
        if (spec.Bias)
        {
            biasIh = new float[gates.Length * hiddenSize];
            biasHh = new float[gates.Length * hiddenSize];
            for (int gate = 0; gate < biases.Length; gate++)
            {
                (string name, float[]? bias) = biases[gate];
                if (bias is null)
                    throw new InvalidWeightsException(name, $"{name} is missing: give every gate bias or none");
                if (bias.Length != hiddenSize)
                    throw new InvalidWeightsException(name, $"{name} has {bias.Length} elements but must have shape [{hiddenSize}]");
                bias.CopyTo(biasIh, gate * hiddenSize);
            }
        }

        return new RnnWeights(spec, [new LayerWeights(weightIh, weightHh, biasIh, biasHh)]);
    }
}
