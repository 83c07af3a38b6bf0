using System.CommandLine;
using System.Diagnostics;
using FusedRnn.IO;

namespace FusedRnn.Cli;

/// <summary><c>fusedrnn run</c>: one forward pass from .npy files to .npy files, with PyTorch's shapes.</summary>
internal sealed class RunCommand : Command
{
    readonly Option<string?> _weights = new("--weights")
    {
        Description = "The model: a PyTorch state_dict of nn.LSTM, nn.GRU or nn.RNN saved as .safetensors, an ONNX model of LSTM, GRU or RNN nodes, one or one per layer (.onnx), " +
            "or a Keras model with LSTM, GRU or SimpleRNN layers (.keras, .h5, or .weights.h5 with --model-config)",
        Required = true,
    };

    readonly Option<string?> _prefix = new("--prefix")
    {
        Description = "Name prefix of the module's tensors, e.g. 'rnn.' (found automatically when the file holds only the module)",
    };

    readonly Option<string?> _input = new("--input")
    {
        Description = "x as float32 .npy: [seq_len, batch, input_size] ([batch, seq_len, input_size] with --batch-first), or [seq_len, input_size]",
        Required = true,
    };

    readonly Option<string?> _h0 = new("--h0") { Description = "Initial hidden state as float32 .npy (default: zeros)" };

    readonly Option<string?> _c0 = new("--c0") { Description = "Initial cell state as float32 .npy, LSTM only (default: zeros)" };

    readonly Option<string?> _lengths = new("--lengths")
    {
        Description = "Valid steps of each batch row as int32 or int64 .npy, each in 1..seq_len (PackedSequence semantics)",
    };

    readonly Option<bool> _batchFirst = new("--batch-first") { Description = "x and y are [batch, seq_len, features]" };

    readonly Option<bool> _onnxLayout = new("--onnx-layout")
    {
        Description = "With an .onnx model: every array in the layout of the model's own graph inputs and outputs instead of PyTorch's " +
            "(for a single node, layout 0: x [T,B,I], y [T,D,B,H], states [D,B,H]; layout 1: x [B,T,I], y [B,T,D,H], states [B,D,H])",
    };

    readonly Option<string> _nonlinearity = CommonOptions.Nonlinearity();

    readonly Option<string?> _layer = new("--layer")
    {
        Description = "With a Keras model: run only the recurrent layer of this name (default: every recurrent layer, stacked)",
    };

    readonly Option<string?> _modelConfig = new("--model-config")
    {
        Description = "With a Keras .weights.h5 file, which holds no architecture: the model's config JSON (model.to_json(), or config.json of a .keras archive). " +
            "With a .safetensors state_dict: the JSON description of a whole sequence model (embedding, recurrent prefixes, heads; see the README), " +
            "whose --input is token ids as int32/int64 .npy when it starts with an embedding",
    };

    readonly Option<string?> _output = new("--output") { Description = "Where to write y as float32 .npy", Required = true };

    readonly Option<string?> _hn = new("--hn") { Description = "Where to write h_n as float32 .npy" };

    readonly Option<string?> _cn = new("--cn") { Description = "Where to write c_n as float32 .npy (LSTM only)" };

    readonly Option<string> _backend = CommonOptions.Backend(
        new Option<string>("--backend") { Description = "The backend to run on", DefaultValueFactory = _ => RnnBackends.Auto },
        [.. RnnBackends.Names, RnnBackends.Auto]);

    readonly Option<string> _precision = CommonOptions.Precision();

    readonly Option<bool> _verbose = new("--verbose") { Description = "Print a one-line summary: model, backend, shapes, time" };

    public RunCommand(CliConsole console)
        : base("run", "Run a model over sequences read from .npy files and write y, h_n and c_n as .npy files")
    {
        Options.Add(_weights);
        Options.Add(_prefix);
        Options.Add(_input);
        Options.Add(_h0);
        Options.Add(_c0);
        Options.Add(_lengths);
        Options.Add(_batchFirst);
        Options.Add(_onnxLayout);
        Options.Add(_nonlinearity);
        Options.Add(_layer);
        Options.Add(_modelConfig);
        Options.Add(_output);
        Options.Add(_hn);
        Options.Add(_cn);
        Options.Add(_backend);
        Options.Add(_precision);
        Options.Add(_verbose);
        SetAction(parseResult => console.Guard(() => Execute(parseResult, console)));
    }

    int Execute(ParseResult parseResult, CliConsole console)
    {
        var options = new RnnOptions
        {
            Backend = parseResult.GetRequiredValue(_backend),
            BatchFirst = parseResult.GetValue(_batchFirst),
            Precision = CommonOptions.PrecisionOf(parseResult, _precision),
        };
        RnnNonlinearity nonlinearity = CommonOptions.NonlinearityOf(parseResult, _nonlinearity);
        (Option Option, string Path)[] inputs = [.. Given(parseResult, _weights, _modelConfig, _input, _h0, _c0, _lengths)];
        (Option Option, string Path)[] outputPaths = [.. Given(parseResult, _output, _hn, _cn)];
        PathConflicts.Reject(inputs, outputPaths);

        string weightsPath = parseResult.GetRequiredValue(_weights)!;
        ModelFormat format = FormatOf(weightsPath);
        RejectFormatOptions(parseResult, format, weightsPath);
        if (format == ModelFormat.Safetensors && parseResult.GetValue(_modelConfig) is { } descriptionPath)
        {
            RejectWholeModelOptions(parseResult, "its modules name their own prefixes and keep their states");
            return ExecuteWholeModel(parseResult, console, outputPaths, () => SequenceModel.FromPyTorch(SafetensorsFile.Load(CommonOptions.ExistingSafetensors(weightsPath, _weights)),
                File.ReadAllText(CommonOptions.ExistingFile(descriptionPath, _modelConfig)), descriptionPath, options));
        }

        KerasModel? keras = format == ModelFormat.Keras
            ? KerasModel.Load(CommonOptions.ExistingFile(weightsPath, _weights), parseResult.GetValue(_modelConfig) is { } configPath ? CommonOptions.ExistingFile(configPath, _modelConfig) : null)
            : null;
        if (keras is not null && keras.OtherLayers.Count > 0 && parseResult.GetValue(_layer) is null)
        {
            RejectWholeModelOptions(parseResult, $"it keeps its layers' states (run one recurrent layer with {_layer.Name} for those)");
            return ExecuteWholeModel(parseResult, console, outputPaths, () => keras.CreateSequenceModel(options));
        }

        OnnxRnnModel? onnx = format == ModelFormat.Onnx ? OnnxRnnModel.Load(CommonOptions.ExistingFile(weightsPath, _weights)) : null;
        if (onnx is { IsWholeModel: true })
        {
            RejectWholeModelOptions(parseResult, "it keeps its stack's states");
            RnnOptions wholeOptions = parseResult.GetValue(_onnxLayout) ? options with { BatchFirst = onnx.Layouts.X == OnnxSequenceLayout.BatchMajor } : options;
            return ExecuteWholeModel(parseResult, console, outputPaths, () => onnx.CreateSequenceModel(wholeOptions));
        }

        using Model model = format switch
        {
            ModelFormat.Onnx => Model.Onnx(onnx!, options, parseResult.GetValue(_onnxLayout)),
            ModelFormat.Keras => Model.Keras(keras!, options, parseResult.GetValue(_layer)),
            _ => Model.PyTorch(RecurrentModule.Load(CommonOptions.ExistingSafetensors(weightsPath, _weights), parseResult.GetValue(_prefix), options, nonlinearity)),
        };
        if (model.Spec is { } spec) CommonOptions.RejectNonlinearity(nonlinearity, _nonlinearity, spec);
        RejectCellStateOptions(parseResult, model);
        RejectUnstackedStates(parseResult, model);

        FloatTensor input = ReadTensor(parseResult.GetRequiredValue(_input)!, _input);
        FloatTensor? h0 = ReadOptionalTensor(parseResult.GetValue(_h0), _h0);
        FloatTensor? c0 = ReadOptionalTensor(parseResult.GetValue(_c0), _c0);
        int[]? lengths = parseResult.GetValue(_lengths) is { } lengthsPath ? ReadLengths(lengthsPath) : null;
        // y has as many elements in the ONNX layouts as in PyTorch's: layout 0 reads x as time-major, layout 1 as batch-major.
        OutputSizes? sizes = model.PlanOutputs(input.Shape);
        sizes?.RejectTooLarge();

        using var outputs = new OutputFiles(console);
        foreach ((Option option, string path) in outputPaths) outputs.Reserve(option, path);

        long start = Stopwatch.GetTimestamp();
        SequenceOutput result;
        try
        {
            result = model.Forward(input, h0, c0, lengths);
        }
        catch (Exception e) when (e is OutOfMemoryException or OverflowException)
        {
            string what = e is OverflowException ? "a size is too large" : "out of memory";
            throw new CliException($"{what}: {CliConsole.MessageOf(e)}{(sizes is null ? "" : $"; {sizes}")}", ExitCodes.OutOfMemory);
        }

        TimeSpan elapsed = Stopwatch.GetElapsedTime(start);

        outputs.Set(_output, result.Output);
        if (parseResult.GetValue(_hn) is not null) outputs.Set(_hn, result.HiddenState);
        if (parseResult.GetValue(_cn) is not null) outputs.Set(_cn, result.CellState!);
        outputs.Commit();
        if (parseResult.GetValue(_verbose))
        {
            string cellState = result.CellState is { } cn ? $", c_n {FloatTensor.FormatShape(cn.Shape)}" : "";
            console.Out.WriteLine(
                $"{model.Description} on {model.Backend}: x {FloatTensor.FormatShape(input.Shape)} -> y {FloatTensor.FormatShape(result.Output.Shape)}, " +
                $"h_n {FloatTensor.FormatShape(result.HiddenState.Shape)}{cellState} in {elapsed.TotalMilliseconds:F3} ms");
        }

        return ExitCodes.Success;
    }

    static IEnumerable<(Option Option, string Path)> Given(ParseResult parseResult, params Option<string?>[] options)
    {
        foreach (Option<string?> option in options)
        {
            if (parseResult.GetValue(option) is not { } path) continue;
            if (string.IsNullOrWhiteSpace(path)) throw new CliException($"{option.Name} was given an empty path", ExitCodes.Usage);
            yield return (option, path);
        }
    }

    internal enum ModelFormat { Safetensors, Onnx, Keras }

    /// <summary>The format by the file's extension: .onnx, .keras and .h5 (.weights.h5 too), else safetensors.</summary>
    internal static ModelFormat FormatOf(string path) =>
        path.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase) ? ModelFormat.Onnx
        : path.EndsWith(".keras", StringComparison.OrdinalIgnoreCase) || path.EndsWith(".h5", StringComparison.OrdinalIgnoreCase) ? ModelFormat.Keras
        : ModelFormat.Safetensors;

    /// <summary>
    /// --prefix and --nonlinearity describe a state_dict, --onnx-layout an ONNX node, --layer and --model-config a
    /// Keras model: each given for another format is a mistake.
    /// </summary>
    void RejectFormatOptions(ParseResult parseResult, ModelFormat format, string weightsPath)
    {
        string described = format switch { ModelFormat.Onnx => "an .onnx model", ModelFormat.Keras => "a Keras model", _ => "a .safetensors state_dict" };
        void Reject(Option option, bool given, string why)
        {
            if (given) throw new CliException($"{option.Name} was given but {why}", ExitCodes.Usage);
        }

        Reject(_onnxLayout, format != ModelFormat.Onnx && parseResult.GetValue(_onnxLayout), $"{_weights.Name} is {described}, not an .onnx model");
        Reject(_layer, format != ModelFormat.Keras && parseResult.GetValue(_layer) is not null, $"{_weights.Name} is {described}, not a Keras model");
        Reject(_modelConfig, format == ModelFormat.Onnx && parseResult.GetValue(_modelConfig) is not null, $"{_weights.Name} is {described}, which holds its own architecture");
        if (format == ModelFormat.Safetensors) return;
        Reject(_prefix, parseResult.GetValue(_prefix) is not null, $"{described} has no state_dict prefix");
        Reject(_nonlinearity, parseResult.GetResult(_nonlinearity) is { Implicit: false }, $"{described} names its activations itself");
        if (format == ModelFormat.Onnx)
        {
            if (parseResult.GetValue(_onnxLayout) && parseResult.GetValue(_batchFirst))
                throw new CliException($"{_batchFirst.Name} and {_onnxLayout.Name} were both given; with {_onnxLayout.Name} the model's graph decides the layout", ExitCodes.Usage);
            return;
        }

        if (weightsPath.EndsWith(".weights.h5", StringComparison.OrdinalIgnoreCase) && parseResult.GetValue(_modelConfig) is null)
            throw new CliException($"{_weights.Name} is a Keras .weights.h5 file, which holds no architecture: give the model's config JSON with {_modelConfig.Name}", ExitCodes.Usage);
        if (weightsPath.EndsWith(".keras", StringComparison.OrdinalIgnoreCase) && parseResult.GetValue(_modelConfig) is not null)
            Reject(_modelConfig, true, "a .keras archive holds its own config");
    }

    /// <summary>The options a whole sequence model does not take: states in and out, a state_dict prefix, a nonlinearity.</summary>
    void RejectWholeModelOptions(ParseResult parseResult, string why)
    {
        foreach (Option<string?> option in new[] { _h0, _c0, _hn, _cn, _prefix })
        {
            if (parseResult.GetValue(option) is not null)
                throw new CliException($"{option.Name} was given but {_weights.Name} is a whole sequence model: {why}", ExitCodes.Usage);
        }

        if (parseResult.GetResult(_nonlinearity) is { Implicit: false })
            throw new CliException($"{_nonlinearity.Name} was given but {_weights.Name} is a whole sequence model, which names each module's nonlinearity itself", ExitCodes.Usage);
    }

    /// <summary>
    /// <c>run</c> on a whole sequence model (a state_dict with <c>--model-config</c>, a Keras model with Embedding or
    /// Dense layers): from x, or token ids for one that starts with an embedding, to y.
    /// </summary>
    int ExecuteWholeModel(ParseResult parseResult, CliConsole console, (Option Option, string Path)[] outputPaths, Func<SequenceModel> load)
    {
        using SequenceModel model = load();
        string inputPath = parseResult.GetRequiredValue(_input)!;
        NpyArray<long>? ids = model.Embedding is null ? null : Npy.ReadIntegers(CommonOptions.ExistingFile(inputPath, _input));
        FloatTensor? x = ids is null ? ReadTensor(inputPath, _input) : null;
        int[] inputShape = ids?.Shape ?? x!.Shape.ToArray();
        int[]? lengths = parseResult.GetValue(_lengths) is { } lengthsPath ? ReadLengths(lengthsPath) : null;
        if (inputShape.Length == (ids is null ? 3 : 2) || inputShape.Length == (ids is null ? 2 : 1))
            OutputSizes.Of([("y", model.OutputShape(inputShape))]).RejectTooLarge();

        using var outputs = new OutputFiles(console);
        foreach ((Option option, string path) in outputPaths) outputs.Reserve(option, path);
        long start = Stopwatch.GetTimestamp();
        FloatTensor y = ids is null ? model.Forward(x!, lengths) : model.ForwardIds(ids.Data, ids.Shape, lengths);
        TimeSpan elapsed = Stopwatch.GetElapsedTime(start);
        outputs.Set(_output, y);
        outputs.Commit();
        if (parseResult.GetValue(_verbose))
        {
            console.Out.WriteLine($"{model} on {model.Recurrent[0].Backend}: {(ids is null ? "x" : "ids")} {FloatTensor.FormatShape(inputShape)} -> y {FloatTensor.FormatShape(y.Shape)} " +
                $"in {elapsed.TotalMilliseconds:F3} ms");
        }

        return ExitCodes.Success;
    }

    /// <summary>--hn and --cn stack every layer's state as [L·D, B, H], which layers of different units or directions do not make.</summary>
    void RejectUnstackedStates(ParseResult parseResult, Model model)
    {
        if (model.StatesStack) return;
        foreach (Option<string?> option in new[] { _hn, _cn })
        {
            if (parseResult.GetValue(option) is not null)
            {
                throw new CliException(
                    $"{option.Name} was given but the model's recurrent layers differ in units or directions, so their states do not stack into one [L·D, B, H] array; " +
                    $"run one layer with {_layer.Name}", ExitCodes.Usage);
            }
        }
    }

    /// <summary>The model as run goes: a PyTorch module, an ONNX node in PyTorch's layouts or its own, or Keras layers.</summary>
    internal sealed class Model : IDisposable
    {
        readonly RecurrentModule? _pytorch;
        readonly OnnxRecurrentModule? _onnx;
        readonly OnnxRnnModel? _onnxModel;
        readonly KerasRecurrentStack? _keras;
        readonly bool _onnxLayout;
        readonly bool _batchFirst;

        Model(RecurrentModule? pytorch, OnnxRnnModel? onnxModel, OnnxRecurrentModule? onnx, KerasRecurrentStack? keras, bool onnxLayout, bool batchFirst)
        {
            _pytorch = pytorch;
            _onnxModel = onnxModel;
            _onnx = onnx;
            _keras = keras;
            _onnxLayout = onnxLayout;
            _batchFirst = batchFirst;
        }

        public static Model PyTorch(RecurrentModule module) => new(module, null, null, null, false, module.BatchFirst);

        public static Model Onnx(OnnxRnnModel model, RnnOptions options, bool onnxLayout) =>
            new(null, model, model.CreateModule(options), null, onnxLayout, onnxLayout ? model.Layouts.X == OnnxSequenceLayout.BatchMajor : options.BatchFirst);

        public static Model Keras(KerasModel model, RnnOptions options, string? layer) =>
            new(null, null, null, model.CreateModule(options, layer), false, options.BatchFirst);

        /// <summary>Features of each step of x: the first network's input_size.</summary>
        public int InputSize => Spec?.InputSize ?? _keras!.Layers[0].Weights.Spec.InputSize;

        /// <summary>The one network's spec; null for Keras layers, which each have their own.</summary>
        public RnnSpec? Spec => _pytorch?.Spec ?? _onnxModel?.Weights.Spec;

        public string Backend => _pytorch?.Backend ?? _onnx?.Module.Backend ?? _keras!.Backend;

        public string Description =>
            _keras is not null ? $"Keras {string.Join(" -> ", _keras.Layers)}"
            : _onnxModel is null ? Spec!.ToString()
            : $"ONNX {_onnxModel.Direction.ToString().ToLowerInvariant()} {(_onnxModel.NodeNames.Count == 1 ? "node" : "nodes")} {string.Join(" -> ", _onnxModel.NodeNames.Select(name => $"'{name}'"))} ({Spec}, layout {_onnxModel.Layout})";

        /// <summary>Whether the model has a cell state (an LSTM; every layer an LSTM for Keras), and what it is if not.</summary>
        public (bool HasCellState, string What) CellState =>
            _keras is not null ? (_keras.HasCellState, "Keras model with layers other than LSTM")
            : (Spec!.Kind.HasCellState(), Spec.Kind.DisplayName());

        /// <summary>Whether h_n and c_n come as one [L·D, B, H] array: always, but for Keras layers of different shapes.</summary>
        public bool StatesStack => _keras is null || _keras.Layers.All(layer =>
            layer.Weights.Spec.HiddenSize == _keras.Layers[0].Weights.Spec.HiddenSize && layer.Weights.Spec.Directions == _keras.Layers[0].Weights.Spec.Directions);

        /// <summary>The outputs a run allocates for x of <paramref name="inputShape"/>, or null for a rank Forward rejects itself.</summary>
        public OutputSizes? PlanOutputs(ReadOnlySpan<int> inputShape)
        {
            // y has as many elements in the ONNX layouts as in PyTorch's: layout 0 reads x as time-major, layout 1 as batch-major.
            if (_keras is null) return OutputSizes.Plan(Spec!, _batchFirst, inputShape);
            return _keras.OutputShape(inputShape) is { } shape ? OutputSizes.Of([("y", shape)]) : null;
        }

        /// <summary>y, h_n and c_n in the layouts the command writes (for Keras layers whose states do not stack, the last layer's).</summary>
        public SequenceOutput Forward(FloatTensor x, FloatTensor? h0, FloatTensor? c0, int[]? lengths)
        {
            if (_pytorch is not null) return _pytorch.Forward(x, h0, c0, lengths);
            if (_keras is not null)
            {
                KerasOutputs outputs = _keras.Forward(x, lengths, h0, c0);
                return StatesStack ? outputs.ToSequenceOutput() : new SequenceOutput(outputs.Output, outputs.HiddenStates[^1], outputs.CellStates?[^1]);
            }

            if (!_onnxLayout) return _onnx!.ForwardInPyTorchLayout(x, _batchFirst, lengths, h0, c0);
            OnnxOutputs onnx = _onnx!.Forward(x, lengths, h0, c0);
            return new SequenceOutput(onnx.Y, onnx.FinalHidden, onnx.FinalCell);
        }

        public void Dispose()
        {
            _pytorch?.Dispose();
            _onnx?.Dispose();
            _keras?.Dispose();
        }
    }

    /// <summary>Only an LSTM has a cell state; asking for one of anything else is a mistake worth reporting.</summary>
    void RejectCellStateOptions(ParseResult parseResult, Model model)
    {
        (bool hasCellState, string what) = model.CellState;
        if (hasCellState) return;
        foreach (Option<string?> option in new[] { _c0, _cn })
        {
            if (parseResult.GetValue(option) is not null)
                throw new CliException($"{option.Name} was given but the model is a {what}, which has no cell state (only an LSTM has one)", ExitCodes.Usage);
        }
    }

    static FloatTensor? ReadOptionalTensor(string? path, Option option) => path is null ? null : ReadTensor(path, option);

    static FloatTensor ReadTensor(string path, Option option)
    {
        NpyArray<float> array = Npy.ReadFloat32(CommonOptions.ExistingFile(path, option));
        return new FloatTensor(array.Data, array.Shape);
    }

    int[] ReadLengths(string path)
    {
        NpyArray<long> array = Npy.ReadIntegers(CommonOptions.ExistingFile(path, _lengths));
        if (array.Shape.Length != 1)
            throw new CliException($"{_lengths.Name}: {path} has shape {FloatTensor.FormatShape(array.Shape)}; expected one length per batch row, [batch]");
        return [.. array.Data.Select((length, row) => length is >= int.MinValue and <= int.MaxValue
            ? (int)length
            : throw new CliException($"{_lengths.Name}: lengths[{row}] = {length} does not fit in a 32-bit integer"))];
    }

}
