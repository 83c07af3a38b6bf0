using BenchmarkDotNet.Attributes;
using FusedRnn.Cli.Benchmarking;

namespace FusedRnn.Bench;

/// <summary>
/// Every workload × engine (each FusedRnn backend in float32 and float64, and ONNX Runtime) × thread count. One
/// invocation is one call: one cell step with the state carried, or one whole sequence. Each engine is first checked
/// against its reference (<see cref="Parity"/>).
/// </summary>
public class RnnBenchmarks
{
    WorkloadRunner? _runner;

    [ParamsSource(nameof(WorkloadNames))]
    public string Workload { get; set; } = "";

    [ParamsSource(nameof(EngineNames))]
    public string Engine { get; set; } = "";

    [ParamsSource(nameof(ThreadCounts))]
    public int Threads { get; set; }

    public static IEnumerable<string> WorkloadNames => Engines.Workloads;

    public static IEnumerable<string> EngineNames => Engines.Available;

    public static IEnumerable<int> ThreadCounts => Engines.ThreadCounts;

    [GlobalSetup]
    public void Setup()
    {
        Workload workload = Cli.Benchmarking.Workload.Find(Workload) ?? throw new ArgumentException($"unknown workload '{Workload}'");
        _runner = Engines.Create(Engine, workload, Threads);
        // The peer is checked against the managed backend's exact mode, every FusedRnn engine (either precision) against the peer.
        using WorkloadRunner reference = Engine == OnnxRuntimeRunner.Name
            ? Engines.Create(Engines.NameOf(RnnBackends.Managed, RnnPrecision.Float64), workload, threads: 1)
            : Engines.Create(OnnxRuntimeRunner.Name, workload, threads: 1);
        Parity.Check(_runner, reference);
    }

    [Benchmark]
    public void Call() => _runner!.Run();

    [GlobalCleanup]
    public void Cleanup() => _runner?.Dispose();
}
