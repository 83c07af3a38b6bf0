namespace FusedRnn;

/// <summary>
/// Rearrangements of a rank-3 sequence or state tensor that the importers' modules share: the time-major and
/// batch-major layouts, and the reversed steps that run a forward network as a reverse direction.
/// </summary>
internal static class SequenceSteps
{
    /// <summary>[A, B, F] → [B, A, F].</summary>
    public static FloatTensor Transpose01(FloatTensor tensor)
    {
        int a = tensor.Dim(0), b = tensor.Dim(1), features = tensor.Dim(2);
        var result = new float[tensor.Length];
        ReadOnlySpan<float> source = tensor.Span;
        for (int i = 0; i < a; i++)
            for (int j = 0; j < b; j++) source.Slice(((i * b) + j) * features, features).CopyTo(result.AsSpan(((j * a) + i) * features, features));
        return new FloatTensor(result, b, a, features);
    }

    /// <summary>
    /// Each row's first <c>length</c> steps (every step when <paramref name="lengths"/> is null) in reverse order,
    /// zeros after: applied twice it gives back the valid steps, so it maps x to the reversed run's input and that
    /// run's y back to each step's own position.
    /// </summary>
    public static FloatTensor ReverseSteps(FloatTensor sequence, int seqLen, int batch, int[]? lengths, bool batchFirst)
    {
        int features = sequence.Dim(2);
        var result = new float[sequence.Length];
        ReadOnlySpan<float> source = sequence.Span;
        int Offset(int t, int b) => (batchFirst ? (b * seqLen) + t : (t * batch) + b) * features;
        for (int b = 0; b < batch; b++)
        {
            int length = lengths?[b] ?? seqLen;
            for (int t = 0; t < length; t++) source.Slice(Offset(length - 1 - t, b), features).CopyTo(result.AsSpan(Offset(t, b), features));
        }

        return new FloatTensor(result, sequence.Shape.ToArray());
    }
}
