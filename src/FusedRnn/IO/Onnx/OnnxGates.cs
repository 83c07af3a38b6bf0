namespace FusedRnn.IO.Onnx;

/// <summary>
/// ONNX's gate order against PyTorch's, the one table for reading and writing ONNX models: ONNX stacks an LSTM's
/// gates i, o, f, c (PyTorch i, f, g, o), a GRU's z, r, h (PyTorch r, z, n), and the peepholes P i, o, f
/// (<see cref="LayerWeights.WeightP"/> i, f, o).
/// </summary>
internal static class OnnxGates
{
    /// <summary>For each ONNX gate block, in ONNX's order, the PyTorch block it is.</summary>
    public static int[] PyTorchGateOf(CellKind kind) => kind switch
    {
        CellKind.Lstm => [0, 3, 1, 2],
        CellKind.Gru => [1, 0, 2],
        _ => [0],
    };

    /// <summary>For each ONNX peephole block (i, o, f), the <see cref="LayerWeights.WeightP"/> block it is.</summary>
    public static readonly int[] PeepholeOf = [0, 2, 1];

    /// <summary>PyTorch's blocks of <paramref name="block"/> values in ONNX's <paramref name="order"/>: block j is source block order[j].</summary>
    public static float[] ToOnnx(ReadOnlySpan<float> source, int[] order, int block)
    {
        var reordered = new float[source.Length];
        for (int index = 0; index < order.Length; index++)
            source.Slice(order[index] * block, block).CopyTo(reordered.AsSpan(index * block, block));
        return reordered;
    }

    /// <summary>ONNX's blocks of <paramref name="block"/> values in PyTorch's order: source block j becomes block order[j].</summary>
    public static float[] FromOnnx(ReadOnlySpan<float> source, int[] order, int block)
    {
        var reordered = new float[source.Length];
        for (int index = 0; index < order.Length; index++)
            source.Slice(index * block, block).CopyTo(reordered.AsSpan(order[index] * block, block));
        return reordered;
    }
}
