using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using BenchmarkDotNet.Attributes;
using FusedRnn.Cli.Benchmarking;

namespace FusedRnn.Bench;

/// <summary>
/// This machine's peak double-precision FMA throughput per thread count: independent Vector512 FMA chains, enough of
/// them to cover the FMA latency on every FMA pipe, so the loop is bound by issue rate alone.
/// </summary>
public class PeakFmaBenchmarks
{
    /// <summary>Independent accumulators: FMA latency (4 cycles on Zen 4/5) × 2 pipes, plus headroom; all stay in registers.</summary>
    const int Chains = 12;

    const long IterationsPerThread = 1 << 20;

    [ParamsSource(nameof(ThreadCounts))]
    public int Threads { get; set; }

    public static IEnumerable<int> ThreadCounts => Engines.ThreadCounts;

    /// <summary>Floating-point operations of one invocation: 2 per lane of every FMA on every thread.</summary>
    public static double FlopsPerInvocation(int threads) => 2.0 * Vector512<double>.Count * Chains * IterationsPerThread * threads;

    [Benchmark]
    public double PeakFma() => Parallelism.Sum(Threads, _ => FmaChains(IterationsPerThread));

    [MethodImpl(MethodImplOptions.NoInlining)]
    static double FmaChains(long iterations)
    {
        // x = x·a + b with a just below 1 stays finite for any number of iterations.
        Vector512<double> a = Vector512.Create(0.999999), b = Vector512.Create(1e-6);
        Vector512<double> x0 = Vector512.Create(0.0), x1 = Vector512.Create(0.1), x2 = Vector512.Create(0.2), x3 = Vector512.Create(0.3);
        Vector512<double> x4 = Vector512.Create(0.4), x5 = Vector512.Create(0.5), x6 = Vector512.Create(0.6), x7 = Vector512.Create(0.7);
        Vector512<double> x8 = Vector512.Create(0.8), x9 = Vector512.Create(0.9), x10 = Vector512.Create(1.0), x11 = Vector512.Create(1.1);
        for (long i = 0; i < iterations; i++)
        {
            x0 = Vector512.FusedMultiplyAdd(x0, a, b);
            x1 = Vector512.FusedMultiplyAdd(x1, a, b);
            x2 = Vector512.FusedMultiplyAdd(x2, a, b);
            x3 = Vector512.FusedMultiplyAdd(x3, a, b);
            x4 = Vector512.FusedMultiplyAdd(x4, a, b);
            x5 = Vector512.FusedMultiplyAdd(x5, a, b);
            x6 = Vector512.FusedMultiplyAdd(x6, a, b);
            x7 = Vector512.FusedMultiplyAdd(x7, a, b);
            x8 = Vector512.FusedMultiplyAdd(x8, a, b);
            x9 = Vector512.FusedMultiplyAdd(x9, a, b);
            x10 = Vector512.FusedMultiplyAdd(x10, a, b);
            x11 = Vector512.FusedMultiplyAdd(x11, a, b);
        }

        return Vector512.Sum(x0 + x1 + x2 + x3 + x4 + x5 + x6 + x7 + x8 + x9 + x10 + x11);
    }
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
