namespace FusedRnn.Tests.Support;

/// <summary>
/// How close to PyTorch's float64 answer each precision must land on a reference case (DESIGN.md, "Tests and
/// parity"). The error of a case is the largest |got − ref| / max(1, |ref|) over all its outputs (y, h_n, c_n; or h
/// and c after every cell step), against the float64 answer in tests/data/pytorch.
/// <list type="bullet">
/// <item><see cref="RnnPrecision.Float64"/> (the exact mode): ≤ <see cref="Float64Bound"/> on every case.</item>
/// <item><see cref="RnnPrecision.Float32"/>: ≤ max(<see cref="Float32Floor"/>, <see cref="Float32PyTorchMultiple"/> ×
/// PyTorch float32's own error on that case), that error measured here from the two data sets (tests/data/pytorch-float32
/// against tests/data/pytorch); a case with no float32 answer (<c>lstm_projection*</c>) is held to the floor. A
/// recurrence amplifies rounding (PyTorch float32 is 2.5e-4 off on <c>gru_large</c>): an honest float32 kernel lands
/// near PyTorch float32, not closer to float64 and not much farther.</item>
/// </list>
/// </summary>
public static class AccuracyContract
{
    public const double Float64Bound = 1e-5;

    public const double Float32Floor = 2e-6;

    public const double Float32PyTorchMultiple = 4;

    /// <summary>The most error <paramref name="precision"/> may show on the case.</summary>
    public static double Bound(ReferenceCase reference, RnnPrecision precision) => precision switch
    {
        RnnPrecision.Float64 => Float64Bound,
        RnnPrecision.Float32 => PyTorchFloat32Error(reference) is { } pytorch
            ? Math.Max(Float32Floor, Float32PyTorchMultiple * pytorch.Value)
            : Float32Floor,
        _ => throw new ArgumentOutOfRangeException(nameof(precision), precision, "no accuracy contract for this precision"),
    };

    /// <summary>PyTorch float32's error on the case, or null where the data has no float32 answer.</summary>
    public static CaseError? PyTorchFloat32Error(ReferenceCase reference) =>
        reference.PyTorchFloat32 is { } float32 ? Error(reference, float32) : null;

    /// <summary>
    /// The error of <paramref name="outputs"/> (by output name, as <see cref="ReferenceCase.Run"/> returns them), and
    /// where it is largest. Fails the test if an output is missing, extra or of the wrong size; NaN counts as an
    /// infinite error.
    /// </summary>
    public static CaseError Error(ReferenceCase reference, IReadOnlyDictionary<string, float[]> outputs) =>
        Error(reference.Name, reference.Expected, outputs);

    public static CaseError Error(string caseName, IReadOnlyDictionary<string, float[]> expected, IReadOnlyDictionary<string, float[]> outputs)
    {
        Assert.True(expected.Keys.Order().SequenceEqual(outputs.Keys.Order()),
            $"{caseName}: outputs {string.Join(", ", outputs.Keys.Order())}, expected {string.Join(", ", expected.Keys.Order())}");
        var worst = new CaseError(0, expected.Keys.First(), 0, 0, 0);
        foreach ((string name, float[] want) in expected)
        {
            float[] got = outputs[name];
            Assert.True(got.Length == want.Length, $"{caseName}: {name} has {got.Length} values, expected {want.Length}");
            for (int i = 0; i < want.Length; i++)
            {
                double error = ScaledError(got[i], want[i]);
                if (double.IsNaN(error)) error = double.PositiveInfinity;
                if (error > worst.Value) worst = new CaseError(error, name, i, got[i], want[i]);
            }
        }

        return worst;
    }

    /// <summary>|got − ref| / max(1, |ref|), in double.</summary>
    public static double ScaledError(double got, double expected) => Math.Abs(got - expected) / Math.Max(1.0, Math.Abs(expected));
}

/// <summary>A case's error and the output element where it is largest.</summary>
public readonly record struct CaseError(double Value, string Output, int Index, float Got, float Expected)
{
    public override string ToString() => $"{Value:E3} (at {Output}[{Index}]: got {Got:R}, expected {Expected:R})";
}
