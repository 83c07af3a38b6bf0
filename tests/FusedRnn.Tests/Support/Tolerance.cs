namespace FusedRnn.Tests.Support;

/// <summary>
/// Tolerances between two computations, each |got − ref| ≤ tolerance × max(1, |ref|) element by element. Against
/// PyTorch's reference cases the accuracy contract applies instead (<see cref="AccuracyContract"/>).
/// <list type="bullet">
/// <item><see cref="Parity"/> (2e-6): a backend in <see cref="RnnPrecision.Float64"/> against the float64
/// <see cref="ReferenceRnn"/>, and equivalent computations on one backend (<see cref="PropertyTests"/>). Both sides
/// are float32 roundings of double arithmetic: they agree to an ulp or two of float32 (≈1e-7), so 2e-6 leaves room
/// only for summation order, never for a wrong formula.</item>
/// <item><see cref="ParityFloat32"/>: a backend in <see cref="RnnPrecision.Float32"/> against the float64
/// <see cref="ReferenceRnn"/>. Float32 arithmetic drifts from the double answer by its own rounding, amplified by the
/// recurrence; how far is measured, not guessed: <see cref="ReferenceRnn"/> in float32 (the same formulas, float
/// sums, no FMA) over every <see cref="ParityCase"/> lands at most <see cref="MeasuredFloat32Drift"/> from its
/// float64 self, and the tolerance is <see cref="Float32DriftMultiple"/> × that, rounded up — room for another
/// summation order, FMA and vectorized activations, not for a wrong formula (which is off by 1e-2 and more).
/// ParityTests re-measures the drift and fails if the tolerance stops being that multiple of it; CellVariantTests
/// checks that the cell-variant cases (its own and OnnxRuntimeVariantTests') leave it the same margin.</item>
/// </list>
/// </summary>
public static class Tolerance
{
    /// <summary>
    /// For tests about something other than accuracy (weight import, the CLI's plumbing) against a float64
    /// reference case, in whichever precision they run: above both precisions' error on the small cases they use.
    /// </summary>
    public const double Reference = 1e-5;

    /// <summary>Float64 precision against the float64 reference, and between equivalent computations.</summary>
    public const double Parity = 2e-6;

    /// <summary>Float32 precision against the float64 reference: <see cref="Float32DriftMultiple"/> × <see cref="MeasuredFloat32Drift"/> = 3.5e-6, rounded up.</summary>
    public const double ParityFloat32 = 4e-6;

    /// <summary>
    /// The largest |float32 − float64| / max(1, |float64|) of <see cref="ReferenceRnn"/> over <see cref="ParityCase.All"/>,
    /// measured when <see cref="ParityFloat32"/> was set (ParityTests checks it still holds): 8.75e-7, on <c>random-6</c>, a
    /// 3-layer ReLU RNN with 241 inputs (ReLU does not saturate, so nothing damps the rounding of long sums).
    /// </summary>
    public const double MeasuredFloat32Drift = 8.75e-7;

    public const double Float32DriftMultiple = 4;

    /// <summary>The tolerance a backend computing in <paramref name="precision"/> is held to against the float64 reference.</summary>
    public static double ParityFor(RnnPrecision precision) => precision switch
    {
        RnnPrecision.Float64 => Parity,
        RnnPrecision.Float32 => ParityFloat32,
        _ => throw new ArgumentOutOfRangeException(nameof(precision), precision, "no parity tolerance for this precision"),
    };

    public static void AssertClose(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, double tolerance, string what)
    {
        Assert.True(expected.Length == actual.Length, $"{what}: {actual.Length} elements, expected {expected.Length}");
        for (int i = 0; i < expected.Length; i++)
        {
            double allowed = tolerance * Math.Max(1.0, Math.Abs(expected[i]));
            double error = Math.Abs((double)actual[i] - expected[i]);
            Assert.True(error <= allowed && !float.IsNaN(actual[i]),
                $"{what}[{i}]: got {actual[i]:R}, expected {expected[i]:R} (error {error:E2} > {allowed:E2})");
        }
    }

    public static void AssertClose(FloatTensor expected, FloatTensor actual, double tolerance, string what)
    {
        Assert.True(expected.Shape.SequenceEqual(actual.Shape), $"{what}: shape {actual} expected {expected}");
        AssertClose(expected.Span, actual.Span, tolerance, what);
    }

    /// <summary>Every output of <paramref name="actual"/> within <paramref name="tolerance"/> of <paramref name="expected"/>.</summary>
    public static void AssertClose(SequenceOutput expected, SequenceOutput actual, double tolerance, string where)
    {
        AssertClose(expected.Output, actual.Output, tolerance, $"y, {where}");
        AssertClose(expected.HiddenState, actual.HiddenState, tolerance, $"h_n, {where}");
        Assert.True((expected.CellState is null) == (actual.CellState is null), $"c_n, {where}: present {actual.CellState is not null}, expected {expected.CellState is not null}");
        if (expected.CellState is not null) AssertClose(expected.CellState, actual.CellState!, tolerance, $"c_n, {where}");
    }

    /// <summary>The largest |got − ref| / max(1, |ref|) over y, h_n and c_n (NaN counts as infinite).</summary>
    public static double LargestError(SequenceOutput expected, SequenceOutput actual)
    {
        double largest = 0;
        foreach ((FloatTensor? e, FloatTensor? a) in new[] { (expected.Output, actual.Output), (expected.HiddenState, actual.HiddenState), (expected.CellState, actual.CellState) })
        {
            if (e is null || a is null) continue;
            for (int i = 0; i < e.Length; i++)
            {
                double error = AccuracyContract.ScaledError(a.Span[i], e.Span[i]);
                largest = Math.Max(largest, double.IsNaN(error) ? double.PositiveInfinity : error);
            }
        }

        return largest;
    }
}
