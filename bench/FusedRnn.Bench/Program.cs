using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using FusedRnn;
using FusedRnn.Bench;

// Concurrent streams are measured by a plain timed loop, not BenchmarkDotNet: thousands of concurrent callers are
// the workload, not one method invoked repeatedly.
if (args.Length > 0 && args[0] == "streams") return StreamsBenchmark.Run(args[1..]);

IReadOnlyList<string> engines;
try
{
    engines = Engines.Available;
}
catch (TypeInitializationException e) when (e.InnerException is ArgumentException badSelection)
{
    Console.Error.WriteLine($"FusedRnn.Bench: error: {badSelection.Message}");
    return 2;
}

Console.WriteLine($"// engines: {string.Join(", ", engines)}; threads: {string.Join(", ", Engines.ThreadCounts)}");
foreach (BackendStatus skipped in Engines.Skipped)
    Console.WriteLine($"// backend '{skipped.Name}' skipped: {skipped.UnavailableReason}");

IConfig config = DefaultConfig.Instance
    .AddColumn(StatisticColumn.Median, new PeerRatioColumn())
    // Zero bytes allocated per call is part of the claim; the peer's column shows what ORT allocates.
    .AddDiagnoser(MemoryDiagnoser.Default);
Summary[] summaries = [.. BenchmarkSwitcher.FromAssembly(typeof(RnnBenchmarks).Assembly).Run(args, config)];
return RooflineReport.Write(summaries) ? 0 : 1;
