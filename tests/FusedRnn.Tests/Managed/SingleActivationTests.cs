using System.Runtime.Intrinsics;
using FusedRnn.Backends.Managed;

namespace FusedRnn.Tests.Managed;

/// <summary>
/// The Float32 activations at every vector width against double σ, Math.Tanh and Math.Exp: within the bounds their
/// doc comments state (Activations.cs), and with the exact values the kernels promise at zero, tiny, huge and special
/// inputs.
/// </summary>
public class SingleActivationTests
{
    // The documented worst cases (every float swept at Vector512; the other widths run the same arithmetic).
    private const double TanhRelative = 2.72e-7;
    private const double SigmoidRelative = 1.93e-7;
    private const double SigmoidAbsolute = 8.94e-8;
    private const double ExpRelative = 1.2e-7;

    /// <summary>The smallest normal float, 2^−126.</summary>
    private const float MinNormal = 1.17549435e-38f;

    public static TheoryData<SimdLevel> Levels => [.. Enum.GetValues<SimdLevel>().Where(level => level <= ManagedBackend.DefaultLevel)];

    [Theory]
    [MemberData(nameof(Levels))]
    public void TanhIsWithinItsBound(SimdLevel level)
    {
        foreach (float x in Sweep())
        {
            double expected = Math.Tanh(x);
            float actual = Apply(level, Kind.Tanh, x);
            double error = expected == 0 ? Math.Abs(actual) : Math.Abs(actual - expected) / Math.Abs(expected);
            Assert.True(error <= TanhRelative, $"tanh({x:R}) = {actual:R}, expected {expected:R} (relative error {error:E2})");
        }
    }

    [Theory]
    [MemberData(nameof(Levels))]
    public void SigmoidIsWithinItsBound(SimdLevel level)
    {
        foreach (float x in Sweep())
        {
            double expected = 1.0 / (1.0 + Math.Exp(-(double)x));
            float actual = Apply(level, Kind.Sigmoid, x);
            double error = Math.Abs(actual - expected);
            Assert.True(error <= SigmoidAbsolute, $"sigmoid({x:R}) = {actual:R}, expected {expected:R} (absolute error {error:E2})");
            if (expected >= MinNormal)
                Assert.True(error / expected <= SigmoidRelative, $"sigmoid({x:R}) = {actual:R}, expected {expected:R} (relative error {error / expected:E2})");
        }
    }

    [Theory]
    [MemberData(nameof(Levels))]
    public void ExpIsWithinItsBoundAndFlushesBelowTheNormals(SimdLevel level)
    {
        foreach (float x in Sweep())
        {
            double expected = Math.Exp(x);
            float actual = Apply(level, Kind.Exp, x);
            if (expected > float.MaxValue) Assert.Equal(float.PositiveInfinity, actual);
            else if (actual == 0) Assert.True(expected < 1.7e-38, $"exp({x:R}) flushed to 0, expected {expected:R}");
            else Assert.True(Math.Abs(actual - expected) / expected <= ExpRelative, $"exp({x:R}) = {actual:R}, expected {expected:R}");
        }
    }

    [Theory]
    [MemberData(nameof(Levels))]
    public void TanhIsExactNearZeroAndKeepsTheSignOfZero(SimdLevel level)
    {
        foreach (float x in new[] { 1e-4f, -1e-4f, 1e-12f, -1e-12f, 1e-20f, -1e-30f, MinNormal, 1e-44f, float.Epsilon, -float.Epsilon })
            Assert.Equal(x, Apply(level, Kind.Tanh, x));
        Assert.True(float.IsNegative(Apply(level, Kind.Tanh, -0f)), "tanh(-0) is -0");
        Assert.True(float.IsPositive(Apply(level, Kind.Tanh, 0f)), "tanh(+0) is +0");
    }

    [Theory]
    [MemberData(nameof(Levels))]
    public void LimitsAreExact(SimdLevel level)
    {
        foreach (float x in new[] { 9.1f, 10f, 50f, 1e30f, float.MaxValue, float.PositiveInfinity })
        {
            Assert.Equal(1f, Apply(level, Kind.Tanh, x));
            Assert.Equal(-1f, Apply(level, Kind.Tanh, -x));
        }

        Assert.Equal(0f, Apply(level, Kind.Sigmoid, float.NegativeInfinity));
        Assert.Equal(0f, Apply(level, Kind.Sigmoid, float.MinValue));
        Assert.Equal(1f, Apply(level, Kind.Sigmoid, float.PositiveInfinity));
        Assert.Equal(0.5f, Apply(level, Kind.Sigmoid, 0f));
        Assert.Equal(1f, Apply(level, Kind.Exp, 0f));
        Assert.Equal(float.PositiveInfinity, Apply(level, Kind.Exp, 88.8f));
        Assert.Equal(float.PositiveInfinity, Apply(level, Kind.Exp, float.PositiveInfinity));
        Assert.Equal(0f, Apply(level, Kind.Exp, float.NegativeInfinity));
        Assert.Equal(0f, Apply(level, Kind.Relu, -3f));
        Assert.Equal(2.5f, Apply(level, Kind.Relu, 2.5f));
    }

    [Theory]
    [MemberData(nameof(Levels))]
    public void NaNStaysNaN(SimdLevel level)
    {
        foreach (Kind kind in Enum.GetValues<Kind>())
            Assert.True(float.IsNaN(Apply(level, kind, float.NaN)), $"{kind}(NaN)");
    }

    private enum Kind { Tanh, Sigmoid, Relu, Exp }

    /// <summary>Every 4099th bit pattern (all magnitudes and both signs), and every float near the branch points.</summary>
    private static IEnumerable<float> Sweep()
    {
        for (long bits = 0; bits <= uint.MaxValue; bits += 4099)
        {
            float x = BitConverter.UInt32BitsToSingle((uint)bits);
            if (!float.IsNaN(x)) yield return x;
        }

        foreach (float edge in new[] { 0.625f, -0.625f, 88.72283f, -87.33f, -86.99f, 9f, -9f })
        {
            float x = edge;
            for (int i = 0; i < 2000; i++) x = MathF.BitDecrement(x);
            for (int i = 0; i < 4000; i++, x = MathF.BitIncrement(x)) yield return x;
        }
    }

    private static float Apply(SimdLevel level, Kind kind, float x) => level switch
    {
        SimdLevel.Vector512 => Apply<Simd512Single, Vector512<float>>(kind, Vector512.Create(x)).GetElement(0),
        SimdLevel.Vector256 => Apply<Simd256Single, Vector256<float>>(kind, Vector256.Create(x)).GetElement(0),
        SimdLevel.Vector128 => Apply<Simd128Single, Vector128<float>>(kind, Vector128.Create(x)).GetElement(0),
        _ => Apply<SimdScalarSingle, float>(kind, x),
    };

    private static TVec Apply<TSimd, TVec>(Kind kind, TVec x)
        where TSimd : ISingleSimd<TVec>
        where TVec : struct => kind switch
        {
            Kind.Tanh => Activations<TSimd, TVec, float>.Tanh(x),
            Kind.Sigmoid => Activations<TSimd, TVec, float>.Sigmoid(x),
            Kind.Relu => Activations<TSimd, TVec, float>.Relu(x),
            _ => TSimd.Exp(x),
        };
}
