using System.Globalization;
using System.Text.Json;

namespace FusedRnn.IO.Keras;

/// <summary>One layer of a Keras model's config: its class, its name, and its own <c>config</c> object.</summary>
internal sealed record KerasLayerEntry(string ClassName, string Name, JsonElement Config);

/// <summary>
/// A Keras model's architecture as its config JSON states it: Keras 3's <c>config.json</c> (and <c>model.to_json()</c>),
/// the legacy <c>model_config</c> attribute, or the config of one layer. Sequential models list their layers in order;
/// a functional model is read when its layers form a chain, each taking the previous one's output.
/// </summary>
internal sealed class KerasConfig
{
    private KerasConfig(IReadOnlyList<KerasLayerEntry> layers, string? kerasVersion)
    {
        Layers = layers;
        KerasVersion = kerasVersion;
    }

    /// <summary>The layers in the order data flows through them.</summary>
    public IReadOnlyList<KerasLayerEntry> Layers { get; }

    /// <summary><c>keras_version</c> when the JSON states it (legacy <c>to_json()</c> does).</summary>
    public string? KerasVersion { get; }

    /// <exception cref="MalformedFileException">The text is not JSON, or not a Keras model or layer config.</exception>
    /// <exception cref="UnsupportedModelException">A functional model whose layers do not form a chain.</exception>
    public static KerasConfig Parse(string json, string source)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 256 });
        }
        catch (JsonException e)
        {
            throw new MalformedFileException(source, $"the model config is not valid JSON: {e.Message}", e);
        }

        using (document)
        {
            JsonElement root = document.RootElement.Clone();
            if (root.ValueKind != JsonValueKind.Object) throw new MalformedFileException(source, "the model config is not a JSON object");
            string className = RequiredString(root, "class_name", "the model config", source);
            string? version = OptionalString(root, "keras_version", "the model config", source);
            JsonElement config = RequiredObject(root, "config", $"the {Quote(className)} config", source);
            switch (className)
            {
                case "Sequential":
                    return new KerasConfig(SequentialLayers(config, source), version);
                case "Functional" or "Model":
                    return new KerasConfig(ChainedLayers(config, source), version);
                default:
                    string name = OptionalString(config, "name", $"the {Quote(className)} config", source) ?? KerasNames.SnakeCase(className);
                    return new KerasConfig([new KerasLayerEntry(className, name, config)], version);
            }
        }
    }

    private static List<KerasLayerEntry> SequentialLayers(JsonElement config, string source)
    {
        var layers = new List<KerasLayerEntry>();
        foreach (JsonElement layer in RequiredArray(config, "layers", "the Sequential config", source).EnumerateArray())
        {
            if (layer.ValueKind != JsonValueKind.Object) throw new MalformedFileException(source, $"layer {layers.Count} of the Sequential config is not an object");
            string what = $"layer {layers.Count} of the Sequential config";
            string className = RequiredString(layer, "class_name", what, source);
            JsonElement layerConfig = RequiredObject(layer, "config", what, source);
            string name = OptionalString(layerConfig, "name", what, source) ?? OptionalString(layer, "name", what, source)
                ?? throw new MalformedFileException(source, $"{what} ({Quote(className)}) has no name");
            layers.Add(new KerasLayerEntry(className, name, layerConfig));
        }

        return layers;
    }

    /// <summary>A functional model's layers, which must form a chain: inputs first, each later layer fed by the one before it alone.</summary>
    private static List<KerasLayerEntry> ChainedLayers(JsonElement config, string source)
    {
        var layers = new List<KerasLayerEntry>();
        string? previous = null;
        foreach (JsonElement layer in RequiredArray(config, "layers", "the functional model's config", source).EnumerateArray())
        {
            string what = $"layer {layers.Count} of the functional model's config";
            if (layer.ValueKind != JsonValueKind.Object) throw new MalformedFileException(source, $"{what} is not an object");
            string className = RequiredString(layer, "class_name", what, source);
            JsonElement layerConfig = RequiredObject(layer, "config", what, source);
            string name = OptionalString(layer, "name", what, source) ?? OptionalString(layerConfig, "name", what, source)
                ?? throw new MalformedFileException(source, $"{what} ({Quote(className)}) has no name");
            var inbound = new SortedSet<string>(StringComparer.Ordinal);
            if (layer.TryGetProperty("inbound_nodes", out JsonElement nodes)) CollectInboundLayers(nodes, inbound);
            bool chained = className == "InputLayer" ? inbound.Count == 0 && previous is null
                : inbound.Count == 1 && inbound.Min == previous;
            if (!chained)
            {
                string from = inbound.Count == 0 ? "no layer" : string.Join(", ", inbound.Select(Quote));
                throw new UnsupportedModelException(source,
                    $"the functional model is not a chain of layers: {Quote(className)} layer {Quote(name)} takes its inputs from {from}" +
                    (previous is null ? "" : $" rather than from {Quote(previous)} alone"));
            }

            layers.Add(new KerasLayerEntry(className, name, layerConfig));
            previous = name;
        }

        return layers;
    }

    /// <summary>
    /// The names of the layers an <c>inbound_nodes</c> value refers to: Keras 3 writes each tensor as an object with a
    /// <c>keras_history</c> of [layer, node, tensor]; Keras 2 writes each as the array [layer, node, tensor, kwargs].
    /// </summary>
    private static void CollectInboundLayers(JsonElement element, SortedSet<string> names)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (JsonProperty property in element.EnumerateObject())
                {
                    if (property.NameEquals("keras_history") && property.Value.ValueKind == JsonValueKind.Array
                        && property.Value.GetArrayLength() > 0 && property.Value[0].ValueKind == JsonValueKind.String)
                    {
                        names.Add(property.Value[0].GetString()!);
                    }
                    else
                    {
                        CollectInboundLayers(property.Value, names);
                    }
                }

                break;
            case JsonValueKind.Array:
                if (element.GetArrayLength() >= 3 && element[0].ValueKind == JsonValueKind.String
                    && element[1].ValueKind == JsonValueKind.Number && element[2].ValueKind == JsonValueKind.Number)
                {
                    names.Add(element[0].GetString()!);
                    break;
                }

                foreach (JsonElement item in element.EnumerateArray()) CollectInboundLayers(item, names);
                break;
        }
    }

    /// <summary>A file's text quoted for a message.</summary>
    public static string Quote(string text) => $"'{FileText.Escape(text)}'";

    public static string RequiredString(JsonElement element, string property, string what, string source) =>
        OptionalString(element, property, what, source) ?? throw new MalformedFileException(source, $"{what} has no \"{property}\"");

    public static string? OptionalString(JsonElement element, string property, string what, string source)
    {
        if (!element.TryGetProperty(property, out JsonElement value) || value.ValueKind == JsonValueKind.Null) return null;
        return value.ValueKind == JsonValueKind.String ? value.GetString()
            : throw new MalformedFileException(source, $"{what}: \"{property}\" is {Describe(value)}, not a string");
    }

    public static JsonElement RequiredObject(JsonElement element, string property, string what, string source)
    {
        if (!element.TryGetProperty(property, out JsonElement value)) throw new MalformedFileException(source, $"{what} has no \"{property}\"");
        return value.ValueKind == JsonValueKind.Object ? value
            : throw new MalformedFileException(source, $"{what}: \"{property}\" is {Describe(value)}, not an object");
    }

    private static JsonElement RequiredArray(JsonElement element, string property, string what, string source)
    {
        if (!element.TryGetProperty(property, out JsonElement value)) throw new MalformedFileException(source, $"{what} has no \"{property}\"");
        return value.ValueKind == JsonValueKind.Array ? value
            : throw new MalformedFileException(source, $"{what}: \"{property}\" is {Describe(value)}, not a list");
    }

    public static bool OptionalBool(JsonElement element, string property, bool defaultValue, string what, string source)
    {
        if (!element.TryGetProperty(property, out JsonElement value) || value.ValueKind == JsonValueKind.Null) return defaultValue;
        return value.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw new MalformedFileException(source, $"{what}: \"{property}\" is {Describe(value)}, not true or false"),
        };
    }

    public static int RequiredPositiveInt(JsonElement element, string property, string what, string source)
    {
        if (!element.TryGetProperty(property, out JsonElement value)) throw new MalformedFileException(source, $"{what} has no \"{property}\"");
        if (value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out int number) && number > 0) return number;
        throw new MalformedFileException(source, $"{what}: \"{property}\" is {Describe(value)}, not a positive 32-bit integer");
    }

    /// <summary>A JSON value for a message: a short one as written, a long one by its kind.</summary>
    public static string Describe(JsonElement value)
    {
        string raw = value.GetRawText();
        return raw.Length <= 40 ? FileText.Escape(raw) : value.ValueKind.ToString().ToLower(CultureInfo.InvariantCulture);
    }
}

/// <summary>How Keras names things in a weights file.</summary>
internal static class KerasNames
{
    /// <summary>Keras's <c>to_snake_case</c>: <c>SimpleRNN</c> → <c>simple_rnn</c>, <c>LSTM</c> → <c>lstm</c>.</summary>
    public static string SnakeCase(string name)
    {
        string word = System.Text.RegularExpressions.Regex.Replace(name, @"\W+", "");
        word = System.Text.RegularExpressions.Regex.Replace(word, "(.)([A-Z][a-z]+)", "$1_$2");
        return System.Text.RegularExpressions.Regex.Replace(word, "([a-z])([A-Z])", "$1_$2").ToLowerInvariant();
    }
}
