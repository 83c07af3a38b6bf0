namespace FusedRnn.Tests.Support;

public static class Tolerance
{
    /// <summary>Against float64 references: |got − ref| ≤ 1e-5 × max(1, |ref|).</summary>
    public const double Reference = 1e-5;

    /// <summary>Between backends and between equivalent computations.</summary>
    public const double Parity = 2e-6;

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
}
