using FusedRnn.Tests.Support;

namespace FusedRnn.Tests.Hardening;

/// <summary>
/// NaN and ±∞ in x or h0, as the README documents them: a NaN stays in its batch row (every output of that row it
/// can reach turns NaN, every other row is bit-identical to a run without it); ±∞ in x saturates sigmoid and tanh
/// (finite outputs) but passes through ReLU. Every backend, in both precisions, agrees with IEEE arithmetic on
/// PyTorch's formulas (<see cref="ReferenceRnn"/> in double) on where NaN, ±0 and ±∞ appear, including the sign of
/// zero, and writes every NaN as the canonical quiet NaN 0x7fc00000.
/// </summary>
public class NonFiniteTests
{
    private const int SeqLen = 5, Batch = 9, Poisoned = 3, PoisonedStep = 2;

    /// <summary>The one NaN every output holds (the positive quiet NaN, NumPy's).</summary>
    private const int CanonicalNaN = 0x7fc00000;

    public static TheoryData<string, RnnPrecision, CellKind, string> Cases()
    {
        var data = new TheoryData<string, RnnPrecision, CellKind, string>();
        foreach (BackendUnderTest backend in BackendUnderTest.All)
            foreach (RnnPrecision precision in BackendUnderTest.Precisions)
                foreach (CellKind kind in Enum.GetValues<CellKind>())
                    foreach (string poison in new[] { "nan-x", "nan-h0", "+inf-x", "-inf-x", "+inf-h0", "-0-h0" })
                        data.Add(backend.Name, precision, kind, poison);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void NonFiniteValuesStayInTheirRowAndEveryBackendAgrees(string backend, RnnPrecision precision, CellKind kind, string poison)
    {
        var spec = new RnnSpec(kind, 6, 10, NumLayers: 2, Bidirectional: true);
        RnnWeights weights = RandomNetworks.Create(spec, 17);
        var random = new Random(23);
        float[] x = RandomNetworks.Uniform(random, SeqLen * Batch * spec.InputSize, 1f);
        float[] h0 = RandomNetworks.Uniform(random, spec.LayerDirectionCount * Batch * spec.OutputSize, 0.5f);
        (float[] poisonedX, float[] poisonedH0) = Poison(poison, x, h0, spec);

        RnnOptions options = BackendUnderTest.Get(backend).In(precision);
        SequenceOutput clean = Run(weights, options, x, h0);
        SequenceOutput actual = Run(weights, options, poisonedX, poisonedH0);
        SequenceOutput reference = ReferenceRnn.Forward<double>(weights, Input(poisonedX, spec), InitialState(poisonedH0, spec)).ToSequenceOutput();
        double tolerance = Tolerance.ParityFor(precision);

        int features = spec.OutputFeatures;
        for (int t = 0; t < SeqLen; t++)
        {
            for (int b = 0; b < Batch; b++)
            {
                if (b == Poisoned) continue;
                int offset = ((t * Batch) + b) * features;
                Assert.True(clean.Output.Span.Slice(offset, features).SequenceEqual(actual.Output.Span.Slice(offset, features)),
                    $"{poison} in row {Poisoned} changed y of row {b} at t={t}");
            }
        }

        AssertSameSpecialValues(reference.Output.Span, actual.Output.Span, tolerance, $"y, {backend}, {precision}, {kind}, {poison}");
        AssertSameSpecialValues(reference.HiddenState.Span, actual.HiddenState.Span, tolerance, $"h_n, {backend}, {precision}, {kind}, {poison}");
        if (poison.StartsWith("nan", StringComparison.Ordinal))
        {
            // The last layer's forward output at the last step sees the NaN whichever way it entered.
            int last = (((SeqLen - 1) * Batch) + Poisoned) * features;
            Assert.True(float.IsNaN(actual.Output.Span[last]), $"{poison}: y of row {Poisoned} at the last step is not NaN");
        }
        else if (poison.EndsWith("inf-x", StringComparison.Ordinal) && kind != CellKind.RnnRelu)
        {
            Assert.All(actual.Output.ToArray(), value => Assert.True(float.IsFinite(value), $"{poison}: y has {value}"));
        }
    }

    private static (float[] X, float[] H0) Poison(string poison, float[] x, float[] h0, RnnSpec spec)
    {
        float[] poisonedX = [.. x], poisonedH0 = [.. h0];
        int xAt = ((PoisonedStep * Batch) + Poisoned) * spec.InputSize, hAt = Poisoned * spec.OutputSize;
        switch (poison)
        {
            case "nan-x": poisonedX[xAt] = float.NaN; break;
            case "+inf-x": poisonedX[xAt] = float.PositiveInfinity; break;
            case "-inf-x": poisonedX[xAt] = float.NegativeInfinity; break;
            case "nan-h0": poisonedH0[hAt] = float.NaN; break;
            case "+inf-h0": poisonedH0[hAt] = float.PositiveInfinity; break;
            default: Array.Fill(poisonedH0, -0f, hAt, spec.OutputSize); break;
        }

        return (poisonedX, poisonedH0);
    }

    private static SequenceOutput Run(RnnWeights weights, RnnOptions options, float[] x, float[] h0)
    {
        using RecurrentModule module = RecurrentModule.Create(weights, options);
        return module.Forward(Input(x, weights.Spec), InitialState(h0, weights.Spec));
    }

    private static FloatTensor Input(float[] x, RnnSpec spec) => new(x, SeqLen, Batch, spec.InputSize);

    private static FloatTensor InitialState(float[] h0, RnnSpec spec) => new(h0, spec.LayerDirectionCount, Batch, spec.OutputSize);

    /// <summary>
    /// NaN where the reference has NaN (the reference's NaN is whichever the arithmetic made; the backend's must be the
    /// canonical one); ±0 and ±∞ bit for bit, sign included; finite values within the precision's parity tolerance.
    /// </summary>
    private static void AssertSameSpecialValues(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, double tolerance, string what)
    {
        for (int i = 0; i < expected.Length; i++)
        {
            float e = expected[i], a = actual[i];
            if (float.IsNaN(a))
                Assert.True(BitConverter.SingleToInt32Bits(a) == CanonicalNaN, $"{what}[{i}]: NaN 0x{BitConverter.SingleToInt32Bits(a):x8} is not the canonical 0x7fc00000");
            if (float.IsNaN(e) || float.IsNaN(a))
            {
                Assert.True(float.IsNaN(e) && float.IsNaN(a), $"{what}[{i}]: got {a:R}, expected {e:R}");
            }
            else if (e == 0 || a == 0 || float.IsInfinity(e) || float.IsInfinity(a))
            {
                Assert.True(BitConverter.SingleToInt32Bits(e) == BitConverter.SingleToInt32Bits(a),
                    $"{what}[{i}]: got {a:R} (0x{BitConverter.SingleToInt32Bits(a):x8}), expected {e:R} (0x{BitConverter.SingleToInt32Bits(e):x8})");
            }
            else
            {
                Assert.True(Math.Abs(a - e) <= tolerance * Math.Max(1, Math.Abs(e)), $"{what}[{i}]: got {a:R}, expected {e:R}");
            }
        }
    }
}
