using FusedRnn.Cli.Benchmarking;

namespace FusedRnn.Bench;

/// <summary>What the suite times: the FusedRnn backends that can run here, and ONNX Runtime as the peer.</summary>
internal static class Engines
{
    /// <summary>The FusedRnn backends the suite covers; one that cannot run here is left out with its reason.</summary>
    static readonly string[] FusedRnnBackends = [RnnBackends.Managed, RnnBackends.Cpu];

    /// <summary>Restricts the engines to a comma-separated list (e.g. <c>managed,onnxruntime</c>) for a quicker run.</summary>
    public const string SelectionVariable = "FUSEDRNN_BENCH_ENGINES";

    /// <summary>Restricts the workloads to a comma-separated list (e.g. <c>lstm-step-b1-h64</c>) for a quicker run.</summary>
    public const string WorkloadSelectionVariable = "FUSEDRNN_BENCH_WORKLOADS";

    /// <summary>Every engine that can run here, the peer last, narrowed by <see cref="SelectionVariable"/> when set.</summary>
    public static IReadOnlyList<string> Available { get; } = Select(SelectionVariable,
    [
        .. RnnBackends.Describe().Where(backend => FusedRnnBackends.Contains(backend.Name) && backend.IsAvailable).Select(backend => backend.Name),
        OnnxRuntimeRunner.Name,
    ]);

    /// <summary>The workloads of the catalogue, narrowed by <see cref="WorkloadSelectionVariable"/> when set.</summary>
    public static IReadOnlyList<string> Workloads { get; } = Select(WorkloadSelectionVariable, [.. Workload.Names]);

    /// <summary>The names of <paramref name="available"/> listed in <paramref name="variable"/>, or all when it is unset.</summary>
    static string[] Select(string variable, string[] available)
    {
        string? selection = Environment.GetEnvironmentVariable(variable);
        if (string.IsNullOrWhiteSpace(selection)) return available;
        string[] chosen = selection.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        string[] unknown = [.. chosen.Where(name => !available.Contains(name))];
        return unknown.Length == 0
            ? [.. available.Where(chosen.Contains)]
            : throw new ArgumentException(
                $"{variable} names {string.Join(", ", unknown)}, which cannot run here; choose from {string.Join(", ", available)}");
    }

    /// <summary>The FusedRnn backends left out, with why.</summary>
    public static IEnumerable<BackendStatus> Skipped =>
        RnnBackends.Describe().Where(backend => FusedRnnBackends.Contains(backend.Name) && !backend.IsAvailable);

    /// <summary>1 and every core, the thread counts each engine is timed with.</summary>
    public static IReadOnlyList<int> ThreadCounts { get; } = [.. new[] { 1, Environment.ProcessorCount }.Distinct()];

    public static WorkloadRunner Create(string engine, Workload workload, int threads) =>
        engine == OnnxRuntimeRunner.Name
            ? new OnnxRuntimeRunner(workload, threads)
            : WorkloadRunner.CreateFusedRnn(workload, new RnnOptions { Backend = engine, Threads = threads });
}

/// <summary>Two engines disagree: they would not be computing the same thing, so timing them together is meaningless.</summary>
internal sealed class ParityException(string message) : Exception(message);

/// <summary>Checks, before anything is timed, that an engine computes what its reference computes.</summary>
internal static class Parity
{
    /// <summary>The largest |difference| allowed: float32 against the double-accumulating managed kernels.</summary>
    public const double Tolerance = 1e-4;

    /// <summary>Steps run for a step workload, so that carrying the state is checked too.</summary>
    const int StepsCompared = 3;

    /// <exception cref="ParityException">A result differs by more than <see cref="Tolerance"/>.</exception>
    public static void Check(WorkloadRunner runner, WorkloadRunner reference)
    {
        int calls = runner.Workload.Mode == WorkloadMode.Step ? StepsCompared : 1;
        foreach (WorkloadRunner engine in new[] { runner, reference })
        {
            engine.ResetState();
            for (int call = 0; call < calls; call++) engine.Run();
        }

        foreach (((string name, float[] actual), (_, float[] expected)) in runner.Results.Zip(reference.Results))
        {
            (double difference, int index) = MaxDifference(actual, expected);
            if (!(difference <= Tolerance))
                throw new ParityException(
                    $"{runner.Workload.Name}: {runner.Engine} and {reference.Engine} disagree on {name}[{index}] by {difference:E2} " +
                    $"({actual[index]} vs {expected[index]}), more than {Tolerance:E0}");
        }

        runner.ResetState();
    }

    static (double Difference, int Index) MaxDifference(float[] actual, float[] expected)
    {
        if (actual.Length != expected.Length)
            throw new ParityException($"results of different lengths: {actual.Length} and {expected.Length}");
        (double difference, int index) max = (0, 0);
        for (int i = 0; i < actual.Length; i++)
        {
            double difference = Math.Abs((double)actual[i] - expected[i]);
            if (double.IsNaN(difference)) return (difference, i); // NaN fails the check in Check, which asks difference <= Tolerance
            if (difference > max.difference) max = (difference, i);
        }

        return max;
    }
}
