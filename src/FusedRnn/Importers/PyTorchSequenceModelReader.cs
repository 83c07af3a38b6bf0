using System.Text.Json;
using FusedRnn.IO;

namespace FusedRnn;

/// <summary>
/// Reads a whole PyTorch sequence model from its state_dict (<c>.safetensors</c>) and a short JSON description of its
/// layers, which a state_dict does not hold (see README, "Whole sequence models"):
/// <code>
/// {
///   "embedding": "embedding.weight",                        // optional: nn.Embedding's table, [vocabulary, dimension]
///   "recurrent": [{ "prefix": "lstm.", "nonlinearity": "tanh" }],   // each nn.LSTM/GRU/RNN by its tensors' prefix
///   "heads": [{ "weight": "fc.weight", "bias": "fc.bias", "activation": "softmax" }],   // nn.Linear layers, optional
///   "head_steps": "every"                                    // or "last" (each row's last valid step) or "final_state" (h_n of every direction)
/// }
/// </code>
/// Every error names the description or the weights file and the layer.
/// </summary>
internal static class PyTorchSequenceModelReader
{
    private static readonly string[] RootProperties = ["embedding", "recurrent", "heads", "head_steps"];
    private static readonly string[] RecurrentProperties = ["prefix", "nonlinearity"];
    private static readonly string[] HeadProperties = ["weight", "bias", "activation"];

    /// <summary>The activations by the names the description uses (PyTorch's module names in snake case).</summary>
    private static readonly Dictionary<string, DenseActivation> Activations = new(StringComparer.Ordinal)
    {
        ["identity"] = DenseActivation.Identity,
        ["relu"] = DenseActivation.Relu,
        ["tanh"] = DenseActivation.Tanh,
        ["sigmoid"] = DenseActivation.Sigmoid,
        ["softmax"] = DenseActivation.Softmax,
        ["log_softmax"] = DenseActivation.LogSoftmax,
    };

    public static SequenceModelParts Read(SafetensorsFile weights, string descriptionJson, string descriptionName)
    {
        JsonElement root;
        try
        {
            using JsonDocument document = JsonDocument.Parse(descriptionJson, new JsonDocumentOptions { MaxDepth = 16 });
            root = document.RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw new MalformedFileException(descriptionName, $"not JSON: {e.Message}", e);
        }

        var description = new Description(descriptionName);
        description.RequireObject(root, "the description", RootProperties);

        EmbeddingLayer? embedding = null;
        if (root.TryGetProperty("embedding", out JsonElement embeddingName))
        {
            string name = description.String(embeddingName, "embedding");
            embedding = new EmbeddingLayer(Tensor(weights, name, "embedding", rank: 2), FileText.Escape(name));
        }

        if (!root.TryGetProperty("recurrent", out JsonElement recurrentList) || recurrentList.ValueKind != JsonValueKind.Array || recurrentList.GetArrayLength() == 0)
            throw description.Error("recurrent must be a list of one or more recurrent modules, each {\"prefix\": \"...\"}");
        var recurrent = new List<RnnWeights>();
        var recurrentNames = new List<string>();
        int index = 0;
        foreach (JsonElement module in recurrentList.EnumerateArray())
        {
            string where = $"recurrent[{index++}]";
            description.RequireObject(module, where, RecurrentProperties);
            if (!module.TryGetProperty("prefix", out JsonElement prefixValue)) throw description.Error($"{where} has no prefix (its tensors' prefix, e.g. \"lstm.\")");
            string prefix = description.String(prefixValue, $"{where}.prefix");
            if (prefix.Length == 0) throw description.Error($"{where}.prefix is empty; a model of several layers names each module's tensors by their prefix");
            RnnNonlinearity nonlinearity = RnnNonlinearity.Tanh;
            if (module.TryGetProperty("nonlinearity", out JsonElement nonlinearityValue))
            {
                nonlinearity = description.String(nonlinearityValue, $"{where}.nonlinearity") switch
                {
                    "tanh" => RnnNonlinearity.Tanh,
                    "relu" => RnnNonlinearity.Relu,
                    string other => throw description.Error($"{where}.nonlinearity is '{FileText.Escape(other)}', not tanh or relu"),
                };
            }

            recurrent.Add(RnnWeights.FromSafetensors(weights, prefix, nonlinearity));
            recurrentNames.Add($"{where} ('{FileText.Escape(prefix)}')");
        }

        var heads = new List<DenseLayer>();
        if (root.TryGetProperty("heads", out JsonElement headList))
        {
            if (headList.ValueKind != JsonValueKind.Array) throw description.Error("heads must be a list of {\"weight\": ..., \"bias\": ..., \"activation\": ...}");
            index = 0;
            foreach (JsonElement head in headList.EnumerateArray())
            {
                string where = $"heads[{index++}]";
                description.RequireObject(head, where, HeadProperties);
                if (!head.TryGetProperty("weight", out JsonElement weightName)) throw description.Error($"{where} has no weight (nn.Linear's weight tensor)");
                string weight = description.String(weightName, $"{where}.weight");
                string? bias = head.TryGetProperty("bias", out JsonElement biasName) && biasName.ValueKind != JsonValueKind.Null ? description.String(biasName, $"{where}.bias") : null;
                DenseActivation activation = DenseActivation.Identity;
                if (head.TryGetProperty("activation", out JsonElement activationName))
                {
                    string name = description.String(activationName, $"{where}.activation");
                    if (!Activations.TryGetValue(name, out activation))
                        throw description.Error($"{where}.activation is '{FileText.Escape(name)}', not one of {string.Join(", ", Activations.Keys)}");
                }

                string layerName = $"{where} ('{FileText.Escape(weight)}')";
                FloatTensor weightTensor = Tensor(weights, weight, $"{where}.weight", rank: 2);
                FloatTensor? biasTensor = bias is null ? null : Tensor(weights, bias, $"{where}.bias", rank: 1);
                if (biasTensor is not null && biasTensor.Dim(0) != weightTensor.Dim(0))
                    throw new InvalidWeightsException(bias!, $"{weights.FilePath}: {where}.bias '{FileText.Escape(bias!)}' is {FloatTensor.FormatShape(biasTensor.Shape)} but its weight has {weightTensor.Dim(0)} outputs");
                heads.Add(new DenseLayer(weightTensor, biasTensor, activation, layerName));
            }
        }

        HeadSteps steps = HeadSteps.Every;
        if (root.TryGetProperty("head_steps", out JsonElement stepsValue))
        {
            steps = description.String(stepsValue, "head_steps") switch
            {
                "every" => HeadSteps.Every,
                "last" => HeadSteps.Last,
                "final_state" => HeadSteps.FinalState,
                string other => throw description.Error($"head_steps is '{FileText.Escape(other)}', not every, last or final_state"),
            };
        }

        return new SequenceModelParts(embedding, recurrent, heads, steps, recurrentNames);
    }

    /// <summary>A tensor the description names, which must be in the file and of <paramref name="rank"/>.</summary>
    private static FloatTensor Tensor(SafetensorsFile weights, string name, string role, int rank)
    {
        if (!weights.Contains(name))
            throw new InvalidWeightsException(name, $"{weights.FilePath}: {role} names tensor '{FileText.Escape(name)}', which the file does not hold");
        int[] shape = weights.GetInfo(name).Shape;
        if (shape.Length != rank || shape.Any(dim => dim < 1))
            throw new InvalidWeightsException(name, $"{weights.FilePath}: {role} '{FileText.Escape(name)}' is {FloatTensor.FormatShape(shape)}; it must be a non-empty {(rank == 2 ? "matrix" : "vector")}");
        return new FloatTensor(weights.ReadFloat32(name), shape);
    }

    /// <summary>The description's checks, whose messages name it.</summary>
    private sealed class Description(string name)
    {
        public MalformedFileException Error(string message) => new(name, message);

        public void RequireObject(JsonElement element, string where, string[] properties)
        {
            if (element.ValueKind != JsonValueKind.Object) throw Error($"{where} is a {element.ValueKind}, not an object");
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (JsonProperty property in element.EnumerateObject())
            {
                if (!properties.Contains(property.Name, StringComparer.Ordinal))
                    throw Error($"{where} has property '{FileText.Escape(property.Name)}'; it takes {string.Join(", ", properties)}");
                if (!seen.Add(property.Name)) throw Error($"{where} has property {property.Name} twice");
            }
        }

        public string String(JsonElement element, string where) =>
            element.ValueKind == JsonValueKind.String ? element.GetString()! : throw Error($"{where} is a {element.ValueKind}, not a string");
    }
}
