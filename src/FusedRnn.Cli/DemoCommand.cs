using System.CommandLine;
using System.Globalization;
using FusedRnn.Backends;
using FusedRnn.Cli.Benchmarking;
using Spectre.Console;

namespace FusedRnn.Cli;

/// <summary>
/// <c>fusedrnn demo</c>: runs the embedded model on every backend, checks each against the managed reference and
/// measures its latency.
/// </summary>
internal sealed class DemoCommand : Command
{
    const int Seed = 20261122;
    const int Batch = 1;
    static readonly TimeSpan WarmUpTime = TimeSpan.FromMilliseconds(200);
    static readonly TimeSpan MeasureTime = TimeSpan.FromSeconds(1);
    const int MinimumRuns = 5;

    readonly Option<int> _steps = new("--steps")
    {
        Description = "Sequence length T",
        DefaultValueFactory = _ => 100,
        // A parser rather than a validator: a validator cannot read a value that failed to parse.
        CustomParser = result =>
        {
            string token = result.Tokens[^1].Value;
            if (int.TryParse(token, CultureInfo.InvariantCulture, out int steps) && steps >= 1) return steps;
            result.AddError($"--steps must be a whole number of at least 1, not '{token}'");
            return 0;
        },
    };

    readonly Option<string[]> _backends = CommonOptions.Backend(
        new Option<string[]>("--backend") { Description = "A backend to measure, which must be available here; repeat for several (default: every backend, unavailable ones listed as such)" },
        RnnBackends.Names);

    readonly Option<string> _precision = CommonOptions.Precision();

    public DemoCommand(CliConsole console)
        : base("demo", "Run the embedded 2-layer LSTM on every backend: difference from the exact (float64) answer and latency")
    {
        Options.Add(_steps);
        Options.Add(_backends);
        Options.Add(_precision);
        SetAction(parseResult => console.Guard(() => Execute(parseResult, console)));
    }

    int Execute(ParseResult parseResult, CliConsole console)
    {
        int steps = parseResult.GetValue(_steps);
        RnnPrecision precision = CommonOptions.PrecisionOf(parseResult, _precision);
        string[] chosen = [.. (parseResult.GetValue(_backends) ?? []).Select(name => name.Trim().ToLowerInvariant())];
        // The managed backend, the reference the differences are measured against, comes first; the others keep RnnBackends' order.
        BackendStatus[] backends =
        [
            .. RnnBackends.Describe()
                .Where(backend => chosen.Length == 0 || chosen.Contains(backend.Name))
                .OrderBy(backend => backend.Name != RnnBackends.Managed),
        ];

        // A backend asked for by name must run: a table row saying it is unavailable would exit 0 and hide that.
        if (backends.FirstOrDefault(backend => chosen.Length > 0 && !backend.IsAvailable) is { } unavailable)
            throw new BackendUnavailableException(unavailable.Name, unavailable.UnavailableReason ?? "unknown reason");

        RnnWeights weights = DefaultModel.Load();
        var workload = new Workload(weights.Spec, steps);
        IAnsiConsole ansi = console.CreateAnsiConsole();
        ansi.MarkupLineInterpolated($"[bold]{weights.Spec}[/] from the embedded {DefaultModel.FileName}");
        ansi.WriteLine($"Input: T={steps}, B={Batch}, random x (seed {Seed}), zero initial state; each backend warmed up, then timed for ~{MeasureTime.TotalSeconds:0.#} s");
        ansi.WriteLine($"Precision: {CommonOptions.NameOf(precision)}; |Δ| is the largest difference from the managed backend's float64 (exact-mode) answer");

        Outputs reference = workload.Run(weights, new RnnOptions { Backend = RnnBackends.Managed, Precision = RnnPrecision.Float64 });
        var results = new List<(BackendStatus Backend, Measurement? Measurement)>();
        void MeasureAll(Action<string> report)
        {
            foreach (BackendStatus backend in backends)
            {
                report(backend.Name);
                results.Add((backend, backend.IsAvailable ? workload.Measure(weights, new RnnOptions { Backend = backend.Name, Precision = precision }, reference) : null));
            }
        }

        if (console.IsTerminal)
            ansi.Status().Start("Measuring", context => MeasureAll(name => context.Status($"Measuring [bold]{name}[/]")));
        else
            MeasureAll(_ => { });

        ansi.Write(ResultTable(results, weights.Spec.Kind.HasCellState()));
        return ExitCodes.Success;
    }

    static Table ResultTable(IEnumerable<(BackendStatus Backend, Measurement? Measurement)> results, bool hasCellState)
    {
        var table = new Table().Border(TableBorder.Rounded)
            .AddColumn("Backend")
            .AddColumn(new TableColumn("max |Δy|").RightAligned())
            .AddColumn(new TableColumn("max |Δh_n|").RightAligned())
            .AddColumn(new TableColumn("max |Δc_n|").RightAligned())
            .AddColumn(new TableColumn("median µs/step").RightAligned())
            .AddColumn(new TableColumn("p99 µs/step").RightAligned())
            .AddColumn(new TableColumn("sequences/s").RightAligned())
            .AddColumn("Status");
        foreach ((BackendStatus backend, Measurement? measurement) in results)
        {
            if (measurement is null)
            {
                table.AddRow(
                    new Text(backend.Name), new Text("-"), new Text("-"), new Text("-"), new Text("-"), new Text("-"), new Text("-"),
                    new Markup($"[yellow]unavailable[/]: {Markup.Escape(CliText.Escape(backend.UnavailableReason!))}"));
                continue;
            }

            table.AddRow(
                new Text(backend.Name),
                new Text(FormatDifference(measurement.MaxDiffOutput)),
                new Text(FormatDifference(measurement.MaxDiffHidden)),
                new Text(hasCellState ? FormatDifference(measurement.MaxDiffCell) : "-"),
                new Text(measurement.MedianMicrosecondsPerStep.ToString("F2")),
                new Text(measurement.P99MicrosecondsPerStep.ToString("F2")),
                new Text(measurement.SequencesPerSecond.ToString("F1")),
                new Markup($"[green]ok[/] ({measurement.Runs} runs)"));
        }

        return table;
    }

    static string FormatDifference(double difference) => difference == 0 ? "0" : difference.ToString("0.00E+00", CultureInfo.InvariantCulture);

    /// <summary>y, h_n and c_n of one sequence.</summary>
    sealed record Outputs(float[] Output, float[] Hidden, float[] Cell);

    sealed record Measurement(
        double MaxDiffOutput, double MaxDiffHidden, double MaxDiffCell,
        double MedianMicrosecondsPerStep, double P99MicrosecondsPerStep, double SequencesPerSecond, int Runs);

    /// <summary>One deterministic input sequence and the buffers its outputs need.</summary>
    sealed class Workload(RnnSpec spec, int steps)
    {
        readonly float[] _input = RandomInput(steps * Batch * spec.InputSize);

        static float[] RandomInput(int count)
        {
            var random = new Random(Seed);
            var values = new float[count];
            for (int i = 0; i < values.Length; i++) values[i] = (float)(random.NextDouble() * 2 - 1);
            return values;
        }

        public Outputs Run(RnnWeights weights, RnnOptions options)
        {
            using RecurrentModule module = RecurrentModule.Create(weights, options);
            using RnnWorkspace workspace = module.CreateWorkspace();
            Outputs outputs = NewOutputs();
            Forward(module, workspace, outputs);
            return outputs;
        }

        /// <summary>Warms up, then times whole sequences for about <see cref="MeasureTime"/>.</summary>
        public Measurement Measure(RnnWeights weights, RnnOptions options, Outputs reference)
        {
            using RecurrentModule module = RecurrentModule.Create(weights, options);
            using RnnWorkspace workspace = module.CreateWorkspace();
            Outputs outputs = NewOutputs();

            LatencySample sample = LatencySample.Measure(() => Forward(module, workspace, outputs), WarmUpTime, MeasureTime, MinimumRuns);
            double MicrosecondsPerStep(double quantile) => sample.QuantileSeconds(quantile) * 1e6 / steps;
            return new Measurement(
                MaxAbsDifference(reference.Output, outputs.Output),
                MaxAbsDifference(reference.Hidden, outputs.Hidden),
                MaxAbsDifference(reference.Cell, outputs.Cell),
                MicrosecondsPerStep(0.5),
                MicrosecondsPerStep(0.99),
                sample.Count / sample.TotalSeconds,
                sample.Count);
        }

        Outputs NewOutputs() => new(
            new float[steps * Batch * spec.OutputFeatures],
            new float[spec.LayerDirectionCount * Batch * spec.OutputSize],
            spec.Kind.HasCellState() ? new float[spec.LayerDirectionCount * Batch * spec.HiddenSize] : []);

        // The allocation-free overload: what a latency-sensitive caller would use.
        void Forward(RecurrentModule module, RnnWorkspace workspace, Outputs outputs) =>
            module.Forward(_input, steps, Batch, outputs.Output, outputs.Hidden, outputs.Cell, workspace);

        static double MaxAbsDifference(float[] expected, float[] actual)
        {
            double max = 0;
            for (int i = 0; i < expected.Length; i++) max = Math.Max(max, Math.Abs((double)actual[i] - expected[i]));
            return max;
        }
    }
}
