using System.Globalization;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace FusedRnn.Bench;

/// <summary>The row's median ÷ ONNX Runtime's median on the same workload and thread count.</summary>
internal sealed class PeerRatioColumn : IColumn
{
    public string Id => nameof(PeerRatioColumn);

    public string ColumnName => "÷ ORT";

    public string Legend => "Median ÷ ONNX Runtime's median on the same workload and threads (below 1: faster than ORT)";

    public bool AlwaysShow => true;

    public ColumnCategory Category => ColumnCategory.Custom;

    public int PriorityInCategory => 0;

    public bool IsNumeric => true;

    public UnitType UnitType => UnitType.Dimensionless;

    public bool IsAvailable(Summary summary) => summary.BenchmarksCases.Any(benchmarkCase => benchmarkCase.Descriptor.Type == typeof(RnnBenchmarks));

    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        Result[] results = [.. Result.From(summary)];
        Result row = results.Single(result => result.Case == benchmarkCase);
        return row.MedianNanoseconds is { } median && Result.PeerMedian(results, row) is { } peer
            ? (median / peer).ToString("0.00", CultureInfo.InvariantCulture)
            : "-";
    }
}
