using System.Numerics;
using System.Runtime.CompilerServices;

namespace FusedRnn.Backends.Managed;

/// <summary>
/// The activations at one width and element type, built on <see cref="ISimd{TVec, T}.Exp"/>. Both element types keep
/// the same properties: tanh(x) = x exactly for tiny x (−0 stays −0), tanh(±large) = ±1 exactly, σ(−∞) = 0, and NaN
/// stays NaN. The float bounds are the worst seen over every float at Vector512 (the other widths run the same
/// arithmetic); ActivationTests (double) and SingleActivationTests (float) hold every width to them.
/// </summary>
internal static class Activations<TSimd, TVec, T>
    where TSimd : ISimd<TVec, T>
    where TVec : struct
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    /// <summary>
    /// σ(x) = 1 / (1 + e^−x); e^−x overflowing to +∞ gives exactly 0. Double: relative error ≤ 2e-15 above 1e-300.
    /// Float: relative error ≤ 1.93e-7 (1.6 ulp; worst 1.921e-7, at −16.65) where σ(x) is a normal float, absolute
    /// error ≤ 8.94e-8 everywhere (worst 8.931e-8, at 7.86), every float swept against double σ.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Sigmoid(TVec x)
    {
        TVec one = TSimd.Broadcast(T.One);
        return TSimd.Divide(one, TSimd.Add(one, TSimd.Exp(TSimd.Subtract(TSimd.Zero, x))));
    }

    /// <summary>
    /// tanh(x) = 1 − 2 / (e^2x + 1) away from zero (exact limits ±1 for large |x|), an odd polynomial near zero, where
    /// the subtraction would cancel (it alone gives 1e-12 as 1.0000889e-12 in double, and 1e-20 as 0).
    /// <para>
    /// Double: the formula for |x| ≥ 1/16 (the cancellation costs at most 16×, a relative error ≤ 1e-14); below, the
    /// Taylor series to x^11 (truncation &lt; 1e-17), as the native kernels do (vector_math.h).
    /// </para>
    /// <para>
    /// Float: the formula for |x| ≥ 0.625, where 2 / (e^2x + 1) ≤ 0.45 and the subtraction amplifies no error (0.8×
    /// at most); below, Cephes' tanhf polynomial. Relative error ≤ 2.72e-7 (2.3 ulp; worst 2.710e-7, at −0.629, just past the branch), every float
    /// swept against Math.Tanh.
    /// </para>
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Tanh(TVec x) => typeof(T) == typeof(float) ? SingleTanh(x) : DoubleTanh(x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Relu(TVec x) => TSimd.Max(x, TSimd.Zero);

    /// <summary>
    /// A cell variant's activation, as the native kernels' <c>activate</c> (vector_math.h): α and β rounded to
    /// <typeparamref name="T"/>; NaN stays NaN, except that ThresholdedRelu gives 0 for it (ONNX's <c>x &gt; α ? x : 0</c>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Apply(Activation rule, TVec x)
    {
        TVec alpha = TSimd.Broadcast(T.CreateTruncating(rule.Alpha));
        TVec beta = TSimd.Broadcast(T.CreateTruncating(rule.Beta));
        TVec one = TSimd.Broadcast(T.One);
        return rule.Kind switch
        {
            ActivationKind.Identity => x,
            ActivationKind.Relu => Relu(x),
            ActivationKind.Tanh => Tanh(x),
            ActivationKind.Sigmoid => Sigmoid(x),
            ActivationKind.Affine => TSimd.MultiplyAdd(alpha, x, beta),
            ActivationKind.LeakyRelu => TSimd.SelectWhereLess(x, TSimd.Zero, TSimd.Multiply(alpha, x), x),
            ActivationKind.ThresholdedRelu => TSimd.SelectWhereLess(alpha, x, x, TSimd.Zero),
            ActivationKind.ScaledTanh => TSimd.Multiply(alpha, Tanh(TSimd.Multiply(beta, x))),
            ActivationKind.HardSigmoid => TSimd.Min(one, TSimd.Max(TSimd.Zero, TSimd.MultiplyAdd(alpha, x, beta))),
            // e^x − 1 loses relative (not absolute) accuracy near 0, as ONNX's formula does.
            ActivationKind.Elu => TSimd.SelectWhereLess(x, TSimd.Zero, TSimd.Multiply(alpha, TSimd.Subtract(TSimd.Exp(x), one)), x),
            ActivationKind.Softsign => TSimd.Divide(x, TSimd.Add(one, TSimd.Abs(x))),
            ActivationKind.Softplus => Softplus(x),
            _ => throw new ArgumentOutOfRangeException(nameof(rule), rule.Kind, "not an activation kind"),
        };
    }

    /// <summary>x limited to [−clip, clip]; NaN stays NaN.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Clip(TVec x, T clip) => TSimd.Min(TSimd.Broadcast(clip), TSimd.Max(TSimd.Broadcast(-clip), x));

    /// <summary>
    /// log(1 + e^x) without overflow or cancellation, as the native kernels: max(x, 0) + log1p(e^−|x|), with
    /// log1p(u) = log(1 + u)·u / ((1 + u) − 1), which corrects the rounding of 1 + u (u itself where 1 + u rounds to 1).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Softplus(TVec x)
    {
        TVec one = TSimd.Broadcast(T.One);
        TVec u = TSimd.Exp(TSimd.Subtract(TSimd.Zero, TSimd.Abs(x)));
        TVec y = TSimd.Add(one, u);
        TVec roundedU = TSimd.Subtract(y, one);
        TVec corrected = TSimd.Divide(TSimd.Multiply(LogOneToTwo(y), u), roundedU);
        T smallestNormal = T.CreateTruncating(typeof(T) == typeof(float) ? 1.17549435e-38f : 2.2250738585072014e-308);
        TVec log1p = TSimd.SelectWhereLess(roundedU, TSimd.Broadcast(smallestNormal), u, corrected);
        return TSimd.Add(TSimd.Max(TSimd.Zero, x), log1p);
    }

    /// <summary>
    /// log(y) for y in [1, 2]: halved above √2 (log(y) = log(y / 2) + ln 2, so |s| ≤ 0.172), then
    /// 2·atanh(s) with s = (y − 1) / (y + 1), its odd series to s^23 in double, s^11 in float.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TVec LogOneToTwo(TVec y)
    {
        TVec one = TSimd.Broadcast(T.One);
        TVec halve = TSimd.SelectWhereLess(Constant(1.4142135623730951), y, one, TSimd.Zero);
        TVec scaled = TSimd.Multiply(y, TSimd.Subtract(one, TSimd.Multiply(Constant(0.5), halve)));
        TVec s = TSimd.Divide(TSimd.Subtract(scaled, one), TSimd.Add(scaled, one));
        TVec square = TSimd.Multiply(s, s);
        int terms = typeof(T) == typeof(float) ? 6 : 12;
        TVec series = TSimd.Broadcast(T.One / T.CreateTruncating((2 * terms) - 1));
        for (int term = terms - 2; term >= 0; term--)
            series = TSimd.MultiplyAdd(series, square, TSimd.Broadcast(T.One / T.CreateTruncating((2 * term) + 1)));
        return TSimd.MultiplyAdd(halve, Constant(0.6931471805599453), TSimd.Multiply(TSimd.Add(s, s), series));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TVec DoubleTanh(TVec x)
    {
        TVec square = TSimd.Multiply(x, x);
        // tanh x = x − x³/3 + 2x⁵/15 − 17x⁷/315 + 62x⁹/2835 − 1382x¹¹/155925 + …
        TVec series = Constant(-1382.0 / 155925);
        series = TSimd.MultiplyAdd(series, square, Constant(62.0 / 2835));
        series = TSimd.MultiplyAdd(series, square, Constant(-17.0 / 315));
        series = TSimd.MultiplyAdd(series, square, Constant(2.0 / 15));
        series = TSimd.MultiplyAdd(series, square, Constant(-1.0 / 3));
        return SmallOrLarge(x, square, series, 0.0625);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TVec SingleTanh(TVec x)
    {
        TVec square = TSimd.Multiply(x, x);
        // Cephes tanhf: tanh x = x + x³·P(x²) for |x| < 0.625.
        TVec series = Constant(-5.70498872745e-3);
        series = TSimd.MultiplyAdd(series, square, Constant(2.06390887954e-2));
        series = TSimd.MultiplyAdd(series, square, Constant(-5.37397155531e-2));
        series = TSimd.MultiplyAdd(series, square, Constant(1.33314422036e-1));
        series = TSimd.MultiplyAdd(series, square, Constant(-3.33332819422e-1));
        return SmallOrLarge(x, square, series, 0.625);
    }

    /// <summary>x · (1 + x²·series) below <paramref name="bound"/>, 1 − 2 / (e^2x + 1) from it on.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TVec SmallOrLarge(TVec x, TVec square, TVec series, double bound)
    {
        TVec one = TSimd.Broadcast(T.One);
        // x · (1 + x²·series), not x + x·(x²·series): the sum would turn −0 into +0.
        TVec small = TSimd.Multiply(x, TSimd.MultiplyAdd(series, square, one));
        TVec large = TSimd.Subtract(one, TSimd.Divide(Constant(2.0), TSimd.Add(TSimd.Exp(TSimd.Add(x, x)), one)));
        return TSimd.SelectWhereSmall(x, T.CreateTruncating(bound), small, large);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TVec Constant(double value) => TSimd.Broadcast(T.CreateTruncating(value));
}

/// <summary>The Float64 activations, <see cref="Activations{TSimd, TVec, T}"/> at double (the spelling ActivationTests uses).</summary>
internal static class Activations<TSimd, TVec>
    where TSimd : ISimd<TVec>
    where TVec : struct
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Sigmoid(TVec x) => Activations<TSimd, TVec, double>.Sigmoid(x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Tanh(TVec x) => Activations<TSimd, TVec, double>.Tanh(x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Relu(TVec x) => Activations<TSimd, TVec, double>.Relu(x);
}

/// <summary>
/// e^x in float: x clamped to [−87.33, 88.8]; n = round(x·log₂e) by the 1.5·2²³ shifter; r = x − n·ln 2 in two parts
/// (Cody–Waite); e^r by Cephes' expf polynomial; scaled by 2^(n−1)·2, so that n = 128 (x up to ln FLT_MAX) stays
/// finite. Past ln FLT_MAX the scaling overflows to +∞; where 2^(n−1) would be subnormal (x below about −87.0, e^x &lt;
/// 1.7e-38) the result is 0, never subnormal; NaN stays NaN. Relative error ≤ 1.2e-7 (1.0 ulp; worst 1.191e-7) in
/// between, every float swept against Math.Exp.
/// </summary>
internal static class SingleExp<TSimd, TVec>
    where TSimd : ISingleSimd<TVec>
    where TVec : struct
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Exp(TVec x)
    {
        // ±∞ and huge |x| would make r NaN; the clamped ends already give the limits.
        x = TSimd.Clamp(x, -87.33f, 88.8f);
        // Adding 1.5·2²³ leaves round(x·log₂e) in the low mantissa bits; subtracting it again gives n exactly.
        const float shifter = 12582912f;
        TVec n = TSimd.Subtract(TSimd.MultiplyAdd(x, TSimd.Broadcast(1.44269504088896341f), TSimd.Broadcast(shifter)), TSimd.Broadcast(shifter));
        TVec r = TSimd.MultiplyAdd(n, TSimd.Broadcast(-0.693359375f), x);
        r = TSimd.MultiplyAdd(n, TSimd.Broadcast(2.12194440e-4f), r);
        TVec p = TSimd.Broadcast(1.9875691500e-4f);
        p = TSimd.MultiplyAdd(p, r, TSimd.Broadcast(1.3981999507e-3f));
        p = TSimd.MultiplyAdd(p, r, TSimd.Broadcast(8.3334519073e-3f));
        p = TSimd.MultiplyAdd(p, r, TSimd.Broadcast(4.1665795894e-2f));
        p = TSimd.MultiplyAdd(p, r, TSimd.Broadcast(1.6666665459e-1f));
        p = TSimd.MultiplyAdd(p, r, TSimd.Broadcast(5.0000001201e-1f));
        p = TSimd.MultiplyAdd(p, TSimd.Multiply(r, r), TSimd.Add(r, TSimd.Broadcast(1f)));
        return TSimd.ScaleByPowerOfTwo(TSimd.Add(p, p), TSimd.Subtract(n, TSimd.Broadcast(1f)));
    }
}
