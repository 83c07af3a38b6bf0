using System.IO.Compression;
using System.Text.Json.Nodes;
using PureHDF;

namespace FusedRnn.Tests.Keras;

/// <summary>
/// One Keras recurrent layer as a test writes it: its settings by their Keras names and, per direction, the arrays
/// Keras stores — kernel (I, G·U), recurrent_kernel (U, G·U), bias (G·U) or a GRU's (2, 3U) with reset_after.
/// </summary>
public sealed record KerasLayerFixture(string ClassName, string Name, int InputSize, int Units)
{
    public string? Activation { get; init; } = "tanh";
    public string? RecurrentActivation { get; init; } = "sigmoid";
    public string? BackwardActivation { get; init; }
    public bool UseBias { get; init; } = true;
    public bool ResetAfter { get; init; } = true;
    public bool GoBackwards { get; init; }
    public bool ReturnSequences { get; init; } = true;

    /// <summary>Null: not wrapped; else the Bidirectional wrapper's merge_mode.</summary>
    public string? MergeMode { get; init; }

    /// <summary>Per direction: kernel, recurrent_kernel and (with use_bias) bias, row-major.</summary>
    public required float[][][] Arrays { get; init; }

    public bool IsBidirectional => MergeMode is not null;

    public int Gates => ClassName switch { "LSTM" => 4, "GRU" => 3, _ => 1 };

    public int[] BiasShape => ClassName == "GRU" && ResetAfter ? [2, Gates * Units] : [Gates * Units];

    public int OutputFeatures => IsBidirectional && MergeMode == "concat" ? 2 * Units : Units;

    /// <summary>A layer with arrays drawn uniformly from ±0.5 by <paramref name="seed"/>.</summary>
    public static KerasLayerFixture Random(string className, string name, int inputSize, int units, int seed, bool bidirectional = false, bool useBias = true, bool resetAfter = true)
    {
        var random = new Random(seed);
        int gates = className switch { "LSTM" => 4, "GRU" => 3, _ => 1 };
        float[] Draw(int count) => [.. Enumerable.Range(0, count).Select(_ => (float)(random.NextDouble() - 0.5))];
        int biasCount = className == "GRU" && resetAfter ? 2 * gates * units : gates * units;
        float[][] Direction() => useBias
            ? [Draw(inputSize * gates * units), Draw(units * gates * units), Draw(biasCount)]
            : [Draw(inputSize * gates * units), Draw(units * gates * units)];
        return new KerasLayerFixture(className, name, inputSize, units)
        {
            UseBias = useBias,
            ResetAfter = resetAfter,
            MergeMode = bidirectional ? "concat" : null,
            Arrays = bidirectional ? [Direction(), Direction()] : [Direction()],
        };
    }

    /// <summary>The layer's config object (of the inner layer for a Bidirectional wrapper), as Keras writes it.</summary>
    public JsonObject InnerConfig(string name, bool goBackwards, string? activation) => new()
    {
        ["name"] = name,
        ["trainable"] = true,
        ["units"] = Units,
        ["activation"] = activation ?? "linear",
        ["recurrent_activation"] = RecurrentActivation ?? "linear",
        ["use_bias"] = UseBias,
        ["unit_forget_bias"] = true,
        ["dropout"] = 0.0,
        ["recurrent_dropout"] = 0.0,
        ["return_sequences"] = ReturnSequences,
        ["return_state"] = false,
        ["go_backwards"] = goBackwards,
        ["stateful"] = false,
        ["unroll"] = false,
        ["reset_after"] = ResetAfter,
    };

    /// <summary>
    /// The arrays as a legacy file lists them, under Keras 2's weight names (<c>lstm/lstm_cell/kernel:0</c>; a
    /// Bidirectional's under <c>forward_lstm/</c>, then <c>backward_lstm/</c>).
    /// </summary>
    public IEnumerable<(string Name, FloatTensor Tensor)> LegacyWeights()
    {
        string cell = $"{ClassName.ToLowerInvariant()}_cell";
        string[] roles = ["kernel", "recurrent_kernel", "bias"];
        for (int direction = 0; direction < Arrays.Length; direction++)
        {
            string scope = !IsBidirectional ? Name : $"{Name}/{(direction == 0 ? "forward" : "backward")}_{ClassName.ToLowerInvariant()}";
            FloatTensor[] tensors = Tensors(direction);
            for (int index = 0; index < tensors.Length; index++) yield return ($"{scope}/{cell}/{roles[index]}:0", tensors[index]);
        }
    }

    public FloatTensor[] Tensors(int direction)
    {
        float[][] arrays = Arrays[direction];
        var tensors = new List<FloatTensor>
        {
            new(arrays[0], InputSize, Gates * Units),
            new(arrays[1], Units, Gates * Units),
        };
        if (UseBias) tensors.Add(new FloatTensor(arrays[2], BiasShape));
        return [.. tensors];
    }
}

/// <summary>A Dense layer of a whole-model fixture: Keras's kernel (inputs, units), its bias and activation.</summary>
public sealed record KerasDenseFixture(FloatTensor Kernel, FloatTensor? Bias, string Activation);

/// <summary>An Embedding (input_dim, output_dim) before a fixture's recurrent layers, and Dense layers after them.</summary>
public sealed record KerasHeadsFixture(FloatTensor? Embedding, IReadOnlyList<KerasDenseFixture> Dense, bool MaskZero = false);

/// <summary>
/// Writes Keras's documented files from <see cref="KerasLayerFixture"/>s with PureHDF: a Keras 3 <c>.keras</c> zip
/// (config.json, metadata.json, model.weights.h5 with <c>layers/&lt;name&gt;/cell/vars/i</c>), its
/// <c>.weights.h5</c> alone, a legacy full-model <c>.h5</c> (model_config, model_weights with layer_names and
/// weight_names, Keras 2 naming <c>lstm/lstm_cell/kernel:0</c>) and a legacy weights-only <c>.h5</c> whose strings are
/// fixed-length, as h5py writes bytes.
/// </summary>
public static class KerasFiles
{
    /// <summary>Extra layers to put after the recurrent ones, by class (e.g. a Dense head).</summary>
    public static JsonObject ModelConfig(IReadOnlyList<KerasLayerFixture> layers, bool keras3, params (string ClassName, string Name)[] others)
    {
        var entries = new JsonArray
        {
            keras3
                ? new JsonObject { ["module"] = "keras.layers", ["class_name"] = "InputLayer", ["config"] = new JsonObject { ["batch_shape"] = new JsonArray(null, null, layers[0].InputSize), ["name"] = "input_layer" } }
                : new JsonObject { ["class_name"] = "InputLayer", ["config"] = new JsonObject { ["batch_input_shape"] = new JsonArray(null, null, layers[0].InputSize), ["name"] = "input_1" } },
        };
        foreach (KerasLayerFixture layer in layers)
        {
            JsonObject config;
            string className = layer.ClassName;
            if (layer.IsBidirectional)
            {
                string prefix = layer.ClassName.ToLowerInvariant();
                config = new JsonObject
                {
                    ["name"] = layer.Name,
                    ["merge_mode"] = layer.MergeMode,
                    ["layer"] = new JsonObject { ["class_name"] = layer.ClassName, ["config"] = layer.InnerConfig($"forward_{prefix}", false, layer.Activation) },
                };
                // Keras 3 always writes the backward layer; Keras 2 only when the user gave one (the loader derives it).
                if (keras3 || layer.BackwardActivation is not null)
                {
                    config["backward_layer"] = new JsonObject
                    {
                        ["class_name"] = layer.ClassName,
                        ["config"] = layer.InnerConfig($"backward_{prefix}", true, layer.BackwardActivation ?? layer.Activation),
                    };
                }

                className = "Bidirectional";
            }
            else
            {
                config = layer.InnerConfig(layer.Name, layer.GoBackwards, layer.Activation);
            }

            entries.Add(keras3
                ? new JsonObject { ["module"] = "keras.layers", ["class_name"] = className, ["config"] = config, ["registered_name"] = null }
                : new JsonObject { ["class_name"] = className, ["config"] = config });
        }

        foreach ((string otherClass, string otherName) in others)
            entries.Add(new JsonObject { ["class_name"] = otherClass, ["config"] = new JsonObject { ["name"] = otherName, ["units"] = 1 } });
        var model = new JsonObject { ["class_name"] = "Sequential", ["config"] = new JsonObject { ["name"] = "sequential", ["layers"] = entries } };
        if (keras3) model["module"] = "keras";
        else
        {
            model["keras_version"] = "2.15.0";
            model["backend"] = "tensorflow";
        }

        return model;
    }

    /// <summary>The Keras 3 weights file: each recurrent layer under layers/&lt;snake_case class&gt;[_n], numbered per class.</summary>
    public static byte[] Keras3Weights(IReadOnlyList<KerasLayerFixture> layers, params (string ClassName, string Name)[] others) =>
        Write(Keras3Root(layers, null, others), new H5WriteOptions());

    private static H5File Keras3Root(IReadOnlyList<KerasLayerFixture> layers, KerasHeadsFixture? heads, params (string ClassName, string Name)[] others)
    {
        var root = new H5File();
        var container = new H5Group();
        var used = new Dictionary<string, int>();
        string Unique(string name)
        {
            int count = used.TryGetValue(name, out int seen) ? seen + 1 : 0;
            used[name] = count;
            return count == 0 ? name : $"{name}_{count}";
        }

        foreach (KerasLayerFixture layer in layers)
        {
            string storeName = Unique(layer.IsBidirectional ? "bidirectional" : layer.ClassName == "SimpleRNN" ? "simple_rnn" : layer.ClassName.ToLowerInvariant());
            H5Group Cell(int direction) => new() { ["cell"] = new H5Group { ["vars"] = Vars(layer, direction) }, ["vars"] = new H5Group() };
            container[storeName] = layer.IsBidirectional
                ? new H5Group { ["forward_layer"] = Cell(0), ["backward_layer"] = Cell(1), ["vars"] = new H5Group() }
                : Cell(0);
        }

        foreach ((string otherClass, _) in others) container[Unique(otherClass.ToLowerInvariant())] = new H5Group { ["vars"] = new H5Group { ["0"] = new float[] { 1 } } };
        if (heads is not null)
        {
            if (heads.Embedding is { } table) container["embedding"] = new H5Group { ["vars"] = new H5Group { ["0"] = Dataset(table) } };
            foreach (KerasDenseFixture dense in heads.Dense)
            {
                var vars = new H5Group { ["0"] = Dataset(dense.Kernel) };
                if (dense.Bias is { } bias) vars["1"] = Dataset(bias);
                container[Unique("dense")] = new H5Group { ["vars"] = vars };
            }
        }

        root["layers"] = container;
        root["optimizer"] = new H5Group { ["vars"] = new H5Group() };
        root["vars"] = new H5Group();
        return root;
    }

    /// <summary>
    /// The config of a whole model: the Embedding of <paramref name="heads"/> after the InputLayer (which then takes
    /// ids), the recurrent layers, then its Dense layers.
    /// </summary>
    public static JsonObject WholeModelConfig(IReadOnlyList<KerasLayerFixture> layers, KerasHeadsFixture heads, bool keras3)
    {
        JsonObject model = ModelConfig(layers, keras3);
        var entries = (JsonArray)model["config"]!["layers"]!;
        JsonObject Entry(string className, JsonObject config) => keras3
            ? new JsonObject { ["module"] = "keras.layers", ["class_name"] = className, ["config"] = config, ["registered_name"] = null }
            : new JsonObject { ["class_name"] = className, ["config"] = config };
        if (heads.Embedding is { } table)
        {
            entries.Insert(1, Entry("Embedding", new JsonObject
            {
                ["name"] = "embedding", ["input_dim"] = table.Dim(0), ["output_dim"] = table.Dim(1), ["mask_zero"] = heads.MaskZero,
            }));
        }

        for (int index = 0; index < heads.Dense.Count; index++)
        {
            KerasDenseFixture dense = heads.Dense[index];
            entries.Add(Entry("Dense", new JsonObject
            {
                ["name"] = index == 0 ? "dense" : $"dense_{index}", ["units"] = dense.Kernel.Dim(1), ["activation"] = dense.Activation, ["use_bias"] = dense.Bias is not null,
            }));
        }

        return model;
    }

    /// <summary>A whole model as a Keras 3 <c>.keras</c> archive.</summary>
    public static byte[] WholeModelArchive(IReadOnlyList<KerasLayerFixture> layers, KerasHeadsFixture heads)
    {
        using var memory = new MemoryStream();
        using (var zip = new ZipArchive(memory, ZipArchiveMode.Create, leaveOpen: true))
        {
            void Add(string name, byte[] content)
            {
                using Stream stream = zip.CreateEntry(name).Open();
                stream.Write(content);
            }

            Add("metadata.json", System.Text.Encoding.UTF8.GetBytes("{\"keras_version\": \"3.6.0\"}"));
            Add("config.json", System.Text.Encoding.UTF8.GetBytes(WholeModelConfig(layers, heads, keras3: true).ToJsonString()));
            Add("model.weights.h5", Write(Keras3Root(layers, heads), new H5WriteOptions()));
        }

        return memory.ToArray();
    }

    /// <summary>A whole model as a legacy full-model <c>.h5</c>: embedding/embeddings:0, dense/kernel:0 and dense/bias:0 beside the recurrent layers.</summary>
    public static byte[] WholeModelLegacyH5(IReadOnlyList<KerasLayerFixture> layers, KerasHeadsFixture heads)
    {
        H5Group weightsGroup = LegacyWeightsGroup(layers, heads, "2.15.0");
        var full = new H5File
        {
            Attributes = new()
            {
                ["keras_version"] = "2.15.0",
                ["backend"] = "tensorflow",
                ["model_config"] = WholeModelConfig(layers, heads, keras3: false).ToJsonString(),
            },
            ["model_weights"] = weightsGroup,
        };
        return Write(full, new H5WriteOptions());
    }

    private static H5Group Vars(KerasLayerFixture layer, int direction)
    {
        var vars = new H5Group();
        FloatTensor[] tensors = layer.Tensors(direction);
        for (int index = 0; index < tensors.Length; index++) vars[index.ToString()] = Dataset(tensors[index]);
        return vars;
    }

    /// <summary>A rank-1 or rank-2 float32 dataset.</summary>
    private static object Dataset(FloatTensor tensor)
    {
        if (tensor.Rank == 1) return tensor.ToArray();
        var matrix = new float[tensor.Dim(0), tensor.Dim(1)];
        for (int row = 0; row < tensor.Dim(0); row++)
            for (int column = 0; column < tensor.Dim(1); column++) matrix[row, column] = tensor[row, column];
        return matrix;
    }

    /// <summary>A Keras 3 <c>.keras</c> archive.</summary>
    public static byte[] KerasArchive(IReadOnlyList<KerasLayerFixture> layers, string kerasVersion = "3.6.0", CompressionLevel compression = CompressionLevel.Optimal,
        params (string ClassName, string Name)[] others)
    {
        using var memory = new MemoryStream();
        using (var zip = new ZipArchive(memory, ZipArchiveMode.Create, leaveOpen: true))
        {
            void Add(string name, byte[] content)
            {
                using Stream stream = zip.CreateEntry(name, compression).Open();
                stream.Write(content);
            }

            Add("metadata.json", System.Text.Encoding.UTF8.GetBytes($"{{\"keras_version\": \"{kerasVersion}\", \"date_saved\": \"2026-12-01@12:00:00\"}}"));
            Add("config.json", System.Text.Encoding.UTF8.GetBytes(ModelConfig(layers, keras3: true, others).ToJsonString()));
            Add("model.weights.h5", Keras3Weights(layers, others));
        }

        return memory.ToArray();
    }

    /// <summary>
    /// A legacy <c>.h5</c>: with <paramref name="modelConfig"/> a full model (root attributes model_config and
    /// keras_version, weights under model_weights); without, weights only at the root with fixed-length strings.
    /// </summary>
    public static byte[] LegacyH5(IReadOnlyList<KerasLayerFixture> layers, string kerasVersion = "2.15.0", bool modelConfig = true)
    {
        H5Group weightsGroup = LegacyWeightsGroup(layers, null, kerasVersion);
        if (!modelConfig)
        {
            var file = new H5File { Attributes = weightsGroup.Attributes };
            foreach ((string name, object value) in weightsGroup) file[name] = value;
            return Write(file, new H5WriteOptions(DefaultStringLength: 128));
        }

        var full = new H5File
        {
            Attributes = new()
            {
                ["keras_version"] = kerasVersion,
                ["backend"] = "tensorflow",
                ["model_config"] = ModelConfig(layers, keras3: false).ToJsonString(),
            },
            ["model_weights"] = weightsGroup,
        };
        return Write(full, new H5WriteOptions());
    }

    /// <summary>
    /// A legacy full-model <c>.h5</c> in libhdf5's own layout (<see cref="OldStyleHdf5"/>), as Keras 2 writes it through
    /// h5py: the lists and versions as fixed-length strings (h5py's bytes), model_config as a variable-length string.
    /// </summary>
    public static byte[] LegacyH5OldStyle(IReadOnlyList<KerasLayerFixture> layers, string kerasVersion = "2.15.0")
    {
        var weights = new OldStyleHdf5.Group();
        foreach (KerasLayerFixture layer in layers)
        {
            var layerGroup = new OldStyleHdf5.Group();
            var weightNames = new List<string>();
            foreach ((string weightName, FloatTensor tensor) in layer.LegacyWeights())
            {
                weightNames.Add(weightName);
                OldStyleHdf5.Group target = layerGroup;
                string[] parts = weightName.Split('/');
                foreach (string part in parts[..^1])
                {
                    if (!target.Members.TryGetValue(part, out OldStyleHdf5.Node? child)) target.Members[part] = child = new OldStyleHdf5.Group();
                    target = (OldStyleHdf5.Group)child;
                }

                target.Members[parts[^1]] = new OldStyleHdf5.Dataset(tensor.ToArray(), tensor.Shape.ToArray());
            }

            layerGroup.Attributes["weight_names"] = new OldStyleHdf5.FixedStrings([.. weightNames]);
            weights.Members[layer.Name] = layerGroup;
        }

        weights.Attributes["layer_names"] = new OldStyleHdf5.FixedStrings([.. layers.Select(layer => layer.Name)]);
        weights.Attributes["backend"] = new OldStyleHdf5.FixedStrings(["tensorflow"]);
        weights.Attributes["keras_version"] = new OldStyleHdf5.FixedStrings([kerasVersion]);
        var root = new OldStyleHdf5.Group();
        root.Members["model_weights"] = weights;
        root.Attributes["keras_version"] = new OldStyleHdf5.FixedStrings([kerasVersion]);
        root.Attributes["backend"] = new OldStyleHdf5.FixedStrings(["tensorflow"]);
        root.Attributes["model_config"] = ModelConfig(layers, keras3: false).ToJsonString();
        return OldStyleHdf5.Write(root);
    }

    /// <summary>The legacy model_weights group: a group per layer with its weight_names, and layer_names in model order.</summary>
    private static H5Group LegacyWeightsGroup(IReadOnlyList<KerasLayerFixture> layers, KerasHeadsFixture? heads, string kerasVersion)
    {
        var weightsGroup = new H5Group();
        var layerNames = new List<string>();
        void AddLayer(string name, IEnumerable<(string Name, FloatTensor Tensor)> weights)
        {
            layerNames.Add(name);
            var layerGroup = new H5Group();
            var weightNames = new List<string>();
            foreach ((string weightName, FloatTensor tensor) in weights)
            {
                weightNames.Add(weightName);
                Place(layerGroup, weightName, Dataset(tensor));
            }

            layerGroup.Attributes = new() { ["weight_names"] = weightNames.ToArray() };
            weightsGroup[name] = layerGroup;
        }

        if (heads?.Embedding is { } table) AddLayer("embedding", [("embedding/embeddings:0", table)]);
        foreach (KerasLayerFixture layer in layers) AddLayer(layer.Name, layer.LegacyWeights());
        for (int index = 0; index < (heads?.Dense.Count ?? 0); index++)
        {
            KerasDenseFixture dense = heads!.Dense[index];
            string name = index == 0 ? "dense" : $"dense_{index}";
            AddLayer(name, dense.Bias is { } bias ? [($"{name}/kernel:0", dense.Kernel), ($"{name}/bias:0", bias)] : [($"{name}/kernel:0", dense.Kernel)]);
        }

        weightsGroup.Attributes = new() { ["layer_names"] = layerNames.ToArray(), ["keras_version"] = kerasVersion, ["backend"] = "tensorflow" };
        return weightsGroup;
    }

    /// <summary>Puts a dataset at a slash-separated path below <paramref name="group"/>, making the groups on the way.</summary>
    private static void Place(H5Group group, string path, object dataset)
    {
        string[] parts = path.Split('/');
        for (int index = 0; index < parts.Length - 1; index++)
        {
            if (!group.TryGetValue(parts[index], out object? child))
            {
                child = new H5Group();
                group[parts[index]] = child;
            }

            group = (H5Group)child;
        }

        group[parts[^1]] = dataset;
    }

    private static byte[] Write(H5File file, H5WriteOptions options)
    {
        using var memory = new MemoryStream();
        file.Write(memory, options);
        return memory.ToArray();
    }
}
