using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace FusedRnn.Bench;

/// <summary>One benchmark case of a run with its median, read back by parameter name.</summary>
internal sealed record Result(BenchmarkCase Case, double? MedianNanoseconds)
{
    public Type Class => Case.Descriptor.Type;

    public T Parameter<T>(string name) => (T)Case.Parameters[name];

    public static IEnumerable<Result> From(Summary summary) =>
        summary.BenchmarksCases.Select(benchmarkCase => new Result(benchmarkCase, summary[benchmarkCase]?.ResultStatistics?.Median));

    /// <summary>The peer's median for the same workload and threads as <paramref name="row"/>, if it ran.</summary>
    public static double? PeerMedian(IEnumerable<Result> results, Result row) =>
        results.FirstOrDefault(other => other.Class == typeof(RnnBenchmarks)
                                        && other.Parameter<string>(nameof(RnnBenchmarks.Engine)) == OnnxRuntimeRunner.Name
                                        && other.Parameter<string>(nameof(RnnBenchmarks.Workload)) == row.Parameter<string>(nameof(RnnBenchmarks.Workload))
                                        && other.Parameter<int>(nameof(RnnBenchmarks.Threads)) == row.Parameter<int>(nameof(RnnBenchmarks.Threads)))
            ?.MedianNanoseconds;
}
