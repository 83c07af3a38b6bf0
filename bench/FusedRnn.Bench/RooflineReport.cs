using System.Globalization;
using System.Text;
using BenchmarkDotNet.Reports;
using FusedRnn.Cli.Benchmarking;

namespace FusedRnn.Bench;

/// <summary>
/// The table printed after a run: each workload's median against ONNX Runtime and against this machine's roofline,
/// the larger of FLOPs ÷ the peak FMA throughput of the row's precision and weight traffic ÷ streaming bandwidth, all
/// measured in the same run.
/// </summary>
internal static class RooflineReport
{
    const string FileName = "roofline-report.md";

    /// <summary>Prints the table and writes it next to BenchmarkDotNet's reports.</summary>
    /// <returns>Whether every benchmark produced a result (a parity or setup failure leaves none).</returns>
    public static bool Write(IReadOnlyList<Summary> summaries)
    {
        Result[] results = [.. summaries.SelectMany(Result.From)];
        if (results.Length == 0) return true;

        Dictionary<(RnnPrecision Precision, int Threads), double> peakFlopsPerSecond = results
            .Where(result => result.Class == typeof(PeakFmaBenchmarks) && result.MedianNanoseconds is not null)
            .ToDictionary(
                result => (result.Parameter<RnnPrecision>(nameof(PeakFmaBenchmarks.Precision)), result.Parameter<int>(nameof(PeakFmaBenchmarks.Threads))),
                result => PeakFmaBenchmarks.FlopsPerInvocation(result.Parameter<int>(nameof(PeakFmaBenchmarks.Threads))) / Seconds(result));
        Dictionary<(string, int), double> bytesPerSecond = results
            .Where(result => result.Class == typeof(StreamReadBenchmarks) && result.MedianNanoseconds is not null)
            .ToDictionary(
                result => (result.Parameter<string>(nameof(StreamReadBenchmarks.Workload)), result.Parameter<int>(nameof(StreamReadBenchmarks.Threads))),
                result => StreamReadBenchmarks.BytesPerInvocation(Workload.Find(result.Parameter<string>(nameof(StreamReadBenchmarks.Workload)))!) / Seconds(result));

        var text = new StringBuilder();
        text.AppendLine("## Roofline and peer").AppendLine();
        Result[] rows = [.. results.Where(result => result.Class == typeof(RnnBenchmarks))];
        int vectorBits = PeakFmaBenchmarks.Uses512BitVectors ? 512 : 256;
        foreach (var peaks in peakFlopsPerSecond.OrderBy(pair => pair.Key).GroupBy(pair => pair.Key.Precision))
        {
            string[] engines = [.. rows.Select(EngineOf).Distinct().Where(engine => Engines.PrecisionOf(engine) == peaks.Key).Order()];
            text.AppendLine(
                $"- peak {PrecisionName(peaks.Key)} FMA ({vectorBits}-bit vectors): " +
                string.Join(", ", peaks.Select(peak => Invariant($"{peak.Value / 1e9:F1} GFLOP/s on {peak.Key.Threads} thread(s)"))) +
                (engines.Length == 0 ? "" : $"; the compute bound of {string.Join(", ", engines)}"));
        }

        text.AppendLine()
            .AppendLine("| Workload | Engine | Threads | Median µs | ÷ ORT | FLOPs ÷ peak µs | weights ÷ bandwidth µs | bandwidth GB/s | median ÷ bound |")
            .AppendLine("|---|---|--:|--:|--:|--:|--:|--:|--:|");

        bool complete = true;
        foreach (Result row in rows)
        {
            Workload workload = Workload.Find(row.Parameter<string>(nameof(RnnBenchmarks.Workload)))!;
            string engine = EngineOf(row);
            int threads = row.Parameter<int>(nameof(RnnBenchmarks.Threads));
            double? computeBound = peakFlopsPerSecond.TryGetValue((Engines.PrecisionOf(engine), threads), out double peak) ? workload.Flops / peak * 1e6 : null;
            double? bandwidth = bytesPerSecond.TryGetValue((workload.Name, threads), out double rate) ? rate : null;
            double? memoryBound = workload.WeightTrafficBytes / bandwidth * 1e6;
            double? bound = computeBound is null || memoryBound is null ? null : Math.Max(computeBound.Value, memoryBound.Value);
            double? median = row.MedianNanoseconds / 1e3;
            complete &= median is not null;
            string[] cells =
            [
                workload.Name, engine, threads.ToString(CultureInfo.InvariantCulture),
                Format(median, "F1", "FAILED (see the log)"), Format(median / (Result.PeerMedian(results, row) / 1e3), "F2"),
                Format(computeBound, "F1"), Format(memoryBound, "F1"), Format(bandwidth / 1e9, "F0"), Format(median / bound, "F1"),
            ];
            text.AppendLine($"| {string.Join(" | ", cells)} |");
        }

        text.AppendLine().AppendLine(
            $"FLOPs count the matrix products (2 per multiply-add) against the FMA peak of the row's precision: float32 for " +
            $"{OnnxRuntimeRunner.Name} and the FusedRnn engines named by their backend alone, float64 for the " +
            $"{Engines.NameOf("backend", RnnPrecision.Float64)} ones. Weight traffic, float32 in both precisions, is the input " +
            "weights once plus the recurrent weights once per step, read at the measured speed of streaming a buffer the size " +
            "of the model. '-' means the probe was not part of this run.");

        string report = text.ToString();
        Console.WriteLine();
        Console.Write(report);
        string? directory = summaries.Select(summary => summary.ResultsDirectoryPath).FirstOrDefault();
        if (directory is not null)
        {
            string path = Path.Combine(directory, FileName);
            File.WriteAllText(path, report);
            Console.WriteLine($"// written to {path}");
        }

        return complete;
    }

    static string EngineOf(Result row) => row.Parameter<string>(nameof(RnnBenchmarks.Engine));

    static string PrecisionName(RnnPrecision precision) => precision == RnnPrecision.Float64 ? "float64" : "float32";

    static double Seconds(Result result) => result.MedianNanoseconds!.Value / 1e9;

    static string Format(double? value, string format, string missing = "-") =>
        value is { } number ? number.ToString(format, CultureInfo.InvariantCulture) : missing;

    static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
