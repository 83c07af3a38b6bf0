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
    /// Rows <paramref name="first"/> to <paramref name="first"/> + <paramref name="directions"/> − 1 of final states
    /// <c>[L·D, B, H]</c> (<c>[L·D, H]</c> for one sequence) side by side per batch row: <c>[B, D·H]</c> (<c>[D·H]</c>),
    /// a layer's final h of every direction as Keras's <c>return_sequences=False</c> gives it.
    /// </summary>
    public static FloatTensor FinalStates(FloatTensor states, int first, int directions)
    {
        int size = states.Dim(states.Rank - 1);
        ReadOnlySpan<float> source = states.Span;
        if (states.Rank == 2) return new FloatTensor(source.Slice(first * size, directions * size).ToArray(), directions * size);
        int batch = states.Dim(1);
        var result = new float[batch * directions * size];
        for (int b = 0; b < batch; b++)
            for (int d = 0; d < directions; d++) source.Slice((((first + d) * batch) + b) * size, size).CopyTo(result.AsSpan(((b * directions) + d) * size));
        return new FloatTensor(result, batch, directions * size);
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
