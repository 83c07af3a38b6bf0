using System.Runtime.Intrinsics;
using FusedRnn.Backends.Managed;
using FusedRnn.Tests.Support;

namespace FusedRnn.Tests.Hardening;

/// <summary>
/// The managed activations at every vector width against Math's float64 functions, at tiny, denormal, moderate,
/// large and special values — and the same values through whole networks on every backend.
/// </summary>
public class ActivationTests
{
    private static readonly double[] Probes =
    [
        0.0, -0.0, 1e-300, -1e-300, double.Epsilon, -double.Epsilon, 2.2250738585072014e-308, 1e-20, -1e-20, 1e-12, -1e-12,
        1e-8, 1e-4, 0.03, -0.0624, 0.0625, -0.0626, 0.1, 0.5, -0.75, 1.0, -2.5, 7.0, 18.0, -19.5, 40.0, 300.0, -710.0, 745.0,
        1e300, -1e300, double.MaxValue, double.MinValue, double.PositiveInfinity, double.NegativeInfinity,
    ];

    public static TheoryData<SimdLevel> Levels => [.. Enum.GetValues<SimdLevel>().Where(level => level <= ManagedBackend.DefaultLevel)];

    [Theory]
    [MemberData(nameof(Levels))]
    public void TanhIsWithinItsBoundEverywhere(SimdLevel level)
    {
        foreach (double x in Probes.Concat(Sweep()))
            AssertRelative(Math.Tanh(x), Apply(level, Kind.Tanh, x), 1e-14, $"tanh({x:R})");
    }

    [Theory]
    [MemberData(nameof(Levels))]
    public void SigmoidIsWithinItsBoundEverywhere(SimdLevel level)
    {
        foreach (double x in Probes.Concat(Sweep()))
        {
            double expected = 1.0 / (1.0 + Math.Exp(-x));
            // Below 1e-300 the result is allowed to flush (documented: e^−x overflows to +∞, giving exactly 0).
            if (expected < 1e-300) Assert.True(Apply(level, Kind.Sigmoid, x) < 1e-300, $"sigmoid({x:R})");
            else AssertRelative(expected, Apply(level, Kind.Sigmoid, x), 2e-15, $"sigmoid({x:R})");
        }
    }

    [Theory]
    [MemberData(nameof(Levels))]
    public void TanhIsExactNearZeroAndKeepsTheSignOfZero(SimdLevel level)
    {
        foreach (double x in new[] { 1e-12, -1e-12, 1e-20, double.Epsilon, -double.Epsilon, 1e-300 })
            Assert.Equal(x, Apply(level, Kind.Tanh, x));
        Assert.True(double.IsNegative(Apply(level, Kind.Tanh, -0.0)), "tanh(-0) is -0");
        Assert.True(double.IsPositive(Apply(level, Kind.Tanh, 0.0)), "tanh(+0) is +0");
    }

    [Theory]
    [MemberData(nameof(Levels))]
    public void NaNStaysNaN(SimdLevel level)
    {
        Assert.True(double.IsNaN(Apply(level, Kind.Tanh, double.NaN)));
        Assert.True(double.IsNaN(Apply(level, Kind.Sigmoid, double.NaN)));
        Assert.True(double.IsNaN(Apply(level, Kind.Relu, double.NaN)));
    }

    /// <summary>The defect the hardening issue found: an RNN with W_ih = 1, W_hh = 0 and a tiny input gave 1.0000889e-12 for 1e-12.</summary>
    [Theory]
    [MemberData(nameof(BackendUnderTest.Names), MemberType = typeof(BackendUnderTest))]
    public void TinyInputsPassThroughEveryCellExactly(string backend)
    {
        float[] inputs = [1e-12f, -1e-12f, 1e-20f, -1e-30f, 1e-38f, 1e-44f];
        var options = BackendUnderTest.Get(backend).Options;
        // h = tanh(x): exact for tiny x.
        using (var rnn = new Rnn(new RnnWeights(new RnnSpec(CellKind.RnnTanh, 1, 1, Bias: false), [new LayerWeights([1f], [0f])]), options))
        {
            var (_, hn, _) = rnn.Forward(new FloatTensor(inputs, 1, inputs.Length, 1));
            Assert.Equal(inputs, hn.ToArray());
        }

        // GRU with r, z pre-activations 0 and W_n = 1: h = (1 − ½)·tanh(x) = x/2, exact in binary.
        using (var gru = new Gru(new RnnWeights(new RnnSpec(CellKind.Gru, 1, 1, Bias: false), [new LayerWeights([0f, 0f, 1f], [0f, 0f, 0f])]), options))
        {
            var (_, hn, _) = gru.Forward(new FloatTensor(inputs, 1, inputs.Length, 1));
            Assert.Equal(inputs.Select(x => x / 2), hn.ToArray());
        }
    }

    private enum Kind { Tanh, Sigmoid, Relu }

    private static IEnumerable<double> Sweep()
    {
        for (double x = -40; x <= 40; x += 0.0137) yield return x;
        for (double x = 1e-10; x < 0.2; x *= 1.07) { yield return x; yield return -x; }
    }

    private static void AssertRelative(double expected, double actual, double bound, string what)
    {
        if (double.IsNaN(expected)) { Assert.True(double.IsNaN(actual), what); return; }
        double error = Math.Abs(actual - expected) / Math.Max(Math.Abs(expected), double.Epsilon);
        Assert.True(error <= bound, $"{what}: {actual:R} instead of {expected:R} (relative error {error:E2} > {bound:E0})");
        if (expected == 0) Assert.Equal(double.IsNegative(expected), double.IsNegative(actual));
    }

    private static double Apply(SimdLevel level, Kind kind, double x) => level switch
    {
        SimdLevel.Vector512 => Apply<Simd512, Vector512<double>>(kind, Simd512.Broadcast(x)).GetElement(0),
        SimdLevel.Vector256 => Apply<Simd256, Vector256<double>>(kind, Simd256.Broadcast(x)).GetElement(0),
        SimdLevel.Vector128 => Apply<Simd128, Vector128<double>>(kind, Simd128.Broadcast(x)).GetElement(0),
        _ => Apply<SimdScalar, double>(kind, x),
    };

    private static TVec Apply<TSimd, TVec>(Kind kind, TVec x)
        where TSimd : ISimd<TVec>
        where TVec : struct => kind switch
        {
            Kind.Tanh => Activations<TSimd, TVec>.Tanh(x),
            Kind.Sigmoid => Activations<TSimd, TVec>.Sigmoid(x),
            _ => Activations<TSimd, TVec>.Relu(x),
        };
}
