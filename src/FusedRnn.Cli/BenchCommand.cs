using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using FusedRnn.Cli.Benchmarking;
using Spectre.Console;

namespace FusedRnn.Cli;

/// <summary>
/// <c>fusedrnn bench</c>: a quick latency profile of one named workload through the allocation-free public API.
/// The BenchmarkDotNet suite in bench/ is the careful measurement; this one answers "how fast here, now" in a second.
/// </summary>
internal sealed class BenchCommand : Command
{
    static readonly TimeSpan WarmUpTime = TimeSpan.FromMilliseconds(200);
    const int MinimumCalls = 10;

    readonly Option<string?> _workload = CommonOptions.AcceptOnly(
        new Option<string?>("--workload") { Description = "The workload to time (see --list)", HelpName = "NAME" },
        "workload", Workload.Names);

    readonly Option<bool> _list = new("--list") { Description = "List the workloads and exit" };

    readonly Option<string> _backend = CommonOptions.Backend(
        new Option<string>("--backend") { Description = "The backend to run on", DefaultValueFactory = _ => RnnBackends.Auto },
        [.. RnnBackends.Names, RnnBackends.Auto]);

    readonly Option<int> _threads = new("--threads")
    {
        Description = "Worker threads the backend may use (RnnOptions.Threads); 0 lets it choose",
        DefaultValueFactory = _ => 0,
        CustomParser = result => ParseWhole(result, "--threads", minimum: 0),
    };

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
        : base("bench", "Time one named workload: median and p99 latency per call through the allocation-free API")
    {
        Options.Add(_workload);
        Options.Add(_list);
        Options.Add(_backend);
        Options.Add(_threads);
        Options.Add(_duration);
        Options.Add(_json);
        SetAction(parseResult => console.Guard(() => Execute(parseResult, console)));
    }

    /// <summary>A parser rather than a validator: a validator cannot read a value that failed to parse.</summary>
    static int ParseWhole(System.CommandLine.Parsing.ArgumentResult result, string name, int minimum)
    {
        string token = result.Tokens[^1].Value;
        if (int.TryParse(token, CultureInfo.InvariantCulture, out int value) && value >= minimum) return value;
        result.AddError($"{name} must be a whole number of at least {minimum}, not '{token}'");
        return 0;
    }

    int Execute(ParseResult parseResult, CliConsole console)
    {
        if (parseResult.GetValue(_list))
        {
            WriteList(console);
            return ExitCodes.Success;
        }

        // The name was checked against the catalogue while parsing.
        Workload workload = parseResult.GetValue(_workload) is { } name
            ? Workload.Find(name.Trim().ToLowerInvariant())!
            : throw new CliException($"{_workload.Name} is required; choose one of {string.Join(", ", Workload.Names)} (or use {_list.Name})", ExitCodes.Usage);
        int threads = parseResult.GetValue(_threads);
        var options = new RnnOptions { Backend = parseResult.GetRequiredValue(_backend), Threads = threads };

        using WorkloadRunner runner = WorkloadRunner.CreateFusedRnn(workload, options);
        LatencySample sample = LatencySample.Measure(runner.Run, WarmUpTime, TimeSpan.FromSeconds(parseResult.GetValue(_duration)), MinimumCalls);
        var result = new BenchResult(workload, runner.Engine, threads, sample);

        if (parseResult.GetValue(_json)) console.Out.WriteLine(result.ToJson().ToJsonString());
        else result.Render(console.CreateAnsiConsole());
        return ExitCodes.Success;
    }

    static void WriteList(CliConsole console)
    {
        var table = new Table().Border(TableBorder.Rounded).AddColumn("Workload").AddColumn("Network").AddColumn("One call");
        foreach (Workload workload in Workload.All)
        {
            string call = workload.Mode == WorkloadMode.Step
                ? $"one cell step, B={workload.Batch}, state carried"
                : $"a sequence, T={workload.Steps}, B={workload.Batch}";
            table.AddRow(new Text(workload.Name), new Text(workload.Spec.ToString()), new Text(call));
        }

        console.CreateAnsiConsole().Write(table);
    }

    /// <summary>What one bench run measured; <paramref name="Threads"/> is as asked (0: the backend chose).</summary>
    sealed record BenchResult(Workload Workload, string Backend, int Threads, LatencySample Sample)
    {
        double MedianMicroseconds => Sample.QuantileSeconds(0.5) * 1e6;

        double P99Microseconds => Sample.QuantileSeconds(0.99) * 1e6;

        public JsonObject ToJson() => new()
        {
            ["workload"] = Workload.Name,
            ["backend"] = Backend,
            ["threads"] = Threads,
            ["median_us"] = Math.Round(MedianMicroseconds, 3),
            ["p99_us"] = Math.Round(P99Microseconds, 3),
            ["iterations"] = Sample.Count,
        };

        public void Render(IAnsiConsole console)
        {
            console.MarkupLineInterpolated($"[bold]{Workload.Name}[/]: {Workload.Spec.ToString()}, B={Workload.Batch}, T={Workload.Steps} per call");
            var table = new Table().Border(TableBorder.Rounded)
                .AddColumn("Backend")
                .AddColumn(new TableColumn("Threads").RightAligned())
                .AddColumn(new TableColumn("median µs").RightAligned())
                .AddColumn(new TableColumn("p99 µs").RightAligned())
                .AddColumn(new TableColumn("GFLOP/s at median").RightAligned())
                .AddColumn(new TableColumn("Calls").RightAligned());
            table.AddRow(
                Backend,
                Threads == 0 ? "backend's choice" : Threads.ToString(CultureInfo.InvariantCulture),
                MedianMicroseconds.ToString("F2", CultureInfo.InvariantCulture),
                P99Microseconds.ToString("F2", CultureInfo.InvariantCulture),
                (Workload.Flops / MedianMicroseconds / 1e3).ToString("F2", CultureInfo.InvariantCulture),
                Sample.Count.ToString(CultureInfo.InvariantCulture));
            console.Write(table);
        }
    }
}
