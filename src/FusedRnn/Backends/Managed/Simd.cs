using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace FusedRnn.Backends.Managed;

/// <summary>The vector widths the managed kernels can run at; each maps to one <see cref="ISimd{TVec}"/>.</summary>
public enum SimdLevel
{
    /// <summary>One float at a time.</summary>
    Scalar,

    /// <summary>128-bit vectors (SSE2, NEON).</summary>
    Vector128,

    /// <summary>256-bit vectors (AVX2).</summary>
    Vector256,

    /// <summary>512-bit vectors (AVX-512).</summary>
    Vector512,
}

/// <summary>
/// The operations the kernels need at one vector width. Vectors hold doubles: weights stay float32 in memory and
/// are widened as they are loaded, and every sum, activation and state is kept in double, because recurrences
/// amplify rounding error step after step (see the README's note on precision). The kernels are written once,
/// generic over this interface; the JIT specializes them per width, so each call compiles to the instruction.
/// Implementations mark their members AggressiveInlining: a call the JIT declines to inline (it happens in the cold
/// tail of a GEMM tile) makes it spill every accumulator of the hot loop to the stack.
/// </summary>
internal interface ISimd<TVec>
    where TVec : struct
{
    /// <summary>Lanes per vector.</summary>
    static abstract int Count { get; }

    static abstract TVec Zero { get; }

    /// <summary>Loads <see cref="Count"/> floats, widened to double.</summary>
    static abstract TVec LoadWidened(ref float source);

    static abstract TVec Load(ref double source);

    static abstract void Store(TVec value, ref double destination);

    static abstract TVec Broadcast(double value);

    /// <summary><c>a × b + addend</c>, fused where the hardware has FMA.</summary>
    static abstract TVec MultiplyAdd(TVec a, TVec b, TVec addend);

    static abstract TVec Add(TVec a, TVec b);

    static abstract TVec Subtract(TVec a, TVec b);

    static abstract TVec Multiply(TVec a, TVec b);

    static abstract TVec Max(TVec a, TVec b);

    static abstract TVec Exp(TVec x);

    static abstract TVec Divide(TVec a, TVec b);

    /// <summary>Lane by lane, <paramref name="ifSmall"/> where |x| &lt; <paramref name="bound"/>, else <paramref name="otherwise"/> (so NaN takes <paramref name="otherwise"/>).</summary>
    static abstract TVec SelectWhereSmall(TVec x, double bound, TVec ifSmall, TVec otherwise);
}

/// <summary>Activations built on <see cref="ISimd{TVec}.Exp"/>, shared by every width.</summary>
internal static class Activations<TSimd, TVec>
    where TSimd : ISimd<TVec>
    where TVec : struct
{
    /// <summary>σ(x) = 1 / (1 + e^−x); e^−x overflowing to +∞ gives exactly 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Sigmoid(TVec x)
    {
        TVec one = TSimd.Broadcast(1.0);
        return TSimd.Divide(one, TSimd.Add(one, TSimd.Exp(TSimd.Subtract(TSimd.Zero, x))));
    }

    /// <summary>
    /// tanh(x) = 1 − 2 / (e^2x + 1) for |x| ≥ 1/16 (exact limits ±1 for large |x|; the cancellation costs at most
    /// 16×, a relative error ≤ 1e-14); below 1/16 its Taylor series to x^11 (truncation &lt; 1e-17), exact near zero —
    /// the subtraction alone would give 1e-12 as 1.0000889e-12 and 1e-20 as 0. The native kernels use the same split
    /// (vector_math.h). −0 stays −0 and NaN stays NaN.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Tanh(TVec x)
    {
        TVec one = TSimd.Broadcast(1.0);
        TVec large = TSimd.Subtract(one, TSimd.Divide(TSimd.Broadcast(2.0), TSimd.Add(TSimd.Exp(TSimd.Add(x, x)), one)));
        TVec square = TSimd.Multiply(x, x);
        // tanh x = x − x³/3 + 2x⁵/15 − 17x⁷/315 + 62x⁹/2835 − 1382x¹¹/155925 + …
        TVec series = TSimd.Broadcast(-1382.0 / 155925);
        series = TSimd.MultiplyAdd(series, square, TSimd.Broadcast(62.0 / 2835));
        series = TSimd.MultiplyAdd(series, square, TSimd.Broadcast(-17.0 / 315));
        series = TSimd.MultiplyAdd(series, square, TSimd.Broadcast(2.0 / 15));
        series = TSimd.MultiplyAdd(series, square, TSimd.Broadcast(-1.0 / 3));
        // x · (1 + x²·series), not x + x·(x²·series): the sum would turn −0 into +0.
        TVec small = TSimd.Multiply(x, TSimd.MultiplyAdd(series, square, one));
        return TSimd.SelectWhereSmall(x, 0.0625, small, large);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Relu(TVec x) => TSimd.Max(x, TSimd.Zero);
}

internal readonly struct Simd512 : ISimd<Vector512<double>>
{
    public static int Count => Vector512<double>.Count;
    public static Vector512<double> Zero => Vector512<double>.Zero;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<double> LoadWidened(ref float source) => Vector512.WidenLower(Vector256.LoadUnsafe(ref source).ToVector512Unsafe());
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<double> Load(ref double source) => Vector512.LoadUnsafe(ref source);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector512<double> value, ref double destination) => value.StoreUnsafe(ref destination);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<double> Broadcast(double value) => Vector512.Create(value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<double> MultiplyAdd(Vector512<double> a, Vector512<double> b, Vector512<double> addend) => Vector512.MultiplyAddEstimate(a, b, addend);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<double> Add(Vector512<double> a, Vector512<double> b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<double> Subtract(Vector512<double> a, Vector512<double> b) => a - b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<double> Multiply(Vector512<double> a, Vector512<double> b) => a * b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<double> Max(Vector512<double> a, Vector512<double> b) => Vector512.Max(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<double> Exp(Vector512<double> x) => Vector512.Exp(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<double> Divide(Vector512<double> a, Vector512<double> b) => a / b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<double> SelectWhereSmall(Vector512<double> x, double bound, Vector512<double> ifSmall, Vector512<double> otherwise) =>
        Vector512.ConditionalSelect(Vector512.LessThan(Vector512.Abs(x), Vector512.Create(bound)), ifSmall, otherwise);
}

internal readonly struct Simd256 : ISimd<Vector256<double>>
{
    public static int Count => Vector256<double>.Count;
    public static Vector256<double> Zero => Vector256<double>.Zero;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<double> LoadWidened(ref float source) => Vector256.WidenLower(Vector128.LoadUnsafe(ref source).ToVector256Unsafe());
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<double> Load(ref double source) => Vector256.LoadUnsafe(ref source);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector256<double> value, ref double destination) => value.StoreUnsafe(ref destination);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<double> Broadcast(double value) => Vector256.Create(value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<double> MultiplyAdd(Vector256<double> a, Vector256<double> b, Vector256<double> addend) => Vector256.MultiplyAddEstimate(a, b, addend);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<double> Add(Vector256<double> a, Vector256<double> b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<double> Subtract(Vector256<double> a, Vector256<double> b) => a - b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<double> Multiply(Vector256<double> a, Vector256<double> b) => a * b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<double> Max(Vector256<double> a, Vector256<double> b) => Vector256.Max(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<double> Exp(Vector256<double> x) => Vector256.Exp(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<double> Divide(Vector256<double> a, Vector256<double> b) => a / b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<double> SelectWhereSmall(Vector256<double> x, double bound, Vector256<double> ifSmall, Vector256<double> otherwise) =>
        Vector256.ConditionalSelect(Vector256.LessThan(Vector256.Abs(x), Vector256.Create(bound)), ifSmall, otherwise);
}

internal readonly struct Simd128 : ISimd<Vector128<double>>
{
    public static int Count => Vector128<double>.Count;
    public static Vector128<double> Zero => Vector128<double>.Zero;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<double> LoadWidened(ref float source) => Vector128.WidenLower(Vector128.CreateScalarUnsafe(Unsafe.ReadUnaligned<double>(ref Unsafe.As<float, byte>(ref source))).AsSingle());
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<double> Load(ref double source) => Vector128.LoadUnsafe(ref source);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector128<double> value, ref double destination) => value.StoreUnsafe(ref destination);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<double> Broadcast(double value) => Vector128.Create(value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<double> MultiplyAdd(Vector128<double> a, Vector128<double> b, Vector128<double> addend) => Vector128.MultiplyAddEstimate(a, b, addend);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<double> Add(Vector128<double> a, Vector128<double> b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<double> Subtract(Vector128<double> a, Vector128<double> b) => a - b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<double> Multiply(Vector128<double> a, Vector128<double> b) => a * b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<double> Max(Vector128<double> a, Vector128<double> b) => Vector128.Max(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<double> Exp(Vector128<double> x) => Vector128.Exp(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<double> Divide(Vector128<double> a, Vector128<double> b) => a / b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<double> SelectWhereSmall(Vector128<double> x, double bound, Vector128<double> ifSmall, Vector128<double> otherwise) =>
        Vector128.ConditionalSelect(Vector128.LessThan(Vector128.Abs(x), Vector128.Create(bound)), ifSmall, otherwise);
}

internal readonly struct SimdScalar : ISimd<double>
{
    public static int Count => 1;
    public static double Zero => 0.0;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double LoadWidened(ref float source) => source;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double Load(ref double source) => source;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(double value, ref double destination) => destination = value;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double Broadcast(double value) => value;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double MultiplyAdd(double a, double b, double addend) => (a * b) + addend;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double Add(double a, double b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double Subtract(double a, double b) => a - b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double Multiply(double a, double b) => a * b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double Max(double a, double b) => Math.Max(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double Exp(double x) => Math.Exp(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double Divide(double a, double b) => a / b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double SelectWhereSmall(double x, double bound, double ifSmall, double otherwise) => Math.Abs(x) < bound ? ifSmall : otherwise;
}
