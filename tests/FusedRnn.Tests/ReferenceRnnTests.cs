using System.Globalization;
using FusedRnn.Tests.Support;
using Xunit.Abstractions;

namespace FusedRnn.Tests;

/// <summary>
/// <see cref="ReferenceRnn"/>, the float64 transcription the parity suites trust, proven against PyTorch's float64
/// answer on every reference case. The stored answers are float64 results rounded to float32, so the closest a
/// double can be shown to agree is: it lies in the rounding interval of the stored value (it rounds to it), or
/// within <see cref="Beyond"/> of that interval. PyTorch float64 and a double transcription differ by summation
/// order and libm, ~1e-15; a wrong gate order, state or mask would be off by far more than a float32 ulp.
/// </summary>
public class ReferenceRnnTests(ITestOutputHelper output)
{
    /// <summary>How far (scaled by max(1, |ref|)) outside the stored value's float32 rounding interval a result may lie.</summary>
    private const double Beyond = 1e-12;

    public static TheoryData<string> AllCases() => [.. TestData.AllCases];

    [Theory]
    [MemberData(nameof(AllCases))]
    public void TheFloat64TranscriptionRoundsToPyTorchsFloat64Answer(string caseName)
    {
        var reference = new ReferenceCase(caseName);
        IReadOnlyDictionary<string, double[]> got = reference.RunReference<double>();
        Assert.Equal(reference.OutputNames.Order(), got.Keys.Order());

        double plain = 0, beyond = 0;
        int differentRoundings = 0, values = 0;
        foreach ((string name, float[] stored) in reference.Expected)
        {
            double[] result = got[name];
            Assert.Equal(stored.Length, result.Length);
            for (int i = 0; i < stored.Length; i++)
            {
                double scale = Math.Max(1, Math.Abs(stored[i]));
                plain = Math.Max(plain, Math.Abs(result[i] - stored[i]) / scale);
                double outside = DistanceOutsideRoundingInterval(result[i], stored[i]) / scale;
                Assert.True(outside <= Beyond, $"{caseName}: {name}[{i}] = {result[i]:R} is {outside:E2} outside the float32 rounding interval of PyTorch's {stored[i]:R}");
                beyond = Math.Max(beyond, outside);
                if ((float)result[i] != stored[i]) differentRoundings++;
                values++;
            }
        }

        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{caseName}: {values} values, largest |Δ| / max(1, |ref|) {plain:E3} (the data's float32 rounding), largest beyond it {beyond:E3}, {differentRoundings} rounded differently"));
    }

    /// <summary>
    /// How far <paramref name="value"/> lies outside the set of doubles that round to <paramref name="stored"/>
    /// (0 inside it): a ULP's half on either side of the float32.
    /// </summary>
    private static double DistanceOutsideRoundingInterval(double value, float stored)
    {
        double halfUlp = value >= stored
            ? ((double)MathF.BitIncrement(stored) - stored) / 2
            : ((double)stored - MathF.BitDecrement(stored)) / 2;
        return Math.Max(0, Math.Abs(value - stored) - halfUlp);
    }

    /// <summary>The float32-arithmetic transcription lands where float32 arithmetic lands: near PyTorch float32.</summary>
    [Theory]
    [MemberData(nameof(AllCases))]
    public void TheFloat32TranscriptionIsAsFarFromFloat64AsPyTorchFloat32(string caseName)
    {
        var reference = new ReferenceCase(caseName);
        CaseError error = AccuracyContract.Error(reference, reference.RunReference<float>().ToDictionary(o => o.Key, o => o.Value));
        double bound = AccuracyContract.Bound(reference, RnnPrecision.Float32);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{caseName}: float32 transcription {error.Value:E3}, PyTorch float32 {AccuracyContract.PyTorchFloat32Error(reference)?.Value:E3}, bound {bound:E3}"));
        Assert.True(error.Value <= bound, $"{caseName}: the float32 transcription is {error} off, above the Float32 bound {bound:E3}");
        Assert.True(error.Value > 0, $"{caseName}: float32 arithmetic gave exactly the float64 answer");
    }

    /// <summary>The Float64 contract tells the exact mode from float32 arithmetic: on gru_large, float32 is far outside it.</summary>
    [Fact]
    public void Float32ArithmeticFailsTheFloat64ContractOnGruLarge()
    {
        var reference = new ReferenceCase("gru_large");
        CaseError error = AccuracyContract.Error(reference, reference.RunReference<float>().ToDictionary(o => o.Key, o => o.Value));
        Assert.True(error.Value > 10 * AccuracyContract.Bound(reference, RnnPrecision.Float64), $"float32 arithmetic is only {error} off on gru_large");
    }
}
