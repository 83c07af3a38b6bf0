using System.IO.Compression;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using FusedRnn.IO;
using FusedRnn.IO.Keras;

namespace FusedRnn;

/// <summary>
/// Reads a Keras file into <see cref="KerasModel"/>: tells a <c>.keras</c> zip from an HDF5 file by its first bytes,
/// takes the architecture from the archive's <c>config.json</c>, the legacy <c>model_config</c> attribute or the
/// caller's config JSON, and each recurrent layer's arrays from the weights file.
/// </summary>
internal static class KerasModelReader
{
    /// <summary>Layers that are identities at inference, which a stack of recurrent layers may pass through.</summary>
    private static readonly HashSet<string> InferenceIdentities =
        ["InputLayer", "Dropout", "SpatialDropout1D", "GaussianDropout", "GaussianNoise", "AlphaDropout"];

    private static ReadOnlySpan<byte> ZipSignature => "PK\x03\x04"u8;

    public static KerasModel Read(byte[] bytes, string source, string? configJson)
    {
        if (bytes.AsSpan().StartsWith(ZipSignature))
        {
            if (configJson is not null)
                throw new ArgumentException($"{source} is a .keras archive, which holds its own config; give a model config only with a .weights.h5 file", "modelConfigJson");
            return ReadArchive(bytes, source);
        }

        if (!bytes.AsSpan().StartsWith(IO.Hdf5.Hdf5File.Signature))
            throw new MalformedFileException(source, "neither a .keras archive (zip) nor a Keras HDF5 file (.h5, .weights.h5): its first bytes are neither format's signature");
        KerasWeightStore store = KerasWeightStore.Open(bytes, source);
        if (store.IsLegacy)
        {
            string configText = configJson ?? store.RootAttribute("model_config")
                ?? throw new ArgumentException(
                    $"{source} holds weights only (no model_config attribute); give the model's config JSON (model.to_json())", "modelConfigJson");
            KerasConfig config = KerasConfig.Parse(configText, source);
            return Build(config, store, store.LegacyKerasVersion ?? config.KerasVersion ?? "1", source);
        }

        if (configJson is null)
        {
            throw new ArgumentException(
                $"{source} is a Keras 3 .weights.h5 file, which holds no architecture; give the model's config JSON (model.to_json(), or config.json of a .keras archive)", "modelConfigJson");
        }

        KerasConfig weightsConfig = KerasConfig.Parse(configJson, source);
        return Build(weightsConfig, store, weightsConfig.KerasVersion ?? "3", source);
    }

    private static KerasModel ReadArchive(byte[] bytes, string source)
    {
        try
        {
            using var archive = new ZipArchive(new MemoryStream(bytes, writable: false), ZipArchiveMode.Read);
            byte[] configBytes = Entry(archive, "config.json", source, required: true)!;
            byte[]? metadataBytes = Entry(archive, "metadata.json", source, required: false);
            if (archive.GetEntry("model.weights.npz") is not null && archive.GetEntry("model.weights.h5") is null)
                throw new UnsupportedModelException(source, "the archive keeps its weights as model.weights.npz; only model.weights.h5 is read");
            byte[] weights = Entry(archive, "model.weights.h5", source, required: true)!;
            string? version = metadataBytes is null ? null : MetadataVersion(metadataBytes, source);
            KerasConfig config = KerasConfig.Parse(Utf8(configBytes, "config.json", source), source);
            KerasWeightStore store = KerasWeightStore.Open(weights, $"{source}:model.weights.h5");
            return Build(config, store, version ?? config.KerasVersion ?? "3", source);
        }
        catch (Exception e) when (e is InvalidDataException or IOException || (e is NotSupportedException && e is not UnsupportedModelException))
        {
            // What System.IO.Compression throws on a damaged archive or entry, or an entry compressed by a method it lacks.
            throw new MalformedFileException(source, $"the .keras archive is damaged: {FileText.Escape(e.Message)}", e);
        }
    }

    /// <summary>
    /// An archive entry's bytes, which must be as many as it declares. They are read as they come, never allocated by
    /// the declared size, which a damaged archive may overstate.
    /// </summary>
    private static byte[]? Entry(ZipArchive archive, string name, string source, bool required)
    {
        ZipArchiveEntry? entry = archive.GetEntry(name);
        if (entry is null)
            return required ? throw new MalformedFileException(source, $"the .keras archive has no {name}") : null;
        if (entry.Length > Array.MaxLength)
            throw new MalformedFileException(source, $"the archive's {name} claims {entry.Length} bytes, more than one array holds");
        using Stream stream = entry.Open();
        using var data = new MemoryStream();
        var chunk = new byte[81920];
        int read;
        while ((read = stream.Read(chunk)) > 0)
        {
            if (data.Length + read > entry.Length) throw new MalformedFileException(source, $"the archive's {name} holds more bytes than the {entry.Length} it declares");
            data.Write(chunk, 0, read);
        }

        if (data.Length != entry.Length) throw new MalformedFileException(source, $"the archive's {name} holds {data.Length} bytes, not the {entry.Length} it declares");
        return data.ToArray();
    }

    private static string Utf8(byte[] bytes, string what, string source)
    {
        try
        {
            return new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes);
        }
        catch (DecoderFallbackException e)
        {
            throw new MalformedFileException(source, $"{what} is not UTF-8 text", e);
        }
    }

    private static string? MetadataVersion(byte[] metadata, string source)
    {
        try
        {
            using var document = JsonDocument.Parse(Utf8(metadata, "metadata.json", source));
            return document.RootElement.ValueKind == JsonValueKind.Object
                ? KerasConfig.OptionalString(document.RootElement, "keras_version", "metadata.json", source)
                : throw new MalformedFileException(source, "metadata.json is not a JSON object");
        }
        catch (JsonException e)
        {
            throw new MalformedFileException(source, $"metadata.json is not valid JSON: {e.Message}", e);
        }
    }

    /// <summary>The major number of a version string such as <c>2.15.0</c>.</summary>
    private static int MajorVersion(string version, string source)
    {
        Match match = Regex.Match(version, @"^\s*(\d{1,6})");
        return match.Success ? int.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)
            : throw new MalformedFileException(source, $"keras_version '{FileText.Escape(version)}' is not a version number");
    }

    private static KerasModel Build(KerasConfig config, KerasWeightStore store, string version, string source)
    {
        int major = MajorVersion(version, source);
        var usedNames = new Dictionary<string, int>(StringComparer.Ordinal);
        var parts = new List<KerasModelPart>();
        foreach (KerasLayerEntry entry in config.Layers)
        {
            string storePath = $"layers/{UniqueName(KerasNames.SnakeCase(entry.ClassName), usedNames)}";
            if (InferenceIdentities.Contains(entry.ClassName)) continue;
            if (KerasImporter.TryKindOf(entry.ClassName, out _))
            {
                KerasRnnSettings settings = Settings(entry.ClassName, entry.Config, entry.Name, source);
                IReadOnlyList<KerasArray> arrays = store.IsLegacy ? LegacyArrays(store, entry.Name, source) : Keras3Arrays(store, $"{storePath}/cell", entry.Name, source);
                parts.Add(new KerasModelPart(entry.Name, entry.ClassName, Layer(entry.Name, settings, null, KerasMergeMode.Concat, arrays, null, major, source)));
            }
            else if (entry.ClassName == "Bidirectional")
            {
                parts.Add(new KerasModelPart(entry.Name, entry.ClassName, Bidirectional(entry, store, storePath, major, source)));
            }
            else
            {
                // An Embedding's or Dense layer's arrays are read when a whole model is made: a recurrent layer runs alone without them.
                IReadOnlyList<KerasArray> Arrays() => store.IsLegacy ? LegacyArrays(store, entry.Name, source) : Keras3Arrays(store, storePath, entry.Name, source);
                parts.Add(entry.ClassName switch
                {
                    "Embedding" => new KerasModelPart(entry.Name, entry.ClassName, null, Embedding: () => KerasHeads.Embedding(entry, Arrays(), source)),
                    "Dense" => new KerasModelPart(entry.Name, entry.ClassName, null, Dense: () => KerasHeads.Dense(entry, Arrays(), source)),
                    _ => new KerasModelPart(entry.Name, entry.ClassName, null),
                });
            }
        }

        if (!parts.Any(part => part.Recurrent is not null))
        {
            throw new UnsupportedModelException(source, "the model has no LSTM, GRU or SimpleRNN layer" +
                (parts.Count > 0 ? $"; its layers are {string.Join(", ", parts.Select(part => $"{KerasConfig.Quote(part.Name)} ({FileText.Escape(part.ClassName)})"))}" : ""));
        }

        return new KerasModel(source, version, parts);
    }

    /// <summary>Keras's unique names within a container: the first <c>lstm</c>, then <c>lstm_1</c>, <c>lstm_2</c>.</summary>
    private static string UniqueName(string name, Dictionary<string, int> used)
    {
        if (used.TryGetValue(name, out int count))
        {
            used[name] = count + 1;
            return $"{name}_{count + 1}";
        }

        used[name] = 0;
        return name;
    }

    private static KerasRecurrentLayer Bidirectional(KerasLayerEntry entry, KerasWeightStore store, string storePath, int major, string source)
    {
        string what = $"layer {KerasConfig.Quote(entry.Name)} (Bidirectional)";
        JsonElement inner = KerasConfig.RequiredObject(entry.Config, "layer", what, source);
        string innerClass = KerasConfig.RequiredString(inner, "class_name", $"{what}: its layer", source);
        if (!KerasImporter.TryKindOf(innerClass, out _))
            throw new UnsupportedModelException(source, $"{what} wraps a {FileText.Escape(innerClass)} layer; LSTM, GRU and SimpleRNN are read");
        KerasRnnSettings forward = Settings(innerClass, KerasConfig.RequiredObject(inner, "config", $"{what}: its layer", source), entry.Name, source);
        KerasRnnSettings backward = forward with { GoBackwards = !forward.GoBackwards };
        if (entry.Config.TryGetProperty("backward_layer", out JsonElement backwardLayer) && backwardLayer.ValueKind == JsonValueKind.Object)
        {
            string backwardClass = KerasConfig.RequiredString(backwardLayer, "class_name", $"{what}: its backward layer", source);
            backward = Settings(backwardClass, KerasConfig.RequiredObject(backwardLayer, "config", $"{what}: its backward layer", source), entry.Name, source);
        }

        if (forward.GoBackwards || !backward.GoBackwards)
        {
            throw new UnsupportedModelException(source,
                $"{what}: its forward layer has go_backwards={forward.GoBackwards} and its backward layer go_backwards={backward.GoBackwards}; False and True are read");
        }

        KerasMergeMode merge = KerasConfig.OptionalString(entry.Config, "merge_mode", what, source) switch
        {
            "concat" => KerasMergeMode.Concat,
            "sum" => KerasMergeMode.Sum,
            "mul" => KerasMergeMode.Mul,
            "ave" => KerasMergeMode.Ave,
            null when entry.Config.TryGetProperty("merge_mode", out _) =>
                throw new UnsupportedModelException(source, $"{what}: merge_mode=None returns the directions as separate outputs; concat, sum, mul and ave are read"),
            null => KerasMergeMode.Concat,
            var other => throw new UnsupportedModelException(source, $"{what}: merge_mode '{FileText.Escape(other)}' is not one of concat, sum, mul, ave"),
        };

        IReadOnlyList<KerasArray> forwardArrays, backwardArrays;
        if (store.IsLegacy)
        {
            // Keras lists a Bidirectional wrapper's weights as the forward layer's, then the backward layer's.
            IReadOnlyList<KerasArray> all = LegacyArrays(store, entry.Name, source);
            if (all.Count % 2 != 0)
                throw new MalformedFileException(source, $"{what} has {all.Count} weight arrays; a Bidirectional wrapper has as many for each direction");
            forwardArrays = [.. all.Take(all.Count / 2)];
            backwardArrays = [.. all.Skip(all.Count / 2)];
        }
        else
        {
            forwardArrays = Keras3Arrays(store, $"{storePath}/forward_layer/cell", entry.Name, source);
            backwardArrays = Keras3Arrays(store, $"{storePath}/backward_layer/cell", entry.Name, source);
        }

        return Layer(entry.Name, forward, backward, merge, forwardArrays, backwardArrays, major, source);
    }

    /// <summary>The layer from its settings and arrays; what the importer rejects becomes a file error naming the layer and datasets.</summary>
    private static KerasRecurrentLayer Layer(string name, KerasRnnSettings forward, KerasRnnSettings? backward, KerasMergeMode merge,
        IReadOnlyList<KerasArray> forwardArrays, IReadOnlyList<KerasArray>? backwardArrays, int major, string source)
    {
        static FloatTensor[] Tensors(IReadOnlyList<KerasArray> arrays) => [.. arrays.Select(array => new FloatTensor(array.Values, array.Shape))];
        string datasets = string.Join(", ", forwardArrays.Concat(backwardArrays ?? []).Select(array => KerasConfig.Quote(array.Path)));
        string what = $"layer {KerasConfig.Quote(name)} ({(backward is null ? forward.ClassName : $"Bidirectional {forward.ClassName}")}, {forward.Units} units)";
        try
        {
            RnnWeights weights = KerasImporter.ToWeights((forward, Tensors(forwardArrays)),
                backward is null ? null : (backward, Tensors(backwardArrays!)), major);
            return new KerasRecurrentLayer(name, forward, backward, merge, weights);
        }
        catch (NotSupportedException e)
        {
            throw new UnsupportedModelException(source, $"{what}: {e.Message}");
        }
        catch (ArgumentException e)
        {
            throw new MalformedFileException(source, $"{what}: {MessageOf(e)}{(datasets.Length > 0 ? $" (datasets {datasets})" : "")}", e);
        }
    }

    /// <summary>An argument exception's message without the " (Parameter 'x')" that .NET appends.</summary>
    internal static string MessageOf(ArgumentException e) =>
        e.ParamName is null ? e.Message : e.Message.Replace($" (Parameter '{e.ParamName}')", "", StringComparison.Ordinal);

    private static IReadOnlyList<KerasArray> LegacyArrays(KerasWeightStore store, string layer, string source) =>
        store.LegacyLayer(layer) ?? throw new MalformedFileException(source, $"the weights file has no layer {KerasConfig.Quote(layer)} (its layer_names do not list it)");

    private static IReadOnlyList<KerasArray> Keras3Arrays(KerasWeightStore store, string path, string layer, string source) =>
        store.Vars(path) ?? throw new MalformedFileException(source, $"the weights file has no {path}/vars for layer {KerasConfig.Quote(layer)}");

    /// <summary>An LSTM, GRU or SimpleRNN layer's settings from its config, with Keras's defaults for absent keys.</summary>
    private static KerasRnnSettings Settings(string className, JsonElement config, string layer, string source)
    {
        string what = $"layer {KerasConfig.Quote(layer)} ({FileText.Escape(className)})";
        if (!KerasImporter.TryKindOf(className, out CellKind kind))
            throw new UnsupportedModelException(source, $"{what}: LSTM, GRU and SimpleRNN layers are read");
        return new KerasRnnSettings(className, KerasConfig.RequiredPositiveInt(config, "units", what, source))
        {
            Activation = ActivationName(config, "activation", "tanh", what, source),
            RecurrentActivation = kind == CellKind.RnnTanh ? null : ActivationName(config, "recurrent_activation", "sigmoid", what, source),
            UseBias = KerasConfig.OptionalBool(config, "use_bias", true, what, source),
            ResetAfter = kind == CellKind.Gru && KerasConfig.OptionalBool(config, "reset_after", true, what, source),
            GoBackwards = KerasConfig.OptionalBool(config, "go_backwards", false, what, source),
            ReturnSequences = KerasConfig.OptionalBool(config, "return_sequences", false, what, source),
            ReturnState = KerasConfig.OptionalBool(config, "return_state", false, what, source),
            Stateful = KerasConfig.OptionalBool(config, "stateful", false, what, source),
        };
    }

    /// <summary>
    /// An activation as the config writes it: a name, null (linear), or a serialized function whose
    /// <c>config</c> is its name. An absent key is Keras's default.
    /// </summary>
    internal static string? ActivationName(JsonElement config, string property, string defaultName, string what, string source)
    {
        if (!config.TryGetProperty(property, out JsonElement value)) return defaultName;
        return value.ValueKind switch
        {
            JsonValueKind.Null => null,
            JsonValueKind.String => value.GetString(),
            JsonValueKind.Object when value.TryGetProperty("config", out JsonElement name) && name.ValueKind == JsonValueKind.String => name.GetString(),
            _ => throw new UnsupportedModelException(source, $"{what}: {property} is {KerasConfig.Describe(value)}, not the name of a built-in activation"),
        };
    }
}
