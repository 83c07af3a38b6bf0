using System.CommandLine;
using System.Globalization;
using FusedRnn.Backends;
using FusedRnn.IO;
using Spectre.Console;

namespace FusedRnn.Cli;

/// <summary>
/// <c>fusedrnn parity</c>: one model on several backends, each compared with the exact answer (the managed backend in
/// float64) and with every other; exits with <see cref="ExitCodes.ParityFailed"/> when a comparison is outside its
/// tolerance.
/// </summary>
internal sealed class ParityCommand : Command
{
    const int Seed = 20261201;

    /// <summary>The Float64 contract: every backend within this of the exact answer (README, Precision).</summary>
    internal const double Float64Tolerance = 1e-5;

    /// <summary>The floor of the Float32 contract, max(2e-6, 4 × the float32 error of the best float32 answer).</summary>
    internal const double Float32ToleranceFloor = 2e-6;

    /// <summary>How many times the best float32 answer's own error a float32 backend may be off (the README's contract).</summary>
    internal const double Float32ErrorMultiple = 4;

    readonly Option<string?> _weights = new("--weights")
    {
        Description = "The model, as fusedrnn run reads it: a PyTorch state_dict (.safetensors), an .onnx model or a Keras model (default: the embedded demo model)",
    };

    readonly Option<string?> _prefix = new("--prefix") { Description = "Key prefix of the network in a state_dict (default: found in the file)" };

    readonly Option<string?> _modelConfig = new("--model-config")
    {
        Description = "A whole PyTorch model's JSON description (with a .safetensors), or a Keras model's config JSON (with a .weights.h5)",
    };

    readonly Option<string> _nonlinearity = CommonOptions.Nonlinearity();

    readonly Option<string?> _layer = new("--layer") { Description = "One recurrent layer of a Keras model, by name (default: the whole model)" };

    readonly Option<string[]> _backends = CommonOptions.AcceptOnly(
        new Option<string[]>("--backends")
        {
            Description = "The backends to compare, comma-separated or repeated, each of which must be available here (default: every available backend)",
            HelpName = string.Join('|', RnnBackends.Names),
            AllowMultipleArgumentsPerToken = true,
        },
        "backend", RnnBackends.Names, separator: ',');

    readonly Option<string> _precision = CommonOptions.Precision();

    readonly Option<int> _steps = new("--steps")
    {
        Description = "Sequence length T of the random input",
        DefaultValueFactory = _ => 20,
        CustomParser = result => CommonOptions.ParseWhole(result, "--steps", 1),
    };

    readonly Option<int> _batch = new("--batch")
    {
        Description = "Batch rows B of the random input",
        DefaultValueFactory = _ => 2,
        CustomParser = result => CommonOptions.ParseWhole(result, "--batch", 1),
    };

    readonly Option<double?> _tolerance = new("--tolerance")
    {
        Description = "Largest relative difference |Δ| / max(1, |exact|) a backend may have from the exact answer (a pair of backends: twice it); default: the precision's contract",
        CustomParser = result =>
        {
            string token = result.Tokens[^1].Value;
            if (double.TryParse(token, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) && value > 0 && double.IsFinite(value)) return value;
            result.AddError($"--tolerance must be a positive number, not '{token}'");
            return null;
        },
    };

    public ParityCommand(CliConsole console)
        : base("parity", "Run one model on several backends and compare them with each other and with the exact (float64) answer")
    {
        foreach (Option option in new Option[] { _weights, _prefix, _nonlinearity, _modelConfig, _layer, _backends, _precision, _steps, _batch, _tolerance }) Options.Add(option);
        SetAction(parseResult => console.Guard(() => Execute(parseResult, console)));
    }

    int Execute(ParseResult parseResult, CliConsole console)
    {
        RnnPrecision precision = CommonOptions.PrecisionOf(parseResult, _precision);
        string[] chosen = [.. CommonOptions.Values(parseResult.GetValue(_backends) ?? [], separator: ',').Select(name => name.ToLowerInvariant()).Distinct()];
        BackendStatus[] backends = [.. RnnBackends.Describe().Where(backend => chosen.Length == 0 ? backend.IsAvailable : chosen.Contains(backend.Name))];
        if (backends.FirstOrDefault(backend => !backend.IsAvailable) is { } unavailable)
            throw new BackendUnavailableException(unavailable.Name, unavailable.UnavailableReason ?? "unknown reason");

        Subject subject = LoadSubject(parseResult);
        var input = new Input(parseResult.GetValue(_steps), parseResult.GetValue(_batch));
        Output[] exact = subject.Run(new RnnOptions { Backend = RnnBackends.Managed, Precision = RnnPrecision.Float64 }, input);
        (string Backend, Output[] Outputs)[] runs = [.. backends.Select(backend => (backend.Name, subject.Run(new RnnOptions { Backend = backend.Name, Precision = precision }, input)))];

        (double Absolute, double Relative)[] errors = [.. runs.Select(run => Difference(run.Outputs, exact, exact))];
        // The float32 contract scales with the best float32 answer's own error: the managed backend's counts too, so
        // that one backend on its own is not measured only against itself.
        IEnumerable<double> float32Errors = errors.Select(error => error.Relative);
        if (precision == RnnPrecision.Float32 && !backends.Any(backend => backend.Name == RnnBackends.Managed))
            float32Errors = float32Errors.Append(Difference(subject.Run(new RnnOptions { Backend = RnnBackends.Managed }, input), exact, exact).Relative);
        double tolerance = parseResult.GetValue(_tolerance) ?? DefaultTolerance(precision, float32Errors);
        var rows = new List<Comparison>();
        for (int i = 0; i < runs.Length; i++) rows.Add(new Comparison($"{runs[i].Backend} vs exact", errors[i].Absolute, errors[i].Relative, tolerance));
        for (int i = 0; i < runs.Length; i++)
        {
            for (int j = i + 1; j < runs.Length; j++)
            {
                (double absolute, double relative) = Difference(runs[i].Outputs, runs[j].Outputs, exact);
                rows.Add(new Comparison($"{runs[i].Backend} vs {runs[j].Backend}", absolute, relative, 2 * tolerance));
            }
        }

        IAnsiConsole ansi = console.CreateAnsiConsole();
        ansi.WriteLine($"{subject.Description}; x of {input.Steps} steps x {input.Batch} rows, random (seed {Seed}), zero initial state");
        ansi.WriteLine($"Precision: {CommonOptions.NameOf(precision)}; exact: the managed backend in float64; relative |Δ| is |Δ| / max(1, |exact|) over {string.Join(", ", exact.Select(output => output.Name))}");
        ansi.WriteLine(parseResult.GetValue(_tolerance) is null
            ? FormattableString.Invariant($"Tolerance: {ToleranceRule(precision)} = {tolerance:G3}; a pair of backends twice it")
            : FormattableString.Invariant($"Tolerance: {tolerance:G3} (--tolerance); a pair of backends twice it"));
        ansi.Write(Table(rows));
        Comparison[] failed = [.. rows.Where(row => !row.Within)];
        if (failed.Length == 0) return ExitCodes.Success;
        console.Error.WriteLine($"fusedrnn: error: outside the tolerance: {string.Join("; ", failed.Select(row => FormattableString.Invariant($"{row.Name} differs by {row.Relative:G3} (tolerance {row.Tolerance:G3})")))}");
        return ExitCodes.ParityFailed;
    }

    /// <summary>The precision's contract: Float64 1e-5; Float32 4 × the smallest float32 error (of the backends and the managed backend), at least 2e-6.</summary>
    internal static double DefaultTolerance(RnnPrecision precision, IEnumerable<double> float32Errors) => precision == RnnPrecision.Float64
        ? Float64Tolerance
        : Math.Max(Float32ToleranceFloor, Float32ErrorMultiple * float32Errors.DefaultIfEmpty(0).Min());

    static string ToleranceRule(RnnPrecision precision) => precision == RnnPrecision.Float64
        ? "the float64 contract"
        : FormattableString.Invariant($"max({Float32ToleranceFloor:G2}, {Float32ErrorMultiple:G} x the smallest float32 error, the managed backend's included)");

    /// <summary>The largest |a − b| over every output, and the largest |a − b| / max(1, |exact|); a NaN against a number is infinitely far, NaN against NaN equal.</summary>
    static (double Absolute, double Relative) Difference(Output[] a, Output[] b, Output[] exact)
    {
        double absolute = 0, relative = 0;
        for (int k = 0; k < exact.Length; k++)
        {
            float[] x = a[k].Values, y = b[k].Values, scale = exact[k].Values;
            for (int i = 0; i < scale.Length; i++)
            {
                double difference = float.IsNaN(x[i]) && float.IsNaN(y[i]) ? 0 : float.IsNaN(x[i]) || float.IsNaN(y[i]) ? double.PositiveInfinity : Math.Abs((double)x[i] - y[i]);
                absolute = Math.Max(absolute, difference);
                relative = Math.Max(relative, difference / Math.Max(1, Math.Abs((double)scale[i])));
            }
        }

        return (absolute, relative);
    }

    static Table Table(IEnumerable<Comparison> rows)
    {
        var table = new Table().Border(TableBorder.Rounded)
            .AddColumn("Compared")
            .AddColumn(new TableColumn("max |Δ|").RightAligned())
            .AddColumn(new TableColumn("max relative |Δ|").RightAligned())
            .AddColumn(new TableColumn("tolerance").RightAligned())
            .AddColumn("Result");
        foreach (Comparison row in rows)
        {
            table.AddRow(
                new Text(row.Name),
                new Text(row.Absolute.ToString("0.00e+00", CultureInfo.InvariantCulture)),
                new Text(row.Relative.ToString("0.00e+00", CultureInfo.InvariantCulture)),
                new Text(row.Tolerance.ToString("0.0e+00", CultureInfo.InvariantCulture)),
                new Markup(row.Within ? "[green]within[/]" : "[red]outside[/]"));
        }

        return table;
    }

    sealed record Comparison(string Name, double Absolute, double Relative, double Tolerance)
    {
        public bool Within => Relative <= Tolerance;
    }

    /// <summary>One named output of a run (y, h_n, c_n), in the layout the model gives it.</summary>
    sealed record Output(string Name, float[] Values);

    /// <summary>The random input's shape: T time-major steps of B rows.</summary>
    sealed record Input(int Steps, int Batch)
    {
        public FloatTensor Vectors(int features)
        {
            var random = new Random(Seed);
            var values = new float[checked(Steps * Batch * features)];
            for (int i = 0; i < values.Length; i++) values[i] = (float)((2 * random.NextDouble()) - 1);
            return new FloatTensor(values, Steps, Batch, features);
        }

        public long[] Ids(int vocabulary)
        {
            var random = new Random(Seed);
            return [.. Enumerable.Range(0, checked(Steps * Batch)).Select(_ => (long)random.Next(vocabulary))];
        }
    }

    /// <summary>A model that can be made on any backend and run on the input: what parity compares.</summary>
    sealed record Subject(string Description, Func<RnnOptions, Input, Output[]> Run);

    Subject LoadSubject(ParseResult parseResult)
    {
        string? weightsPath = parseResult.GetValue(_weights);
        string? prefix = parseResult.GetValue(_prefix), configPath = parseResult.GetValue(_modelConfig), layer = parseResult.GetValue(_layer);
        if (weightsPath is null)
        {
            foreach (Option<string?> option in new[] { _prefix, _modelConfig, _layer })
                if (parseResult.GetValue(option) is not null) throw new CliException($"{option.Name} was given without {_weights.Name}; the embedded demo model needs none", ExitCodes.Usage);
            if (parseResult.GetResult(_nonlinearity) is { Implicit: false })
                throw new CliException($"{_nonlinearity.Name} was given without {_weights.Name}; the embedded demo model is an LSTM", ExitCodes.Usage);
            RnnWeights weights = DefaultModel.Load();
            return Recurrent($"{weights.Spec} from the embedded {DefaultModel.FileName}", options => RunCommand.Model.PyTorch(RecurrentModule.Create(weights, options)));
        }

        RunCommand.ModelFormat format = RunCommand.FormatOf(weightsPath);
        bool stateDict = format == RunCommand.ModelFormat.Safetensors && configPath is null;
        if (prefix is not null && !stateDict)
            throw new CliException($"{_prefix.Name} was given but {_weights.Name} is not a single network's state_dict", ExitCodes.Usage);
        if (parseResult.GetResult(_nonlinearity) is { Implicit: false } && !stateDict)
            throw new CliException($"{_nonlinearity.Name} was given but {_weights.Name} is not a single network's state_dict; the model names its activations itself", ExitCodes.Usage);
        if (layer is not null && format != RunCommand.ModelFormat.Keras)
            throw new CliException($"{_layer.Name} was given but {_weights.Name} is not a Keras model", ExitCodes.Usage);
        if (configPath is not null && format == RunCommand.ModelFormat.Onnx)
            throw new CliException($"{_modelConfig.Name} was given but {_weights.Name} is an .onnx model, which holds its own architecture", ExitCodes.Usage);
        string? config = configPath is null ? null : CommonOptions.ExistingFile(configPath, _modelConfig);
        switch (format)
        {
            case RunCommand.ModelFormat.Onnx:
            {
                OnnxRnnModel onnx = OnnxRnnModel.Load(CommonOptions.ExistingFile(weightsPath, _weights));
                return onnx.IsWholeModel
                    ? Whole($"the whole ONNX model {weightsPath}", options => onnx.CreateSequenceModel(options))
                    : Recurrent($"ONNX {string.Join(" -> ", onnx.NodeNames)} ({onnx.Weights.Spec})", options => RunCommand.Model.Onnx(onnx, options, onnxLayout: false));
            }

            case RunCommand.ModelFormat.Keras:
            {
                KerasModel keras = KerasModel.Load(CommonOptions.ExistingFile(weightsPath, _weights), config);
                return keras.OtherLayers.Count > 0 && layer is null
                    ? Whole($"the whole Keras model {weightsPath}", options => keras.CreateSequenceModel(options))
                    : Recurrent($"Keras {weightsPath}{(layer is null ? "" : $", layer {layer}")}", options => RunCommand.Model.Keras(keras, options, layer));
            }

            default:
            {
                SafetensorsFile file = SafetensorsFile.Load(CommonOptions.ExistingSafetensors(weightsPath, _weights));
                if (config is not null)
                {
                    string description = File.ReadAllText(config);
                    return Whole($"the PyTorch model {weightsPath} described by {config}", options => SequenceModel.FromPyTorch(file, description, config, options));
                }

                RnnNonlinearity nonlinearity = CommonOptions.NonlinearityOf(parseResult, _nonlinearity);
                RnnWeights weights = RnnWeights.FromSafetensors(file, prefix, nonlinearity);
                CommonOptions.RejectNonlinearity(nonlinearity, _nonlinearity, weights.Spec);
                return Recurrent($"{weights.Spec} from {weightsPath}", options => RunCommand.Model.PyTorch(RecurrentModule.Create(weights, options)));
            }
        }
    }

    /// <summary>A network: y, h_n and (an LSTM's) c_n from x, zero initial state.</summary>
    static Subject Recurrent(string description, Func<RnnOptions, RunCommand.Model> create) => new(description, (options, input) =>
    {
        using RunCommand.Model model = create(options);
        SequenceOutput result = model.Forward(input.Vectors(model.InputSize), null, null, null);
        return [new("y", result.Output.ToArray()), new("h_n", result.HiddenState.ToArray()), .. result.CellState is { } cell ? [new Output("c_n", cell.ToArray())] : Array.Empty<Output>()];
    });

    /// <summary>A whole sequence model: its heads' output from x, or from token ids when it starts with an embedding.</summary>
    static Subject Whole(string description, Func<RnnOptions, SequenceModel> create) => new(description, (options, input) =>
    {
        using SequenceModel model = create(options);
        FloatTensor y = model.Embedding is { } embedding
            ? model.ForwardIds(input.Ids(embedding.VocabularySize), [input.Steps, input.Batch])
            : model.Forward(input.Vectors(model.InputSize));
        return [new("y", y.ToArray())];
    });
}
