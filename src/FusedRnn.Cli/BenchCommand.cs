using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using FusedRnn.Cli.Benchmarking;
using Spectre.Console;

namespace FusedRnn.Cli;

/// <summary>
/// <c>fusedrnn bench</c>: a quick latency profile of one named workload, or of the user's own model on random input,
/// through the allocation-free public API. The BenchmarkDotNet suite in bench/ is the careful measurement; this one
/// answers "how fast here, now" in a second.
/// </summary>
internal sealed class BenchCommand : Command
{
    static readonly TimeSpan WarmUpTime = TimeSpan.FromMilliseconds(200);
    const int MinimumCalls = 10;

    readonly Option<string?> _workload = CommonOptions.AcceptOnly(
        new Option<string?>("--workload") { Description = "The workload to time (see --list)", HelpName = "NAME" },
        "workload", Workload.Names);

    readonly Option<bool> _list = new("--list") { Description = "List the workloads and exit (as JSON with --json)" };

    readonly Option<string?> _weights = new("--weights")
    {
        Description = "Time this model instead of a workload: a PyTorch state_dict of nn.LSTM, nn.GRU or nn.RNN saved as .safetensors, on random input",
        HelpName = "M.safetensors",
    };

    readonly Option<string?> _prefix = new("--prefix") { Description = "With --weights: name prefix of the module's tensors (found automatically when the file holds only the module)" };

    readonly Option<string> _nonlinearity = CommonOptions.Nonlinearity();

    readonly Option<int> _batch = new("--batch")
    {
        Description = "With --weights: batch size B of each call",
        HelpName = "B",
        DefaultValueFactory = _ => 1,
        CustomParser = result => CommonOptions.ParseWhole(result, "--batch", minimum: 1),
    };

    readonly Option<int> _seqLen = new("--seq-len")
    {
        Description = "With --weights: sequence length T of each call (one call runs the whole sequence)",
        HelpName = "T",
        DefaultValueFactory = _ => 100,
        CustomParser = result => CommonOptions.ParseWhole(result, "--seq-len", minimum: 1),
    };

    readonly Option<string> _backend = CommonOptions.Backend(
        new Option<string>("--backend") { Description = "The backend to run on", DefaultValueFactory = _ => RnnBackends.Auto },
        [.. RnnBackends.Names, RnnBackends.Auto]);

    readonly Option<int> _threads = new("--threads")
    {
        Description = "Worker threads the backend may use (RnnOptions.Threads); 0 lets it choose",
        DefaultValueFactory = _ => 0,
        CustomParser = result => CommonOptions.ParseWhole(result, "--threads", minimum: 0),
    };

    readonly Option<string> _precision = CommonOptions.Precision();

    readonly Option<double> _duration = new("--duration")
    {
        Description = "Seconds of timed calls after the warm-up",
        HelpName = "SECONDS",
        DefaultValueFactory = _ => 1.0,
        CustomParser = result =>
        {
            string token = result.Tokens[^1].Value;
            if (double.TryParse(token, NumberStyles.Float, CultureInfo.InvariantCulture, out double seconds) && seconds > 0 && seconds <= 3600)
                return seconds;
            result.AddError($"--duration must be a number of seconds above 0 and at most 3600, not '{token}'");
            return 0;
        },
    };

    readonly Option<bool> _json = new("--json") { Description = "Print the result as one line of JSON" };

    public BenchCommand(CliConsole console)
        : base("bench", "Time one named workload, or your own model (--weights), on random input: median and p99 latency per call")
    {
        Options.Add(_workload);
        Options.Add(_list);
        Options.Add(_weights);
        Options.Add(_prefix);
        Options.Add(_nonlinearity);
        Options.Add(_batch);
        Options.Add(_seqLen);
        Options.Add(_backend);
        Options.Add(_threads);
        Options.Add(_precision);
        Options.Add(_duration);
        Options.Add(_json);
        SetAction(parseResult => console.Guard(() => Execute(parseResult, console)));
    }

    int Execute(ParseResult parseResult, CliConsole console)
    {
        bool json = parseResult.GetValue(_json);
        if (parseResult.GetValue(_list))
        {
            if (json) console.Out.WriteLine(ListJson().ToJsonString());
            else WriteList(console);
            return ExitCodes.Success;
        }

        bool Given(Option option) => parseResult.GetResult(option) is { Implicit: false };
        string? modelPath = parseResult.GetValue(_weights);
        if (modelPath is not null && Given(_workload))
            throw new CliException($"{_workload.Name} and {_weights.Name} cannot be combined: time either a named workload or your own model", ExitCodes.Usage);
        if (modelPath is null)
        {
            foreach (Option option in new Option[] { _prefix, _nonlinearity, _batch, _seqLen }.Where(Given))
                throw new CliException($"{option.Name} applies only with {_weights.Name}: a named workload fixes its own model and shapes", ExitCodes.Usage);
        }

        int threads = parseResult.GetValue(_threads);
        var options = new RnnOptions
        {
            Backend = parseResult.GetRequiredValue(_backend),
            Threads = threads,
            Precision = CommonOptions.PrecisionOf(parseResult, _precision),
        };
        Workload workload;
        RnnWeights? weights = null;
        if (modelPath is null)
        {
            // The name was checked against the catalogue while parsing.
            workload = parseResult.GetValue(_workload) is { } name
                ? Workload.Find(name.Trim().ToLowerInvariant())!
                : throw new CliException($"{_workload.Name} is required; choose one of {string.Join(", ", Workload.Names)} " +
                    $"(or use {_list.Name}), or time your own model with {_weights.Name}", ExitCodes.Usage);
        }
        else
        {
            RnnNonlinearity nonlinearity = CommonOptions.NonlinearityOf(parseResult, _nonlinearity);
            weights = RnnWeights.LoadSafetensors(CommonOptions.ExistingSafetensors(modelPath, _weights), parseResult.GetValue(_prefix), nonlinearity);
            CommonOptions.RejectNonlinearity(nonlinearity, _nonlinearity, weights.Spec);
            workload = new Workload(weights.Spec, parseResult.GetValue(_batch), parseResult.GetValue(_seqLen), WorkloadMode.Sequence);
            RejectTooLarge(workload);
        }

        TimeSpan duration = TimeSpan.FromSeconds(parseResult.GetValue(_duration));
        (string engine, LatencySample sample) = console.IsTerminal
            ? console.CreateProgressConsole().Status().Start("Preparing", context =>
                Time(workload, options, weights, duration, phase => context.Status(Markup.Escape(phase))))
            : Time(workload, options, weights, duration, phase: null);
        var result = new BenchResult(workload, modelPath, parseResult.GetValue(_prefix), engine, threads, options.Precision, sample);

        if (json) console.Out.WriteLine(result.ToJson().ToJsonString());
        else result.Render(console.CreateAnsiConsole());
        return ExitCodes.Success;
    }

    static (string Engine, LatencySample Sample) Time(Workload workload, RnnOptions options, RnnWeights? weights, TimeSpan duration, Action<string>? phase)
    {
        phase?.Invoke($"Loading {workload.Spec} into the {options.Backend} backend");
        WorkloadRunner runner;
        try
        {
            runner = WorkloadRunner.CreateFusedRnn(workload, options, weights);
        }
        catch (OutOfMemoryException e)
        {
            throw new CliException($"out of memory: {CliConsole.MessageOf(e)}; {BufferSizes(workload)}", ExitCodes.OutOfMemory);
        }

        using (runner)
        {
            LatencySample sample = LatencySample.Measure(runner.Run, WarmUpTime, duration, MinimumCalls,
                phase is null ? null : text => phase($"{text} ({workload.Spec.Kind.DisplayName()}, B={workload.Batch}, T={workload.Steps}, {runner.Engine})"));
            return (runner.Engine, sample);
        }
    }

    /// <summary>A model's x and outputs must each fit in one .NET array: checked before anything is allocated.</summary>
    static void RejectTooLarge(Workload workload)
    {
        long input = InputElements(workload);
        if (input > Array.MaxLength)
            throw new CliException($"the random input x [{workload.Steps}, {workload.Batch}, {workload.Spec.InputSize}] would hold {input} floats " +
                $"({CliText.Bytes(input == long.MaxValue ? long.MaxValue : input * sizeof(float))}), more than the {Array.MaxLength} elements a .NET array holds; " +
                "use a smaller --batch or --seq-len", ExitCodes.OutOfMemory);
        OutputSizes.Plan(workload.Spec, batchFirst: false, [workload.Steps, workload.Batch, workload.Spec.InputSize])!.RejectTooLarge();
    }

    static long InputElements(Workload workload)
    {
        try
        {
            return checked((long)workload.Steps * workload.Batch * workload.Spec.InputSize);
        }
        catch (OverflowException)
        {
            return long.MaxValue;
        }
    }

    static string BufferSizes(Workload workload) =>
        $"x [{workload.Steps}, {workload.Batch}, {workload.Spec.InputSize}] = {InputElements(workload)} floats, " +
        OutputSizes.Plan(workload.Spec, batchFirst: false, [workload.Steps, workload.Batch, workload.Spec.InputSize]);

    static JsonArray ListJson()
    {
        var list = new JsonArray();
        foreach (Workload workload in Workload.All)
        {
            list.Add(new JsonObject
            {
                ["name"] = workload.Name,
                ["kind"] = workload.Spec.Kind.DisplayName(),
                ["input_size"] = workload.Spec.InputSize,
                ["hidden_size"] = workload.Spec.HiddenSize,
                ["num_layers"] = workload.Spec.NumLayers,
                ["bidirectional"] = workload.Spec.Bidirectional,
                ["mode"] = workload.Mode switch { WorkloadMode.Step => "step", WorkloadMode.Sequence => "sequence", _ => "model_step" },
                ["batch"] = workload.Batch,
                ["seq_len"] = workload.Steps,
                ["spec"] = workload.Spec.ToString(),
            });
        }

        return list;
    }

    static void WriteList(CliConsole console)
    {
        var table = new Table().Border(TableBorder.Rounded).AddColumn("Workload").AddColumn("Network").AddColumn("One call");
        foreach (Workload workload in Workload.All)
        {
            string call = workload.Mode switch
            {
                WorkloadMode.Step => $"one cell step, B={workload.Batch}, state carried",
                WorkloadMode.Sequence => $"a sequence, T={workload.Steps}, B={workload.Batch}",
                _ => $"one token per row through Embedding({workload.Vocabulary}, {workload.Spec.InputSize}), the network and Linear({workload.Vocabulary}) + softmax, B={workload.Batch}, state carried",
            };
            table.AddRow(new Text(workload.Name), new Text(workload.Spec.ToString()), new Text(call));
        }

        console.CreateAnsiConsole().Write(table);
    }

    /// <summary>
    /// What one bench run measured; <paramref name="Threads"/> is as asked (0: the backend chose); <paramref name="Model"/>
    /// is the file timed with --weights, null for a named workload.
    /// </summary>
    sealed record BenchResult(Workload Workload, string? Model, string? Prefix, string Backend, int Threads, RnnPrecision Precision, LatencySample Sample)
    {
        double MedianMicroseconds => Sample.QuantileSeconds(0.5) * 1e6;

        double P99Microseconds => Sample.QuantileSeconds(0.99) * 1e6;

        public JsonObject ToJson()
        {
            JsonObject json = Model is null
                ? new JsonObject { ["workload"] = Workload.Name }
                : new JsonObject
                {
                    ["model"] = Model,
                    ["prefix"] = Prefix,
                    ["spec"] = Workload.Spec.ToString(),
                    ["batch"] = Workload.Batch,
                    ["seq_len"] = Workload.Steps,
                };
            json["backend"] = Backend;
            json["threads"] = Threads;
            json["precision"] = CommonOptions.NameOf(Precision);
            json["median_us"] = Math.Round(MedianMicroseconds, 3);
            json["p99_us"] = Math.Round(P99Microseconds, 3);
            json["iterations"] = Sample.Count;
            return json;
        }

        public void Render(IAnsiConsole console)
        {
            string title = Model is null ? Workload.Name : CliText.Escape(Model) + (Prefix is null ? "" : $" ({CliText.Escape(Prefix)})");
            string model = Workload.Mode == WorkloadMode.ModelStep
                ? $"Embedding({Workload.Vocabulary}, {Workload.Spec.InputSize}) -> {Workload.Spec} -> Linear({Workload.Vocabulary}) + softmax"
                : Workload.Spec.ToString();
            console.MarkupLineInterpolated($"[bold]{title}[/]: {model}, B={Workload.Batch}, T={Workload.Steps} per call");
            var table = new Table().Border(TableBorder.Rounded)
                .AddColumn("Backend")
                .AddColumn(new TableColumn("Threads").RightAligned())
                .AddColumn("Precision")
                .AddColumn(new TableColumn("median µs").RightAligned())
                .AddColumn(new TableColumn("p99 µs").RightAligned())
                .AddColumn(new TableColumn("GFLOP/s at median").RightAligned())
                .AddColumn(new TableColumn("Calls").RightAligned());
            table.AddRow(
                Backend,
                Threads == 0 ? "backend's choice" : Threads.ToString(CultureInfo.InvariantCulture),
                CommonOptions.NameOf(Precision),
                MedianMicroseconds.ToString("F2", CultureInfo.InvariantCulture),
                P99Microseconds.ToString("F2", CultureInfo.InvariantCulture),
                (Workload.Flops / MedianMicroseconds / 1e3).ToString("F2", CultureInfo.InvariantCulture),
                Sample.Count.ToString(CultureInfo.InvariantCulture));
            console.Write(table);
        }
    }
}
