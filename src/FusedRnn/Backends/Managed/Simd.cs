using System.Numerics;

namespace FusedRnn.Backends.Managed;

/// <summary>The vector widths the managed kernels can run at; each maps to one <see cref="ISimd{TVec, T}"/> per precision.</summary>
public enum SimdLevel
{
    /// <summary>One element at a time.</summary>
    Scalar,

    /// <summary>128-bit vectors (SSE2, NEON).</summary>
    Vector128,

    /// <summary>256-bit vectors (AVX2).</summary>
    Vector256,

    /// <summary>512-bit vectors (AVX-512).</summary>
    Vector512,
}

/// <summary>
/// The operations the kernels need at one vector width and element type <typeparamref name="T"/>: float (the
/// <see cref="RnnPrecision.Float32"/> path, <c>Simd*Single</c>) or double (<see cref="RnnPrecision.Float64"/>, see
/// <see cref="ISimd{TVec}"/>). Weights are float32 in memory either way and are loaded at the element type
/// (<see cref="LoadWeights"/>); every sum, activation and state is <typeparamref name="T"/>. The kernels are written
/// once, generic over this interface; the JIT specializes them per width and type, so each call compiles to the
/// instruction. Implementations mark their members AggressiveInlining: a call the JIT declines to inline (it happens
/// in the cold tail of a GEMM tile) makes it spill every accumulator of the hot loop to the stack.
/// </summary>
internal interface ISimd<TVec, T>
    where TVec : struct
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    /// <summary>Lanes per vector: W, the width of a unit block of the packed weights.</summary>
    static abstract int Count { get; }

    /// <summary>
    /// Batch rows of a row-group register tile, so that its accumulators, broadcasts and weight vector stay in
    /// registers: 4 (16 accumulators) with AVX-512's 32 vector registers, 2 with the 16 of AVX2 and SSE; 4 scalars.
    /// </summary>
    static abstract int TileRows { get; }

    static abstract TVec Zero { get; }

    /// <summary>Loads <see cref="Count"/> float32 weights as <typeparamref name="T"/> (widened for double).</summary>
    static abstract TVec LoadWeights(ref float source);

    static abstract TVec Load(ref T source);

    static abstract void Store(TVec value, ref T destination);

    static abstract TVec Broadcast(T value);

    /// <summary><c>a × b + addend</c>, fused where the hardware has FMA.</summary>
    static abstract TVec MultiplyAdd(TVec a, TVec b, TVec addend);

    static abstract TVec Add(TVec a, TVec b);

    static abstract TVec Subtract(TVec a, TVec b);

    static abstract TVec Multiply(TVec a, TVec b);

    /// <summary>Lane by lane, the larger; NaN where either is NaN.</summary>
    static abstract TVec Max(TVec a, TVec b);

    /// <summary>Lane by lane, the smaller; NaN where either is NaN.</summary>
    static abstract TVec Min(TVec a, TVec b);

    static abstract TVec Abs(TVec x);

    /// <summary>Lane by lane, <paramref name="ifLess"/> where <c>a &lt; b</c>, else <paramref name="otherwise"/> (so NaN takes <paramref name="otherwise"/>).</summary>
    static abstract TVec SelectWhereLess(TVec a, TVec b, TVec ifLess, TVec otherwise);

    static abstract TVec Exp(TVec x);

    static abstract TVec Divide(TVec a, TVec b);

    /// <summary>Lane by lane, <paramref name="ifSmall"/> where |x| &lt; <paramref name="bound"/>, else <paramref name="otherwise"/> (so NaN takes <paramref name="otherwise"/>).</summary>
    static abstract TVec SelectWhereSmall(TVec x, T bound, TVec ifSmall, TVec otherwise);
}

/// <summary>A width of the <see cref="RnnPrecision.Float64"/> path: double lanes (Simd512, Simd256, Simd128, SimdScalar).</summary>
internal interface ISimd<TVec> : ISimd<TVec, double>
    where TVec : struct;

/// <summary>
/// A width of the <see cref="RnnPrecision.Float32"/> path: float lanes, and the two operations its
/// <see cref="SingleExp{TSimd, TVec}"/> needs besides those of every width.
/// </summary>
internal interface ISingleSimd<TVec> : ISimd<TVec, float>
    where TVec : struct
{
    /// <summary>Lane by lane, <paramref name="x"/> limited to [<paramref name="min"/>, <paramref name="max"/>]; NaN stays NaN.</summary>
    static abstract TVec Clamp(TVec x, float min, float max);

    /// <summary>
    /// <c>value · 2^n</c> for integral <paramref name="n"/> in [−127, 127], by building 2^n from its exponent bits:
    /// 2^−127, which those bits cannot hold, gives 0.
    /// </summary>
    static abstract TVec ScaleByPowerOfTwo(TVec value, TVec n);
}
