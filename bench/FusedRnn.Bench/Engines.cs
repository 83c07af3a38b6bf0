using FusedRnn.Cli.Benchmarking;

namespace FusedRnn.Bench;

/// <summary>
/// What the suite times: every FusedRnn backend that can run here in both precisions, and ONNX Runtime as the peer.
/// An engine is named by its backend for float32 (the default) and <c>backend-float64</c> for the exact mode; ONNX
/// Runtime computes in float32 only.
/// </summary>
internal static class Engines
{
    /// <summary>The FusedRnn backends the suite covers; one that cannot run here is left out with its reason.</summary>
    static readonly string[] FusedRnnBackends = [RnnBackends.Managed, RnnBackends.Cpu];

    /// <summary>Restricts the engines to a comma-separated list (e.g. <c>managed,onnxruntime</c>) for a quicker run.</summary>
    public const string SelectionVariable = "FUSEDRNN_BENCH_ENGINES";

    /// <summary>Restricts the workloads to a comma-separated list (e.g. <c>lstm-step-b1-h64</c>) for a quicker run.</summary>
    public const string WorkloadSelectionVariable = "FUSEDRNN_BENCH_WORKLOADS";

    /// <summary>Each available FusedRnn backend in float32 then float64, by engine name, with the options it runs with (threads aside).</summary>
    static readonly (string Name, RnnOptions Options)[] FusedRnnEngines =
    [
        .. RnnBackends.Describe()
            .Where(backend => FusedRnnBackends.Contains(backend.Name) && backend.IsAvailable)
            .SelectMany(backend => new[] { RnnPrecision.Float32, RnnPrecision.Float64 }.Select(precision =>
                (NameOf(backend.Name, precision), new RnnOptions { Backend = backend.Name, Precision = precision }))),
    ];

    /// <summary>Every engine that can run here, the peer last, narrowed by <see cref="SelectionVariable"/> when set.</summary>
    public static IReadOnlyList<string> Available { get; } =
        Select(SelectionVariable, [.. FusedRnnEngines.Select(engine => engine.Name), OnnxRuntimeRunner.Name]);

    /// <summary>The workloads of the catalogue, narrowed by <see cref="WorkloadSelectionVariable"/> when set.</summary>
    public static IReadOnlyList<string> Workloads { get; } = Select(WorkloadSelectionVariable, [.. Workload.Names]);

    /// <summary>The engine name of <paramref name="backend"/> computing in <paramref name="precision"/>.</summary>
    public static string NameOf(string backend, RnnPrecision precision) =>
        precision == RnnPrecision.Float64 ? $"{backend}-float64" : backend;

    /// <summary>What <paramref name="engine"/> computes in: ONNX Runtime's CPU kernels are float32.</summary>
    public static RnnPrecision PrecisionOf(string engine) =>
        engine == OnnxRuntimeRunner.Name ? RnnPrecision.Float32 : OptionsOf(engine).Precision;

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

    /// <param name="engine">Any engine that can run here, whether <see cref="Available"/> selects it or not (references are not timed).</param>
    /// <param name="workload">What to run.</param>
    /// <param name="threads">The FusedRnn backend's or ORT's threads.</param>
    public static WorkloadRunner Create(string engine, Workload workload, int threads) =>
        engine == OnnxRuntimeRunner.Name
            ? new OnnxRuntimeRunner(workload, threads)
            : WorkloadRunner.CreateFusedRnn(workload, OptionsOf(engine) with { Threads = threads });

    static RnnOptions OptionsOf(string engine) =>
        FusedRnnEngines.FirstOrDefault(candidate => candidate.Name == engine).Options
        ?? throw new ArgumentException($"unknown engine '{engine}'; the engines that can run here are {string.Join(", ", FusedRnnEngines.Select(candidate => candidate.Name).Append(OnnxRuntimeRunner.Name))}");
}

/// <summary>Two engines disagree: they would not be computing the same thing, so timing them together is meaningless.</summary>
internal sealed class ParityException(string message) : Exception(message);

/// <summary>Checks, before anything is timed, that an engine computes what its reference computes.</summary>
internal static class Parity
{
    /// <summary>
    /// The largest |difference| allowed, the same for both precisions because every check has ONNX Runtime's float32
    /// answer on one side. Measured on the catalogue's workloads (outputs within ±1, so absolute is relative): every
    /// engine, float32 or float64, agrees with ORT to 6e-7, and ORT is 4e-7 from the exact answer, while a real mismatch
    /// (a bias left out, two gates swapped) is 4e-3 or more. 1e-4 lies between: room for a float32 engine's own
    /// summation order and activation approximations, which a recurrence amplifies over its steps, far below a wrong network.
    /// </summary>
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
