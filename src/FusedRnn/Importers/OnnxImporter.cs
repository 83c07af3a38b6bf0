using FusedRnn.IO;
using FusedRnn.IO.Onnx;
using Google.Protobuf;

namespace FusedRnn;

/// <summary>
/// Reads an ONNX model of LSTM, GRU or RNN nodes (<see cref="OnnxRnnModel"/>): it refuses a graph with other ops,
/// then <see cref="OnnxGraphReader"/> stacks the nodes, and <see cref="NodeReader"/> reads each: its attributes
/// become the spec's <see cref="CellVariant"/>, its W, R, B and P PyTorch's layout (gates reordered, see
/// <see cref="OnnxGates"/>). Every check names the file, the node and the attribute or tensor at fault.
/// </summary>
internal static class OnnxImporter
{
    /// <summary>The attributes ONNX defines for each operator (opsets 7 to 22).</summary>
    private static readonly Dictionary<string, string[]> KnownAttributes = new()
    {
        ["LSTM"] = ["activation_alpha", "activation_beta", "activations", "clip", "direction", "hidden_size", "input_forget", "layout"],
        ["GRU"] = ["activation_alpha", "activation_beta", "activations", "clip", "direction", "hidden_size", "layout", "linear_before_reset"],
        ["RNN"] = ["activation_alpha", "activation_beta", "activations", "clip", "direction", "hidden_size", "layout"],
    };

    /// <summary>ONNX's default activations of each operator, one direction, in its role order (LSTM f, g, h; GRU f, g; RNN f).</summary>
    private static Activation[] DefaultActivations(string op) => op switch
    {
        "LSTM" => [Activation.Sigmoid, Activation.Tanh, Activation.Tanh],
        "GRU" => [Activation.Sigmoid, Activation.Tanh],
        _ => [Activation.Tanh],
    };

    public static OnnxRnnModel Read(byte[] bytes, string file)
    {
        ModelProto model;
        try
        {
            model = ModelProto.Parser.ParseFrom(bytes);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new MalformedFileException(file, $"not an ONNX model (protobuf: {e.Message})", e);
        }

        GraphProto graph = model.Graph ?? throw new MalformedFileException(file, "the model has no graph");
        if (graph.Node.Count == 0) throw new MalformedFileException(file, "the graph has no nodes");
        var others = graph.Node.Where(node => !IsRecurrent(node) &&
            !(node.Domain is "" or "ai.onnx" && (OnnxLayoutOps.Supported.Contains(node.OpType) || OnnxHeadOps.Supported.Contains(node.OpType)))).ToList();
        if (others.Count > 0)
        {
            throw new UnsupportedModelException(file,
                $"the graph has ops other than LSTM, GRU and RNN nodes, the layout ops between them ({string.Join(", ", OnnxLayoutOps.Supported.Order(StringComparer.Ordinal))}) " +
                $"and a whole model's embedding and heads ({string.Join(", ", OnnxHeadOps.Supported.Order(StringComparer.Ordinal))}): " +
                string.Join(", ", others.Select(Describe)));
        }

        if (!graph.Node.Any(IsRecurrent)) throw new UnsupportedModelException(file, "the graph has no LSTM, GRU or RNN node");
        long opset = model.OpsetImport.FirstOrDefault(import => import.Domain is "" or "ai.onnx")?.Version ?? 1;
        return new OnnxGraphReader(file, graph, opset).Read();
    }

    public static bool IsRecurrent(NodeProto node) =>
        node.Domain is "" or "ai.onnx" && node.OpType is "LSTM" or "GRU" or "RNN";

    private static string Describe(NodeProto node) =>
        $"{FileText.Escape(node.Domain.Length > 0 ? node.Domain + "." + node.OpType : node.OpType)} (node '{FileText.Escape(node.Name)}')";

    /// <summary>One node's attributes and tensors, with the messages that name them.</summary>
    /// <param name="file">The file, for messages.</param>
    /// <param name="node">The LSTM, GRU or RNN node.</param>
    /// <param name="constant">The constant array an input name holds in the probe run, or null for a name left out.</param>
    internal sealed class NodeReader(string file, NodeProto node, Func<string, ProbeArray?> constant)
    {
        private readonly string _op = node.OpType;

        private string Where => $"{_op} node '{FileText.Escape(node.Name)}'";

        private MalformedFileException Error(string message) => new(file, $"{Where}: {message}");

        public RecurrentNode Read()
        {
            Dictionary<string, AttributeProto> attributes = Attributes();
            string direction = StringAttribute(attributes, "direction") ?? "forward";
            int directions = direction switch
            {
                "forward" or "reverse" => 1,
                "bidirectional" => 2,
                _ => throw Error($"attribute direction is '{FileText.Escape(direction)}', not forward, reverse or bidirectional"),
            };
            int layout = (int)IntAttribute(attributes, "layout", 0, 0, 1);

            // Inputs: X, W, R, B, sequence_lens, initial_h, initial_c, P (LSTM); "" or absent for one left out.
            string InputName(int index) => index < node.Input.Count ? node.Input[index] : "";
            int maxInputs = _op == "LSTM" ? 8 : 6;
            if (node.Input.Count > maxInputs) throw Error($"has {node.Input.Count} inputs; {_op} takes at most {maxInputs}");
            if (InputName(0).Length == 0) throw Error("has no input X");
            if (node.Output.Count > (_op == "LSTM" ? 3 : 2)) throw Error($"has {node.Output.Count} outputs; {_op} has at most {(_op == "LSTM" ? 3 : 2)}");

            int gates = _op switch { "LSTM" => 4, "GRU" => 3, _ => 1 };
            ProbeArray w = RequiredWeights(InputName(1), "W");
            ProbeArray r = RequiredWeights(InputName(2), "R");
            if (w.Shape.Length != 3 || w.Shape[0] != directions || w.Shape[1] % gates != 0 || w.Shape[1] == 0 || w.Shape[2] == 0)
                throw Error($"W is {FloatTensor.FormatShape(w.Shape)}; it must be [{directions}, {gates}·hidden_size, input_size] for direction {direction}");
            int hidden = w.Shape[1] / gates, inputSize = w.Shape[2];
            long declaredHidden = IntAttribute(attributes, "hidden_size", hidden, 1, int.MaxValue);
            if (declaredHidden != hidden)
                throw Error($"attribute hidden_size is {declaredHidden} but W is {FloatTensor.FormatShape(w.Shape)}, {gates}·{hidden} gate rows");
            RequireShape(r, "R", directions, gates * hidden, hidden);
            ProbeArray? b = OptionalWeights(InputName(3), "B");
            if (b is not null) RequireShape(b, "B", directions, 2 * gates * hidden);
            ProbeArray? p = _op == "LSTM" ? OptionalWeights(InputName(7), "P") : null;
            if (p is not null) RequireShape(p, "P", directions, 3 * hidden);

            CellKind kind;
            CellVariant cell = Cell(attributes, directions, out kind) with { Peepholes = p is not null };
            var spec = new RnnSpec(kind, inputSize, hidden, Bidirectional: directions == 2, Bias: b is not null) { Cell = cell };
            try
            {
                spec = spec.Validate();
            }
            catch (ArgumentException e)
            {
                throw Error(e.Message);
            }

            int[] order = OnnxGates.PyTorchGateOf(kind);
            var layers = new LayerWeights[directions];
            int gateRows = gates * hidden;
            for (int d = 0; d < directions; d++)
            {
                ReadOnlySpan<float> bias = b is null ? default : b.Floats.AsSpan(d * 2 * gateRows, 2 * gateRows);
                layers[d] = new LayerWeights(
                    OnnxGates.FromOnnx(w.Floats.AsSpan(d * gateRows * inputSize, gateRows * inputSize), order, hidden * inputSize),
                    OnnxGates.FromOnnx(r.Floats.AsSpan(d * gateRows * hidden, gateRows * hidden), order, hidden * hidden),
                    b is null ? null : OnnxGates.FromOnnx(bias[..gateRows], order, hidden),
                    b is null ? null : OnnxGates.FromOnnx(bias[gateRows..], order, hidden),
                    WeightP: p is null ? null : OnnxGates.FromOnnx(p.Floats.AsSpan(d * 3 * hidden, 3 * hidden), OnnxGates.PeepholeOf, hidden));
            }

            string OutputName(int index) => index < node.Output.Count ? node.Output[index] : "";
            return new RecurrentNode(
                node,
                FileText.Escape(node.Name),
                spec,
                layers,
                direction == "reverse" ? OnnxDirection.Reverse : directions == 2 ? OnnxDirection.Bidirectional : OnnxDirection.Forward,
                layout,
                Where,
                new OnnxInputNames(InputName(0), Optional(InputName(4)), Optional(InputName(5)), _op == "LSTM" ? Optional(InputName(6)) : null),
                new OnnxOutputNames(Optional(OutputName(0)), Optional(OutputName(1)), _op == "LSTM" ? Optional(OutputName(2)) : null));
        }

        private static string? Optional(string name) => name.Length == 0 ? null : name;

        private Dictionary<string, AttributeProto> Attributes()
        {
            var attributes = new Dictionary<string, AttributeProto>(StringComparer.Ordinal);
            foreach (AttributeProto attribute in node.Attribute)
            {
                if (!KnownAttributes[_op].Contains(attribute.Name))
                    throw Error($"has attribute '{FileText.Escape(attribute.Name)}', which {_op} does not define");
                if (!attributes.TryAdd(attribute.Name, attribute)) throw Error($"has attribute {attribute.Name} twice");
            }

            return attributes;
        }

        private long IntAttribute(Dictionary<string, AttributeProto> attributes, string name, long fallback, long min, long max)
        {
            if (!attributes.TryGetValue(name, out AttributeProto? attribute)) return fallback;
            if (attribute.Type != AttributeProto.Types.AttributeType.Int) throw Error($"attribute {name} is a {attribute.Type}, not an INT");
            if (attribute.I < min || attribute.I > max) throw Error($"attribute {name} is {attribute.I}; it must be in {min}..{max}");
            return attribute.I;
        }

        private string? StringAttribute(Dictionary<string, AttributeProto> attributes, string name)
        {
            if (!attributes.TryGetValue(name, out AttributeProto? attribute)) return null;
            if (attribute.Type != AttributeProto.Types.AttributeType.String) throw Error($"attribute {name} is a {attribute.Type}, not a STRING");
            return attribute.S.ToStringUtf8();
        }

        private float[]? FloatsAttribute(Dictionary<string, AttributeProto> attributes, string name)
        {
            if (!attributes.TryGetValue(name, out AttributeProto? attribute)) return null;
            if (attribute.Type != AttributeProto.Types.AttributeType.Floats) throw Error($"attribute {name} is a {attribute.Type}, not FLOATS");
            return [.. attribute.Floats];
        }

        /// <summary>
        /// The cell variant of the node's attributes, and the kind (an RNN whose activations are all Tanh or all Relu
        /// is PyTorch's RnnTanh or RnnRelu).
        /// </summary>
        private CellVariant Cell(Dictionary<string, AttributeProto> attributes, int directions, out CellKind kind)
        {
            Activation[] defaults = DefaultActivations(_op);
            Activation[] activations = Activations(attributes, directions, defaults.Length) ?? [.. Enumerable.Repeat(defaults, directions).SelectMany(a => a)];
            float clip = 0;
            if (attributes.TryGetValue("clip", out AttributeProto? clipAttribute))
            {
                if (clipAttribute.Type != AttributeProto.Types.AttributeType.Float) throw Error($"attribute clip is a {clipAttribute.Type}, not a FLOAT");
                if (!(clipAttribute.F > 0) || !float.IsFinite(clipAttribute.F)) throw Error($"attribute clip is {clipAttribute.F}; it must be a finite number above 0");
                clip = clipAttribute.F;
            }

            CellKind cellKind = _op switch { "LSTM" => CellKind.Lstm, "GRU" => CellKind.Gru, _ => CellKind.RnnTanh };
            if (cellKind == CellKind.RnnTanh && activations.All(a => a == Activation.Relu)) cellKind = CellKind.RnnRelu;
            kind = cellKind;
            CellActivations Roles(int direction)
            {
                Activation[] roles = activations[(direction * defaults.Length)..((direction + 1) * defaults.Length)];
                // PyTorch's activation of each role (ONNX's defaults but for the RNN's, which its kind decides) stays null: the fast path.
                Activation? Role(int index, Activation pytorch) => roles[index] == pytorch ? null : roles[index];
                return _op switch
                {
                    "LSTM" => new CellActivations(Role(0, Activation.Sigmoid), Role(1, Activation.Tanh), Role(2, Activation.Tanh)),
                    "GRU" => new CellActivations(Role(0, Activation.Sigmoid), Role(1, Activation.Tanh)),
                    _ => new CellActivations(Role(0, cellKind == CellKind.RnnRelu ? Activation.Relu : Activation.Tanh)),
                };
            }

            return new CellVariant
            {
                Forward = Roles(0),
                Reverse = directions == 2 ? Roles(1) : new CellActivations(),
                Clip = clip,
                CoupledInputForget = _op == "LSTM" && IntAttribute(attributes, "input_forget", 0, 0, 1) == 1,
                ResetPlacement = _op == "GRU" && IntAttribute(attributes, "linear_before_reset", 0, 0, 1) == 0
                    ? GruResetPlacement.BeforeProduct : GruResetPlacement.AfterProduct,
            };
        }

        /// <summary>
        /// The activations attribute with its parameters, or null when absent. ONNX says α and β "are consumed in the
        /// order of activation functions"; as ONNX Runtime reads them, each activation that takes a parameter takes the
        /// next value of its list and the others take none. A list too short leaves ONNX's operator default (LeakyRelu
        /// α 0.01, ThresholdedRelu α 1, HardSigmoid 0.2 and 0.5, Elu α 1); Affine and ScaledTanh have none, and values
        /// left over mean the lists were written another way: both are refused.
        /// </summary>
        private Activation[]? Activations(Dictionary<string, AttributeProto> attributes, int directions, int roles)
        {
            float[] alphas = FloatsAttribute(attributes, "activation_alpha") ?? [];
            float[] betas = FloatsAttribute(attributes, "activation_beta") ?? [];
            if (!attributes.TryGetValue("activations", out AttributeProto? names))
            {
                if (alphas.Length + betas.Length > 0) throw Error("has activation_alpha or activation_beta but no activations");
                return null;
            }

            if (names.Type != AttributeProto.Types.AttributeType.Strings) throw Error($"attribute activations is a {names.Type}, not STRINGS");
            if (names.Strings.Count != directions * roles)
                throw Error($"attribute activations has {names.Strings.Count} names; {_op} with {directions} direction(s) takes {directions * roles}");
            int alphaIndex = 0, betaIndex = 0;
            var activations = new Activation[names.Strings.Count];
            for (int index = 0; index < activations.Length; index++)
            {
                string name = names.Strings[index].ToStringUtf8();
                Activation activation = name.ToLowerInvariant() switch
                {
                    "relu" => Activation.Relu,
                    "tanh" => Activation.Tanh,
                    "sigmoid" => Activation.Sigmoid,
                    "affine" => new Activation(ActivationKind.Affine),
                    "leakyrelu" => Activation.LeakyRelu(),
                    "thresholdedrelu" => Activation.ThresholdedRelu(),
                    "scaledtanh" => new Activation(ActivationKind.ScaledTanh),
                    "hardsigmoid" => Activation.HardSigmoid(),
                    "elu" => Activation.Elu(),
                    "softsign" => Activation.Softsign,
                    "softplus" => Activation.Softplus,
                    _ => throw Error($"activations[{index}] is '{FileText.Escape(name)}', not one of ONNX's (Relu, Tanh, Sigmoid, Affine, LeakyRelu, " +
                        "ThresholdedRelu, ScaledTanh, HardSigmoid, Elu, Softsign, Softplus)"),
                };
                bool noDefault = activation.Kind is ActivationKind.Affine or ActivationKind.ScaledTanh;
                if (activation.TakesAlpha)
                {
                    if (alphaIndex < alphas.Length) activation = activation with { Alpha = alphas[alphaIndex++] };
                    else if (noDefault) throw Error($"activations[{index}] {name} takes α, but activation_alpha has no value left for it (ONNX defines no default)");
                }

                if (activation.TakesBeta)
                {
                    if (betaIndex < betas.Length) activation = activation with { Beta = betas[betaIndex++] };
                    else if (noDefault) throw Error($"activations[{index}] {name} takes β, but activation_beta has no value left for it (ONNX defines no default)");
                }

                if (!float.IsFinite(activation.Alpha) || !float.IsFinite(activation.Beta))
                    throw Error($"activations[{index}] {name} has α {activation.Alpha}, β {activation.Beta}: they must be finite");
                activations[index] = activation;
            }

            if (alphaIndex < alphas.Length)
                throw Error($"activation_alpha has {alphas.Length} values but the activations take {alphaIndex}: one per activation that takes α, in order");
            if (betaIndex < betas.Length)
                throw Error($"activation_beta has {betas.Length} values but the activations take {betaIndex}: one per activation that takes β, in order");
            return activations;
        }

        private ProbeArray RequiredWeights(string name, string role) =>
            OptionalWeights(name, role) ?? throw Error($"has no {role}");

        /// <summary>A weight tensor: float32 numbers stored in the model (an initializer, or layout ops on initializers and constants).</summary>
        private ProbeArray? OptionalWeights(string name, string role)
        {
            if (constant(name) is not { } tensor) return null;
            string what = $"{Where}: {role} ('{FileText.Escape(name)}')";
            if (tensor.SizeDependent)
                throw new UnsupportedModelException(file, $"{what} is computed from the graph's inputs or their shapes; the weights must be stored in the model");
            if (!tensor.IsFloat) throw new UnsupportedModelException(file, $"{what} has element type {tensor.ElementType}; float32 (1) is supported");
            return tensor;
        }

        private void RequireShape(ProbeArray tensor, string role, params int[] shape)
        {
            if (!tensor.Shape.AsSpan().SequenceEqual(shape))
                throw Error($"{role} is {FloatTensor.FormatShape(tensor.Shape)}; it must be {FloatTensor.FormatShape(shape)}");
        }
    }
}
