// The fuzz targets: one per managed file reader. This one file is compiled into two assemblies: the test project
// (FuzzCorpusTests replays fuzz/corpus/** through it) and fuzz/FusedRnn.Fuzz, which links it and hands a target to
// SharpFuzz's libFuzzer runner. It therefore uses only FusedRnn's public API. See fuzz/README.md.
using FusedRnn.IO;

namespace FusedRnn.Fuzzing;

/// <summary>Runs one input through a reader; returns normally when the reader accepted or rejected it as documented.</summary>
internal delegate void FuzzTarget(ReadOnlySpan<byte> data);

/// <summary>
/// A reader broke a promise that does not involve an exception type: e.g. it accepted a file but then returned an
/// array of the wrong length. Never caught: it is a finding, like any undocumented exception.
/// </summary>
internal sealed class FuzzInvariantException(string message) : Exception(message);

/// <summary>
/// The targets. Each catches only the exceptions its reader documents for bad input (<see cref="MalformedFileException"/>
/// for a broken file, <see cref="InvalidWeightsException"/> for tensors that are no network) and lets every other one
/// escape, which libFuzzer reports as a crash and the corpus test as a failure.
/// </summary>
internal static class FuzzTargets
{
    /// <summary>The display name errors use; a path that cannot exist, so no message mistakes it for a real file.</summary>
    const string DisplayName = "<fuzz>";

    /// <summary>Every target by name; the name is also its corpus folder, fuzz/corpus/NAME.</summary>
    public static IReadOnlyDictionary<string, FuzzTarget> All { get; } = new Dictionary<string, FuzzTarget>
    {
        ["safetensors"] = Safetensors,
        ["npy"] = Npy,
        ["rnn"] = RnnFromSafetensors,
        ["statedict"] = StateDict,
        ["onnx"] = Onnx,
        ["keras"] = Keras,
        ["sequencemodel"] = SequenceModelDescription,
        ["snapshot"] = StreamSnapshot,
    };

    /// <summary>
    /// <see cref="SafetensorsFile.Parse"/>, then every read a parsed file offers: a parsed file promises that each listed
    /// tensor reads with <see cref="SafetensorsTensorInfo.ElementCount"/> elements as floats or as integers (not both;
    /// F8_* and U64 as neither), failing otherwise with <see cref="MalformedFileException"/>. An all-F32 file is also
    /// written back and must parse to the same tensors.
    /// </summary>
    public static void Safetensors(ReadOnlySpan<byte> data)
    {
        SafetensorsFile file;
        try
        {
            file = SafetensorsFile.Parse(data.ToArray(), DisplayName);
        }
        catch (MalformedFileException)
        {
            return;
        }

        _ = file.Metadata.Count;
        var floats = new List<KeyValuePair<string, (int[] Shape, float[] Data)>>();
        foreach (string name in file.TensorNames)
        {
            Check(file.Contains(name), $"TensorNames lists '{name}' but Contains says no");
            SafetensorsTensorInfo info = file.GetInfo(name);
            Check(info.Name == name, $"GetInfo('{name}') returned the info of '{info.Name}'");
            bool readAny = false;
            try
            {
                float[] values = file.ReadFloat32(name);
                Check(values.Length == info.ElementCount, $"ReadFloat32('{name}') returned {values.Length} elements, not {info.ElementCount}");
                if (info.DType == "F32")
                    floats.Add(new(name, (info.Shape, values)));
                readAny = true;
            }
            catch (MalformedFileException)
            {
            }
            try
            {
                long[] values = file.ReadInt64(name);
                Check(values.Length == info.ElementCount, $"ReadInt64('{name}') returned {values.Length} elements, not {info.ElementCount}");
                Check(!readAny, $"'{name}' ({info.DType}) reads both as floats and as integers");
                readAny = true;
            }
            catch (MalformedFileException)
            {
            }
        }

        if (floats.Count == file.TensorNames.Count)
        {
            var metadata = new Dictionary<string, string>(file.Metadata);
            SafetensorsFile copy = SafetensorsFile.Parse(SafetensorsWriter.ToBytes(floats, metadata.Count > 0 ? metadata : null), DisplayName);
            Check(copy.TensorNames.SequenceEqual(file.TensorNames), "a written copy lists other tensors");
            Check(copy.Metadata.Count == metadata.Count && metadata.All(pair => copy.Metadata.TryGetValue(pair.Key, out string? value) && value == pair.Value),
                "a written copy has other metadata");
            foreach (var (name, (shape, values)) in floats)
            {
                Check(copy.GetInfo(name).Shape.SequenceEqual(shape), $"a written copy gives '{name}' another shape");
                Check(copy.ReadFloat32(name).Select(BitConverter.SingleToInt32Bits).SequenceEqual(values.Select(BitConverter.SingleToInt32Bits)),
                    $"a written copy gives '{name}' other values");
            }
        }
    }

    /// <summary>
    /// <see cref="IO.Npy.ReadFloat32(Stream, string)"/> and <see cref="IO.Npy.ReadIntegers(Stream, string)"/> on the same
    /// bytes: at most one accepts them (the dtype decides), the data has as many elements as the shape says, and a
    /// float32 array written back reads back the same.
    /// </summary>
    public static void Npy(ReadOnlySpan<byte> data)
    {
        byte[] bytes = data.ToArray();
        NpyArray<float>? floats = null;
        try
        {
            floats = IO.Npy.ReadFloat32(new MemoryStream(bytes, writable: false), DisplayName);
            CheckElementCount(floats.Data.Length, floats.Shape);
        }
        catch (MalformedFileException)
        {
        }
        try
        {
            NpyArray<long> integers = IO.Npy.ReadIntegers(new MemoryStream(bytes, writable: false), DisplayName);
            CheckElementCount(integers.Data.Length, integers.Shape);
            Check(floats is null, "the same bytes read both as float32 and as integers");
        }
        catch (MalformedFileException)
        {
        }

        // A version 1.0 header (what the writer writes) holds up to 64 KiB: about 5000 dimensions of 11-digit numbers.
        if (floats is not null && floats.Shape.Length <= 4096)
        {
            using var written = new MemoryStream();
            IO.Npy.WriteFloat32(written, floats.Data, floats.Shape);
            written.Position = 0;
            NpyArray<float> copy = IO.Npy.ReadFloat32(written, DisplayName);
            Check(copy.Shape.SequenceEqual(floats.Shape), "a written copy has another shape");
            Check(copy.Data.Select(BitConverter.SingleToInt32Bits).SequenceEqual(floats.Data.Select(BitConverter.SingleToInt32Bits)),
                "a written copy has other values");
        }
    }

    /// <summary>
    /// What <see cref="RnnWeights.LoadSafetensors"/> does with a file's bytes (parse, then import the state_dict), then
    /// creating the module on the managed backend and, the network being small, one forward pass of two short rows
    /// and one cell step. Metadata <c>prefix</c> and <c>nonlinearity=relu</c>, when present, are passed on, so the
    /// fuzzer reaches those arguments too.
    /// </summary>
    public static void RnnFromSafetensors(ReadOnlySpan<byte> data)
    {
        RnnWeights weights;
        try
        {
            SafetensorsFile file = SafetensorsFile.Parse(data.ToArray(), DisplayName);
            string? prefix = file.Metadata.TryGetValue("prefix", out string? p) ? p : null;
            RnnNonlinearity nonlinearity = file.Metadata.TryGetValue("nonlinearity", out string? n) && n == "relu"
                ? RnnNonlinearity.Relu
                : RnnNonlinearity.Tanh;
            weights = RnnWeights.FromSafetensors(file, prefix, nonlinearity);
        }
        catch (Exception e) when (e is MalformedFileException or InvalidWeightsException)
        {
            return;
        }
        RunModule(weights);
    }

    /// <summary>
    /// The state_dict importer behind <see cref="RnnWeights.LoadSafetensors"/>, structure-aware: the input is not a
    /// file but a recipe for one (<see cref="StateDictRecipe"/>: tensor names from PyTorch's parts and near misses, small
    /// shapes), written with <see cref="SafetensorsWriter"/>, so that mutations explore names and shapes instead of
    /// breaking JSON. Each tensor's elements all equal its number, which lets the target check what the importer does
    /// not say: every tensor under the module's prefix went into the weights exactly once, none was dropped or
    /// reused. Then, as <see cref="RnnFromSafetensors"/>, the module runs.
    /// </summary>
    public static void StateDict(ReadOnlySpan<byte> data)
    {
        var recipe = new StateDictRecipe(data);
        SafetensorsFile file = SafetensorsFile.Parse(SafetensorsWriter.ToBytes(recipe.Tensors), DisplayName);
        RnnWeights weights;
        try
        {
            weights = RnnWeights.FromSafetensors(file, recipe.Prefix, recipe.Nonlinearity);
        }
        catch (Exception e) when (e is MalformedFileException or InvalidWeightsException)
        {
            return;
        }

        // Which tensor each weight array came from, by its elements' common value.
        var used = new List<int>();
        foreach (LayerWeights layer in weights.Layers)
        {
            foreach (float[]? array in new[] { layer.WeightIh, layer.WeightHh, layer.BiasIh, layer.BiasHh, layer.WeightHr })
            {
                if (array is null)
                    continue;
                Check(array.Length > 0 && array.All(x => x == array[0]), "a weight array mixes elements of several tensors");
                used.Add((int)array[0] - 1);
            }
        }
        Check(used.Distinct().Count() == used.Count, "one tensor went into two weight arrays");
        string first = recipe.Tensors[used[0]].Key;
        string modulePrefix = first[..first.LastIndexOf("weight_ih", StringComparison.Ordinal)];
        int[] underPrefix = [.. Enumerable.Range(0, recipe.Tensors.Count).Where(i => recipe.Tensors[i].Key.StartsWith(modulePrefix, StringComparison.Ordinal))];
        Check(underPrefix.Order().SequenceEqual(used.Order()),
            $"the weights use tensors [{string.Join(", ", used.Order())}] but those under prefix '{modulePrefix}' are [{string.Join(", ", underPrefix)}]: " +
            string.Join(", ", underPrefix.Except(used).Select(i => $"'{recipe.Tensors[i].Key}'")) + " left out");
        RunModule(weights);
    }

    /// <summary>
    /// <see cref="OnnxRnnModel.Parse"/>, which documents <see cref="MalformedFileException"/> and
    /// <see cref="UnsupportedModelException"/> for bad models; a model it reads has weights that form a network, which
    /// then runs on ONNX's arrays (and as a module, as <see cref="RnnFromSafetensors"/> does).
    /// </summary>
    public static void Onnx(ReadOnlySpan<byte> data)
    {
        OnnxRnnModel model;
        try
        {
            model = OnnxRnnModel.Parse(data.ToArray(), DisplayName);
        }
        catch (Exception e) when (e is MalformedFileException or UnsupportedModelException)
        {
            return;
        }

        RnnSpec spec = model.Weights.Spec;
        if ((long)spec.InputSize * 6 > 1 << 20 || (long)spec.OutputFeatures * 6 > 1 << 20)
            return;
        using OnnxRecurrentModule module = model.CreateModule(new RnnOptions { Backend = RnnBackends.Managed, Threads = 1 });
        const int seqLen = 3, batch = 2;
        bool batchMajor = model.Layouts.X == OnnxSequenceLayout.BatchMajor;
        var x = new FloatTensor(new float[seqLen * batch * spec.InputSize], batchMajor ? [batch, seqLen, spec.InputSize] : [seqLen, batch, spec.InputSize]);
        OnnxOutputs outputs;
        try
        {
            // The stored sequence_lens and initial states are the model's: they may not fit this batch.
            outputs = module.Forward(x);
        }
        catch (Exception e) when (e is ShapeMismatchException or ArgumentOutOfRangeException
            && (model.SequenceLengths is not null || model.InitialHidden is not null || model.InitialCell is not null))
        {
            outputs = module.Forward(x, Enumerable.Repeat(seqLen, batch).ToArray(), FloatTensor.Zeros(StateShape(model, batch)),
                spec.Kind == CellKind.Lstm ? FloatTensor.Zeros(StateShape(model, batch)) : null);
        }

        int directions = spec.Directions, hidden = spec.HiddenSize;
        int[] y = model.Layouts.Y switch
        {
            OnnxSequenceLayout.TimeMajor => [seqLen, batch, directions * hidden],
            OnnxSequenceLayout.BatchMajor => [batch, seqLen, directions * hidden],
            OnnxSequenceLayout.OnnxTimeMajor => [seqLen, directions, batch, hidden],
            _ => [batch, seqLen, directions, hidden],
        };
        Check(outputs.Y.Shape.SequenceEqual(y), "Y has the wrong shape");
        Check(outputs.FinalHidden.Shape.SequenceEqual(StateShape(model, batch)), "Y_h has the wrong shape");
        Check((outputs.FinalCell is not null) == (spec.Kind == CellKind.Lstm), "Y_c is there for a non-LSTM or missing for an LSTM");
        if (model.IsWholeModel && model.Direction != OnnxDirection.Reverse) RunWhole(model, batchMajor);
        RunModule(model.Weights);
    }

    /// <summary>
    /// The state_dict the <see cref="SequenceModelDescription"/> target's descriptions name: embedding.weight [7, 2],
    /// an LSTM(2, 3) under "lstm.", a GRU(3, 2) under "gru.", fc.weight [4, 2] with fc.bias, out.weight [3, 4].
    /// </summary>
    static readonly Lazy<SafetensorsFile> DescribedWeights = new(() =>
    {
        float[] Values(int count, int seed) => [.. Enumerable.Range(0, count).Select(i => (((i * 7) + seed) % 11 - 5) / 8f)];
        RnnWeights lstm = RnnWeights.FromLstmGates(2, 3, Values(15, 1), Values(15, 2), Values(15, 3), Values(15, 4));
        RnnWeights gru = RnnWeights.FromGruGates(3, 2, Values(10, 5), Values(10, 6), Values(10, 7));
        var tensors = new Dictionary<string, (int[] Shape, float[] Data)>
        {
            ["embedding.weight"] = ([7, 2], Values(14, 8)),
            ["fc.weight"] = ([4, 2], Values(8, 9)),
            ["fc.bias"] = ([4], Values(4, 10)),
            ["out.weight"] = ([3, 4], Values(12, 11)),
        };
        foreach (var tensor in lstm.ToStateDict("lstm.").Concat(gru.ToStateDict("gru."))) tensors[tensor.Key] = tensor.Value;
        return SafetensorsFile.Parse(SafetensorsWriter.ToBytes(tensors), DisplayName);
    });

    /// <summary>
    /// <see cref="SequenceModel.FromPyTorch"/> on a JSON description (the input) of a fixed state_dict
    /// (<see cref="DescribedWeights"/>), which documents <see cref="MalformedFileException"/> for a bad description and
    /// <see cref="InvalidWeightsException"/> for tensors that do not make its layers; a model it makes runs a batch of
    /// ids or vectors (rows of lengths 3 and 1), each output of the shape <see cref="SequenceModel.OutputShape"/>
    /// promises, and steps one stream when it can.
    /// </summary>
    public static void SequenceModelDescription(ReadOnlySpan<byte> data)
    {
        string description;
        try
        {
            description = new System.Text.UTF8Encoding(false, throwOnInvalidBytes: true).GetString(data);
        }
        catch (System.Text.DecoderFallbackException)
        {
            return;
        }

        SequenceModel model;
        try
        {
            model = SequenceModel.FromPyTorch(DescribedWeights.Value, description, DisplayName, new RnnOptions { Backend = RnnBackends.Managed, Threads = 1 });
        }
        catch (Exception e) when (e is MalformedFileException or InvalidWeightsException)
        {
            return;
        }

        using (model)
        {
            const int seqLen = 3, batch = 2;
            int[] inputShape = model.Embedding is null ? [seqLen, batch, model.InputSize] : [seqLen, batch];
            FloatTensor y = model.Embedding is null
                ? model.Forward(new FloatTensor(new float[seqLen * batch * model.InputSize], inputShape), [3, 1])
                : model.ForwardIds([0, 1, 2, 3, 4, 5], inputShape, [3, 1]);
            Check(y.Shape.SequenceEqual(model.OutputShape(inputShape)), "the output's shape is not the one OutputShape promises");
            if (model.Recurrent.Any(module => module.Spec.Bidirectional)) return;
            using SequenceModelState state = model.CreateState(batch);
            FloatTensor step = model.Embedding is null ? model.Step(new FloatTensor(new float[batch * model.InputSize], batch, model.InputSize), state) : model.StepIds([6, 0], state);
            Check(step.Shape.SequenceEqual([batch, model.OutputSize]), "a step's output is not [batch, outputs]");
        }
    }

    /// <summary>
    /// <see cref="Streams.RnnStream.Restore"/> on a stream of a fixed two-layer LSTM (<see cref="SnapshotNetwork"/>),
    /// which documents <see cref="InvalidSnapshotException"/> for bytes that are no snapshot of it; a snapshot it takes
    /// must come back byte for byte from <see cref="Streams.RnnStream.Snapshot"/>, and the stream must then step.
    /// </summary>
    public static void StreamSnapshot(ReadOnlySpan<byte> data)
    {
        RestoreSnapshot(data);
        // Mutations rarely keep the CRC-32 right; the same bytes with it recomputed reach the checks behind it.
        if (data.Length < 4) return;
        byte[] resealed = data.ToArray();
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(resealed.AsSpan(^4), System.IO.Hashing.Crc32.HashToUInt32(resealed.AsSpan(..^4)));
        RestoreSnapshot(resealed);
    }

    static void RestoreSnapshot(ReadOnlySpan<byte> data)
    {
        using var batcher = new Streams.StreamBatcher(SnapshotNetwork.Value, new Streams.StreamBatcherOptions { Capacity = 1 });
        using Streams.RnnStream stream = batcher.Open();
        try
        {
            stream.Restore(data);
        }
        catch (InvalidSnapshotException)
        {
            Check(stream.Steps == 0, "a refused snapshot changed the stream's step count");
            return;
        }

        Check(stream.Snapshot().AsSpan().SequenceEqual(data), "a restored stream's snapshot differs from the bytes it was restored from");
        var output = new float[stream.OutputSize];
        stream.Step(new float[stream.InputSize], output);
    }

    /// <summary>
    /// The network of the <c>snapshot</c> target: an LSTM of 2 layers, 3 inputs and 4 units, every weight 0.125, on the
    /// managed backend. Its seeds are its own snapshots (after 0 and 3 steps) and broken copies of them.
    /// </summary>
    internal static readonly Lazy<RecurrentModule> SnapshotNetwork = new(() =>
    {
        var spec = new RnnSpec(CellKind.Lstm, 3, 4, NumLayers: 2);
        LayerWeights Layer(int inputs) => new(Filled(16 * inputs), Filled(16 * 4), Filled(16), Filled(16));
        return RecurrentModule.Create(new RnnWeights(spec, [Layer(3), Layer(4)]), new RnnOptions { Backend = RnnBackends.Managed, Threads = 1 });

        static float[] Filled(int count) => Enumerable.Repeat(0.125f, count).ToArray();
    });

    /// <summary>A whole ONNX model as a <see cref="SequenceModel"/> on ids (or vectors) of 3 steps × 2 rows: the output of the shape OutputShape promises.</summary>
    static void RunWhole(OnnxRnnModel onnx, bool batchMajor)
    {
        using SequenceModel model = onnx.CreateSequenceModel(new RnnOptions { Backend = RnnBackends.Managed, Threads = 1, BatchFirst = batchMajor });
        if (model.Heads.Any(head => (long)head.OutputSize * 6 > 1 << 20)) return;
        int[] shape = batchMajor ? [2, 3] : [3, 2];
        FloatTensor y = model.Embedding is { } embedding
            ? model.ForwardIds([.. Enumerable.Range(0, 6).Select(i => (long)(i % embedding.VocabularySize))], shape)
            : model.Forward(new FloatTensor(new float[6 * model.InputSize], [.. shape, model.InputSize]));
        Check(y.Shape.SequenceEqual(model.OutputShape(model.Embedding is null ? [.. shape, model.InputSize] : shape)), "a whole model's output is not of the shape OutputShape promises");
    }

    /// <summary>The architecture the <see cref="Keras"/> target gives a weights file that holds none: one LSTM of 3 units on 2 features.</summary>
    const string KerasFallbackConfig =
        """{"class_name": "Sequential", "config": {"name": "s", "layers": [{"class_name": "LSTM", "config": {"name": "lstm", "units": 3, "return_sequences": true}}]}}""";

    /// <summary>
    /// <see cref="KerasModel.Parse"/> on the bytes of a <c>.keras</c>, <c>.h5</c> or <c>.weights.h5</c> file (with a
    /// fixed one-LSTM config when the file holds weights only), which documents <see cref="MalformedFileException"/>,
    /// <see cref="UnsupportedModelException"/> and an <see cref="ArgumentException"/> for a missing or superfluous
    /// config; a model it reads runs every recurrent layer alone and, when they feed each other, the whole stack,
    /// each output of the shape the stack promises.
    /// </summary>
    public static void Keras(ReadOnlySpan<byte> data)
    {
        KerasModel model;
        try
        {
            byte[] bytes = data.ToArray();
            try
            {
                model = KerasModel.Parse(bytes, DisplayName);
            }
            catch (ArgumentException e) when (e.ParamName == "modelConfigJson")
            {
                model = KerasModel.Parse(bytes, DisplayName, KerasFallbackConfig);
            }
        }
        catch (Exception e) when (e is MalformedFileException or UnsupportedModelException || e is ArgumentException { ParamName: "modelConfigJson" })
        {
            return;
        }

        Check(model.Layers.Count > 0, "a model without recurrent layers was read");
        var options = new RnnOptions { Backend = RnnBackends.Managed, Threads = 1, BatchFirst = true };
        foreach (KerasRecurrentLayer layer in model.Layers) RunKeras(model.CreateModule(options, layer.Name));
        KerasRecurrentStack stack;
        try
        {
            stack = model.CreateModule(options);
        }
        catch (Exception e) when (e is MalformedFileException or UnsupportedModelException)
        {
            return;
        }

        RunKeras(stack);
    }

    /// <summary>Runs a small Keras stack on a batch of 2 × 3 steps (rows of lengths 3 and 1 where no layer forbids it) and checks the output's shape.</summary>
    static void RunKeras(KerasRecurrentStack stack)
    {
        using (stack)
        {
            int inputSize = stack.Layers[0].Weights.Spec.InputSize;
            if ((long)inputSize * 6 > 1 << 20 || stack.Layers.Any(layer => (long)layer.Weights.Spec.OutputFeatures * 6 > 1 << 20))
                return;
            const int seqLen = 3, batch = 2;
            var x = new FloatTensor(new float[batch * seqLen * inputSize], batch, seqLen, inputSize);
            bool lengthsAllowed = stack.Layers.Take(stack.Layers.Count - 1).All(layer => layer.IsBidirectional || !layer.Settings.GoBackwards);
            KerasOutputs outputs = stack.Forward(x, lengthsAllowed ? [3, 1] : null);
            Check(outputs.Output.Shape.SequenceEqual(stack.OutputShape(x.Shape)!), "the output's shape is not the one OutputShape promises");
            Check(outputs.HiddenStates.Count == stack.Layers.Count, "not one final state per layer");
        }
    }

    static int[] StateShape(OnnxRnnModel model, int batch) => model.Layouts.States == OnnxStateLayout.DirectionMajor
        ? [model.Weights.Spec.LayerDirectionCount, batch, model.Weights.Spec.HiddenSize]
        : [batch, model.Weights.Spec.LayerDirectionCount, model.Weights.Spec.HiddenSize];

    /// <summary>Creates the module on the managed backend and, the network being small, runs it.</summary>
    static void RunModule(RnnWeights weights)
    {
        RnnSpec spec = weights.Spec;
        var options = new RnnOptions { Backend = RnnBackends.Managed, Threads = 1 };
        using RecurrentModule module = RecurrentModule.Create(weights, options);
        Check(module.Spec == spec, $"the module's spec {module.Spec} is not the weights' {spec}");

        // Every tensor lies in the file, so the network is small; the input and outputs below are not, for a wide one.
        if ((long)spec.InputSize * 6 > 1 << 20 || (long)spec.OutputFeatures * 6 > 1 << 20)
            return;
        const int seqLen = 3, batch = 2;
        var input = new float[seqLen * batch * spec.InputSize];
        for (int i = 0; i < input.Length; i++)
            input[i] = (i % 7 - 3) * 0.25f;
        SequenceOutput output = module.Forward(new FloatTensor(input, seqLen, batch, spec.InputSize), lengths: [3, 1]);
        Check(output.Output.Shape.SequenceEqual([seqLen, batch, spec.OutputFeatures]), "the output has the wrong shape");
        Check(output.HiddenState.Shape.SequenceEqual([spec.LayerDirectionCount, batch, spec.OutputSize]), "h_n has the wrong shape");
        Check((output.CellState is not null) == (spec.Kind == CellKind.Lstm), "c_n is there for a non-LSTM or missing for an LSTM");

        if (spec.NumLayers == 1 && !spec.Bidirectional && spec.ProjSize == 0)
        {
            using RecurrentCell cell = spec.Kind switch
            {
                CellKind.Lstm => new LstmCell(weights, options),
                CellKind.Gru => new GruCell(weights, options),
                _ => new RnnCell(weights, options),
            };
            CellOutput step = cell.Forward(new FloatTensor(input.AsMemory(0, batch * spec.InputSize), batch, spec.InputSize));
            Check(step.Hidden.Shape.SequenceEqual([batch, spec.HiddenSize]), "the cell's h has the wrong shape");
        }
    }

    /// <summary>
    /// Decodes a fuzz input into a state_dict: byte 0 picks the prefix argument and the nonlinearity, then each tensor
    /// takes a prefix byte, a role byte, a layer-suffix byte (plus one or more for the unusual suffixes), a rank byte
    /// and one byte per dimension (0..16). Missing bytes read as 0; repeated names are skipped.
    /// </summary>
    internal sealed class StateDictRecipe
    {
        static readonly string?[] PrefixArguments = [null, null, "", "rnn", "rnn.", "a.", "rnn.sub.", "x"];
        static readonly string[] NamePrefixes = ["", "", "rnn.", "rnn.", "a.", "rnn.sub.", "rnnx.", "\u001b[2J"];
        static readonly string[] Roles = ["weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr", "weight", "weight_ih_l", "bias"];
        static readonly string[] OddLayers = ["_l2147483647", "_l2147483648", "_l99999999999999999999", "_l01", "_l\u0661", "_l-1", "_l0\n", "_l1 ",
            "_l\uff11", "_l", "_L0", "_l0_reverse_reverse"];

        public StateDictRecipe(ReadOnlySpan<byte> input)
        {
            byte[] data = input.ToArray();
            int position = 0;
            byte Next() => position < data.Length ? data[position++] : (byte)0;

            byte flags = Next();
            Prefix = PrefixArguments[flags & 7];
            Nonlinearity = (flags & 8) != 0 ? RnnNonlinearity.Relu : RnnNonlinearity.Tanh;
            var names = new HashSet<string>();
            long total = 0;
            while (position < data.Length && Tensors.Count < 64)
            {
                string prefix = NamePrefixes[Next() % NamePrefixes.Length];
                string role = Roles[Next() % Roles.Length];
                byte suffix = Next();
                string layer = (suffix & 7) switch
                {
                    0 => "",
                    1 or 2 or 3 or 4 => $"_l{(suffix >> 3) & 3}",
                    5 => $"_l{Next()}",
                    6 => OddLayers[Next() % OddLayers.Length],
                    _ => "_l" + new string(Enumerable.Range(0, Next() % 4).Select(_ => (char)Next()).ToArray()),
                };
                string name = prefix + role + layer + ((suffix & 0x80) != 0 ? "_reverse" : "");
                int[] shape = new int[Next() % 4];
                for (int i = 0; i < shape.Length; i++)
                    shape[i] = Next() % 17;
                long count = shape.Aggregate(1L, (c, d) => c * d);
                if (total + count > 1 << 16 || !names.Add(name))
                    continue;
                total += count;
                // Tensor k holds k + 1 everywhere: exact in float32, and never 0, which an absent tensor might read as.
                Tensors.Add(new(name, (shape, Enumerable.Repeat((float)(Tensors.Count + 1), (int)count).ToArray())));
            }
        }

        /// <summary>The prefix argument: null finds the module.</summary>
        public string? Prefix { get; }

        public RnnNonlinearity Nonlinearity { get; }

        public List<KeyValuePair<string, (int[] Shape, float[] Data)>> Tensors { get; } = [];
    }

    static void CheckElementCount(int length, int[] shape)
    {
        // Saturating, and zero whenever a dimension is: (2^31-1, 2^31-1, 2^31-1, 0) holds no element.
        long count = shape.Contains(0) ? 0 : 1;
        foreach (int dim in shape)
            if (count != 0)
                count = count > long.MaxValue / dim ? long.MaxValue : count * dim;
        Check(length == count, $"an array of shape ({string.Join(", ", shape)}) has {length} elements");
    }

    static void Check(bool condition, string promise)
    {
        if (!condition)
            throw new FuzzInvariantException(promise);
    }
}
