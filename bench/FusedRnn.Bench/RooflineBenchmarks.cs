using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using BenchmarkDotNet.Attributes;
using FusedRnn.Cli.Benchmarking;

namespace FusedRnn.Bench;

/// <summary>
/// This machine's peak FMA throughput per precision and thread count: independent FMA chains on the widest vectors the
/// processor has, enough of them to cover the FMA latency on every FMA pipe, so the loop is bound by issue rate alone.
/// </summary>
public class PeakFmaBenchmarks
{
    /// <summary>
    /// Independent accumulators: FMA latency (4 cycles on Zen 4/5) × 2 pipes, plus headroom; with the two operands they
    /// take 14 vector registers, within the 16 of AVX2 as well as the 32 of AVX-512.
    /// </summary>
    const int Chains = 12;

    /// <summary>
    /// Lane FMAs each thread performs in one invocation (2^20 iterations of 16-lane vectors), the same for every
    /// precision and vector width, so that the process that reads the results need not know which chains ran.
    /// </summary>
    const long FmasPerThread = Chains * 16L << 20;

    /// <summary>One thread's chains, for <see cref="Precision"/> on this processor's vectors.</summary>
    Func<int, double>? _chains;

    /// <summary>
    /// Whether the chains are 512-bit: on every processor with AVX-512F, as the native kernels choose theirs. Not
    /// <see cref="Vector512.IsHardwareAccelerated"/>, which .NET also reports false on AVX-512 processors where it prefers
    /// 256-bit vectors for their clock penalty, though Vector512 code still runs as AVX-512 there. Without AVX-512,
    /// Vector512 is emulated in software at about half the Vector256 rate, so the chains are Vector256.
    /// </summary>
    public static bool Uses512BitVectors => Avx512F.IsSupported;

    [ParamsAllValues]
    public RnnPrecision Precision { get; set; }

    [ParamsSource(nameof(ThreadCounts))]
    public int Threads { get; set; }

    public static IEnumerable<int> ThreadCounts => Engines.ThreadCounts;

    /// <summary>Floating-point operations of one invocation, whatever the precision: 2 per lane FMA on every thread.</summary>
    public static double FlopsPerInvocation(int threads) => 2.0 * FmasPerThread * threads;

    [GlobalSetup]
    public void Setup() => _chains = (Precision, Uses512BitVectors) switch
    {
        (RnnPrecision.Float32, true) => _ => FmaChains<Float32x16, Vector512<float>>(),
        (RnnPrecision.Float32, false) => _ => FmaChains<Float32x8, Vector256<float>>(),
        (_, true) => _ => FmaChains<Float64x8, Vector512<double>>(),
        (_, false) => _ => FmaChains<Float64x4, Vector256<double>>(),
    };

    [Benchmark]
    public double PeakFma() => Parallelism.Sum(Threads, _chains!);

    /// <summary><see cref="FmasPerThread"/> lane FMAs as <see cref="Chains"/> chains of <typeparamref name="TVector"/>.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    static double FmaChains<TLanes, TVector>() where TLanes : struct, IFmaLanes<TVector>
    {
        long iterations = FmasPerThread / (Chains * TLanes.Count);
        // x = x·a + b with a just below 1 stays finite for any number of iterations.
        TVector a = TLanes.Create(0.999999), b = TLanes.Create(1e-6);
        TVector x0 = TLanes.Create(0.0), x1 = TLanes.Create(0.1), x2 = TLanes.Create(0.2), x3 = TLanes.Create(0.3);
        TVector x4 = TLanes.Create(0.4), x5 = TLanes.Create(0.5), x6 = TLanes.Create(0.6), x7 = TLanes.Create(0.7);
        TVector x8 = TLanes.Create(0.8), x9 = TLanes.Create(0.9), x10 = TLanes.Create(1.0), x11 = TLanes.Create(1.1);
        for (long i = 0; i < iterations; i++)
        {
            x0 = TLanes.FusedMultiplyAdd(x0, a, b);
            x1 = TLanes.FusedMultiplyAdd(x1, a, b);
            x2 = TLanes.FusedMultiplyAdd(x2, a, b);
            x3 = TLanes.FusedMultiplyAdd(x3, a, b);
            x4 = TLanes.FusedMultiplyAdd(x4, a, b);
            x5 = TLanes.FusedMultiplyAdd(x5, a, b);
            x6 = TLanes.FusedMultiplyAdd(x6, a, b);
            x7 = TLanes.FusedMultiplyAdd(x7, a, b);
            x8 = TLanes.FusedMultiplyAdd(x8, a, b);
            x9 = TLanes.FusedMultiplyAdd(x9, a, b);
            x10 = TLanes.FusedMultiplyAdd(x10, a, b);
            x11 = TLanes.FusedMultiplyAdd(x11, a, b);
        }

        return TLanes.Sum(x0) + TLanes.Sum(x1) + TLanes.Sum(x2) + TLanes.Sum(x3) + TLanes.Sum(x4) + TLanes.Sum(x5)
               + TLanes.Sum(x6) + TLanes.Sum(x7) + TLanes.Sum(x8) + TLanes.Sum(x9) + TLanes.Sum(x10) + TLanes.Sum(x11);
    }
}

/// <summary>
/// What <see cref="PeakFmaBenchmarks"/> needs of one vector type, so that one chain body serves every precision and
/// width; implemented by structs, whose generic instantiations the JIT compiles apart, inlining these calls.
/// </summary>
internal interface IFmaLanes<TVector>
{
    /// <summary>Lanes per vector.</summary>
    static abstract int Count { get; }

    /// <summary>Every lane <paramref name="value"/>, rounded to the lane type.</summary>
    static abstract TVector Create(double value);

    /// <summary>x·a + b rounded once, lane by lane.</summary>
    static abstract TVector FusedMultiplyAdd(TVector x, TVector a, TVector b);

    /// <summary>The sum of the lanes (returned, so that the JIT cannot drop the chains).</summary>
    static abstract double Sum(TVector x);
}

internal readonly struct Float32x16 : IFmaLanes<Vector512<float>>
{
    public static int Count => Vector512<float>.Count;

    public static Vector512<float> Create(double value) => Vector512.Create((float)value);

    public static Vector512<float> FusedMultiplyAdd(Vector512<float> x, Vector512<float> a, Vector512<float> b) => Vector512.FusedMultiplyAdd(x, a, b);

    public static double Sum(Vector512<float> x) => Vector512.Sum(x);
}

internal readonly struct Float32x8 : IFmaLanes<Vector256<float>>
{
    public static int Count => Vector256<float>.Count;

    public static Vector256<float> Create(double value) => Vector256.Create((float)value);

    public static Vector256<float> FusedMultiplyAdd(Vector256<float> x, Vector256<float> a, Vector256<float> b) => Vector256.FusedMultiplyAdd(x, a, b);

    public static double Sum(Vector256<float> x) => Vector256.Sum(x);
}

internal readonly struct Float64x8 : IFmaLanes<Vector512<double>>
{
    public static int Count => Vector512<double>.Count;

    public static Vector512<double> Create(double value) => Vector512.Create(value);

    public static Vector512<double> FusedMultiplyAdd(Vector512<double> x, Vector512<double> a, Vector512<double> b) => Vector512.FusedMultiplyAdd(x, a, b);

    public static double Sum(Vector512<double> x) => Vector512.Sum(x);
}

internal readonly struct Float64x4 : IFmaLanes<Vector256<double>>
{
    public static int Count => Vector256<double>.Count;

    public static Vector256<double> Create(double value) => Vector256.Create(value);

    public static Vector256<double> FusedMultiplyAdd(Vector256<double> x, Vector256<double> a, Vector256<double> b) => Vector256.FusedMultiplyAdd(x, a, b);

    public static double Sum(Vector256<double> x) => Vector256.Sum(x);
}

/// <summary>
/// How fast this machine streams a workload's weights: a buffer of exactly <see cref="Workload.WeightBytes"/> read
/// over and over, split between the threads, so it sits in whichever cache level (or memory) the weights would.
/// </summary>
public class StreamReadBenchmarks
{
    /// <summary>Each invocation reads at least this much, so that starting threads is noise even for the smallest buffer.</summary>
    const long MinimumBytesPerInvocation = 64L << 20;

    float[] _buffer = [];
    int _passes;

    [ParamsSource(nameof(WorkloadNames))]
    public string Workload { get; set; } = "";

    [ParamsSource(nameof(ThreadCounts))]
    public int Threads { get; set; }

    public static IEnumerable<string> WorkloadNames => Engines.Workloads;

    public static IEnumerable<int> ThreadCounts => Engines.ThreadCounts;

    /// <summary>Bytes one invocation reads for <paramref name="workload"/>.</summary>
    internal static double BytesPerInvocation(Workload workload) => (double)workload.WeightBytes * Passes(workload);

    static int Passes(Workload workload) => (int)Math.Max(1, MinimumBytesPerInvocation / workload.WeightBytes);

    [GlobalSetup]
    public void Setup()
    {
        Workload workload = Cli.Benchmarking.Workload.Find(Workload) ?? throw new ArgumentException($"unknown workload '{Workload}'");
        _buffer = new float[workload.WeightBytes / sizeof(float)];
        new Random(1).NextBytes(MemoryMarshal.AsBytes(_buffer.AsSpan()));
        _passes = Passes(workload);
    }

    [Benchmark]
    public double StreamRead() => Parallelism.Sum(Threads, thread =>
    {
        int slice = _buffer.Length / Threads;
        int start = thread * slice, length = thread == Threads - 1 ? _buffer.Length - start : slice;
        double sum = 0;
        for (int pass = 0; pass < _passes; pass++) sum += SumOf(_buffer.AsSpan(start, length));
        return sum;
    });

    /// <summary>Four independent Vector512 adds per iteration keep the loads, not the adds, the limit.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    static double SumOf(ReadOnlySpan<float> values)
    {
        ReadOnlySpan<Vector512<float>> vectors = MemoryMarshal.Cast<float, Vector512<float>>(values);
        Vector512<float> s0 = default, s1 = default, s2 = default, s3 = default;
        int i = 0;
        for (; i + 4 <= vectors.Length; i += 4)
        {
            s0 += vectors[i];
            s1 += vectors[i + 1];
            s2 += vectors[i + 2];
            s3 += vectors[i + 3];
        }

        for (; i < vectors.Length; i++) s0 += vectors[i];
        double sum = Vector512.Sum(s0 + s1 + s2 + s3);
        foreach (float tail in values[(vectors.Length * Vector512<float>.Count)..]) sum += tail;
        return sum;
    }
}

/// <summary>Runs one body per thread (the calling thread takes part) and sums what they return, so the JIT cannot drop the work.</summary>
internal static class Parallelism
{
    public static double Sum(int threads, Func<int, double> body)
    {
        if (threads == 1) return body(0);
        var results = new double[threads];
        Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, thread => results[thread] = body(thread));
        return results.Sum();
    }
}
