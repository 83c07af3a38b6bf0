using System.Runtime.InteropServices;
using FusedRnn.IO.Onnx;
using Google.Protobuf;

namespace FusedRnn.Onnx;

/// <summary>
/// Writes a network as an ONNX model (opset 14) of LSTM, GRU or RNN nodes with the same weights, as PyTorch's exporter
/// would: W, R, B (and the LSTM's peepholes P) as initializers with the gates in ONNX's order, the cell variant as the
/// node's attributes (<see cref="OnnxCellAttributes"/>). ONNX has no projection, so an LSTM with <c>proj_size</c> is
/// refused.
/// </summary>
public static class OnnxModelBuilder
{
    /// <summary>ONNX 1.9's opset, where LSTM-14, GRU-14 and RNN-14 are current; IR version 7 carries it.</summary>
    private const long Opset = 14;
    private const long IrVersion = 7;

    /// <summary>The graph input x.</summary>
    public const string Input = "X";

    /// <summary>The graph input of per-row lengths (int32).</summary>
    public const string SequenceLengths = "sequence_lens";

    /// <summary>The graph input h0.</summary>
    public const string InitialHidden = "initial_h";

    /// <summary>The graph input c0 (LSTM).</summary>
    public const string InitialCell = "initial_c";

    /// <summary>The graph output y.</summary>
    public const string Output = "Y";

    /// <summary>The graph output h_n.</summary>
    public const string FinalHidden = "Y_h";

    /// <summary>The graph output c_n (LSTM).</summary>
    public const string FinalCell = "Y_c";

    /// <summary>
    /// A whole network, one node per layer, layers chained by Transpose + Reshape from ONNX's <c>[T, D, B, H]</c> to
    /// PyTorch's <c>[T, B, D·H]</c>: X <c>[T, B, I]</c> in, zero initial state; Y out as <c>[T, B, D·H]</c>
    /// (<c>[T, 1, B, H]</c>, the same memory, when unidirectional).
    /// </summary>
    public static byte[] Sequence(RnnWeights weights, int steps, int batch, string name = "fusedrnn")
    {
        ArgumentNullException.ThrowIfNull(weights);
        RnnSpec spec = Supported(weights.Spec);
        var graph = new GraphProto { Name = name };
        graph.Input.Add(TensorValue(Input, TensorProto.Types.DataType.Float, steps, batch, spec.InputSize));
        string layerInput = Input;
        for (int layer = 0; layer < spec.NumLayers; layer++)
        {
            bool last = layer == spec.NumLayers - 1;
            string y = last && spec.Directions == 1 ? Output : $"y{layer}";
            AddLayer(graph, weights, layer, layerInput, [], [y]);
            layerInput = y;
            if (spec.Directions == 2)
            {
                // [T, 2, B, H] -> [T, B, 2, H]: PyTorch's feature order, forward then reverse.
                string transposed = $"y{layer}_transposed";
                graph.Node.Add(Node("Transpose", [layerInput], [transposed], Ints("perm", 0, 2, 1, 3)));
                layerInput = transposed;
            }

            if (spec.Directions == 2 || !last)
            {
                string shape = $"y{layer}_shape", reshaped = last ? Output : $"x{layer + 1}";
                graph.Initializer.Add(Int64Tensor(shape, steps, batch, spec.OutputFeatures));
                graph.Node.Add(Node("Reshape", [layerInput, shape], [reshaped]));
                layerInput = reshaped;
            }
        }

        graph.Output.Add(spec.Directions == 1
            ? TensorValue(Output, TensorProto.Types.DataType.Float, steps, 1, batch, spec.HiddenSize)
            : TensorValue(Output, TensorProto.Types.DataType.Float, steps, batch, spec.OutputFeatures));
        return Model(graph);
    }

    /// <summary>The graph input of a whole model's token ids, int64 <c>[1, B]</c>.</summary>
    public const string Ids = "ids";

    /// <summary>The graph output of a whole model's head, <c>[1, B, V]</c>.</summary>
    public const string Probabilities = "probabilities";

    /// <summary>A whole model's graph input or output of one layer's state: <c>initial_h_l0</c>, <c>Y_c_l1</c>.</summary>
    public static string LayerState(string state, int layer) => $"{state}_l{layer}";

    /// <summary>
    /// One step of a whole model, stateless as ONNX Runtime runs it: ids <c>[1, B]</c> → Gather of
    /// <paramref name="embedding"/> <c>[V, I]</c> → one node per layer of the unidirectional <paramref name="weights"/>,
    /// each with its own initial_h_l{k} (and initial_c_l{k}) <c>[1, B, H]</c> in and Y_h_l{k} (and Y_c_l{k}) out,
    /// Squeeze between layers → MatMul by <paramref name="headWeight"/> <c>[V, F]</c> transposed → Add
    /// <paramref name="headBias"/> → Softmax: probabilities <c>[1, B, V]</c>.
    /// </summary>
    public static byte[] ModelStep(FloatTensor embedding, RnnWeights weights, FloatTensor headWeight, FloatTensor headBias, int batch, string name = "fusedrnn")
    {
        ArgumentNullException.ThrowIfNull(embedding);
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentNullException.ThrowIfNull(headWeight);
        ArgumentNullException.ThrowIfNull(headBias);
        RnnSpec spec = Supported(weights.Spec);
        if (spec.Directions != 1) throw new ArgumentException("a stream steps a unidirectional network", nameof(weights));
        int hidden = spec.HiddenSize, vocabulary = headWeight.Dim(0);
        bool hasCell = spec.Kind.HasCellState();
        var graph = new GraphProto { Name = name };
        graph.Input.Add(TensorValue(Ids, TensorProto.Types.DataType.Int64, 1, batch));
        graph.Initializer.Add(FloatTensor("embedding", embedding.ToArray(), embedding.Dim(0), embedding.Dim(1)));
        graph.Node.Add(Node("Gather", ["embedding", Ids], ["x0"]));
        graph.Initializer.Add(Int64Tensor("squeeze_axes", 1));
        string layerInput = "x0";
        for (int layer = 0; layer < spec.NumLayers; layer++)
        {
            string[] states = hasCell ? [LayerState(InitialHidden, layer), LayerState(InitialCell, layer)] : [LayerState(InitialHidden, layer)];
            foreach (string state in states) graph.Input.Add(TensorValue(state, TensorProto.Types.DataType.Float, 1, batch, hidden));
            string[] outputs = [$"y{layer}", LayerState(FinalHidden, layer), .. hasCell ? new[] { LayerState(FinalCell, layer) } : []];
            AddLayer(graph, weights, layer, layerInput, ["", .. states], outputs);
            foreach (string output in outputs.Skip(1)) graph.Output.Add(TensorValue(output, TensorProto.Types.DataType.Float, 1, batch, hidden));
            layerInput = $"x{layer + 1}";
            graph.Node.Add(Node("Squeeze", [$"y{layer}", "squeeze_axes"], [layerInput]));
        }

        float[] transposed = new float[headWeight.Length];
        int features = headWeight.Dim(1);
        for (int v = 0; v < vocabulary; v++)
            for (int f = 0; f < features; f++) transposed[(f * vocabulary) + v] = headWeight[v, f];
        graph.Initializer.Add(FloatTensor("head_weight", transposed, features, vocabulary));
        graph.Initializer.Add(FloatTensor("head_bias", headBias.ToArray(), vocabulary));
        graph.Node.Add(Node("MatMul", [layerInput, "head_weight"], ["logits"]));
        graph.Node.Add(Node("Add", ["logits", "head_bias"], ["biased"]));
        graph.Node.Add(Node("Softmax", ["biased"], [Probabilities], Int("axis", -1)));
        graph.Output.Add(TensorValue(Probabilities, TensorProto.Types.DataType.Float, 1, batch, vocabulary));
        return Model(graph);
    }

    /// <summary>
    /// A one-layer network as a single node with the inputs and outputs <paramref name="signature"/> asks for, in
    /// ONNX's shapes: X <c>[T, B, I]</c>, sequence_lens <c>[B]</c> (int32), initial_h and initial_c <c>[D, B, H]</c> in;
    /// Y <c>[T, D, B, H]</c>, Y_h and Y_c <c>[D, B, H]</c> out (initial_c and Y_c for an LSTM only).
    /// </summary>
    public static byte[] SingleNode(RnnWeights weights, SingleNodeSignature signature, string name = "fusedrnn")
    {
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentNullException.ThrowIfNull(signature);
        RnnSpec spec = Supported(weights.Spec);
        if (spec.NumLayers != 1)
            throw new ArgumentException($"a single node is one layer, not {spec.NumLayers}; write the network with {nameof(Sequence)}", nameof(weights));
        if (!signature.SequenceOutput && !signature.FinalState)
            throw new ArgumentException("a model needs an output: Y, or Y_h (and Y_c)", nameof(signature));
        int steps = signature.Steps, batch = signature.Batch, directions = spec.Directions, hidden = spec.HiddenSize;
        bool hasCell = spec.Kind.HasCellState();
        var graph = new GraphProto { Name = name };
        graph.Input.Add(TensorValue(Input, TensorProto.Types.DataType.Float, steps, batch, spec.InputSize));
        if (signature.SequenceLengths) graph.Input.Add(TensorValue(SequenceLengths, TensorProto.Types.DataType.Int32, batch));
        string[] initialState = signature.InitialState ? hasCell ? [InitialHidden, InitialCell] : [InitialHidden] : [];
        foreach (string state in initialState) graph.Input.Add(TensorValue(state, TensorProto.Types.DataType.Float, directions, batch, hidden));

        string[] outputs = [signature.SequenceOutput ? Output : "", .. signature.FinalState ? hasCell ? new[] { FinalHidden, FinalCell } : [FinalHidden] : []];
        AddLayer(graph, weights, layer: 0, Input, [signature.SequenceLengths ? SequenceLengths : "", .. initialState], outputs);
        if (signature.SequenceOutput) graph.Output.Add(TensorValue(Output, TensorProto.Types.DataType.Float, steps, directions, batch, hidden));
        foreach (string state in outputs.Skip(1)) graph.Output.Add(TensorValue(state, TensorProto.Types.DataType.Float, directions, batch, hidden));
        return Model(graph);
    }

    private static RnnSpec Supported(RnnSpec spec) => spec.ProjSize == 0 ? spec
        : throw new NotSupportedException($"ONNX's LSTM has no projection; {spec} has proj_size={spec.ProjSize}");

    private static byte[] Model(GraphProto graph)
    {
        var model = new ModelProto { IrVersion = IrVersion, ProducerName = "FusedRnn", Graph = graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = Opset });
        return model.ToByteArray();
    }

    /// <summary>
    /// The node of every direction of <paramref name="layer"/>, with W, R, B and P as initializers. Its inputs are
    /// <paramref name="input"/>, W, R, B, then <paramref name="optionalInputs"/> (sequence_lens, initial_h, initial_c;
    /// "" for one left out) and P.
    /// </summary>
    private static void AddLayer(GraphProto graph, RnnWeights weights, int layer, string input, string[] optionalInputs, string[] outputs)
    {
        RnnSpec spec = weights.Spec;
        int hidden = spec.HiddenSize, gateRows = spec.GateCount * hidden, inputSize = spec.LayerInputSize(layer);
        int[] order = OnnxGates.PyTorchGateOf(spec.Kind);
        var w = new List<float>();
        var r = new List<float>();
        var b = new List<float>();
        var p = new List<float>();
        for (int direction = 0; direction < spec.Directions; direction++)
        {
            LayerWeights parameters = weights[layer, direction];
            w.AddRange(OnnxGates.ToOnnx(parameters.WeightIh, order, hidden * inputSize));
            r.AddRange(OnnxGates.ToOnnx(parameters.WeightHh, order, hidden * hidden));
            if (spec.Bias)
            {
                // ONNX's B is [Wb, Rb] per direction: PyTorch's bias_ih then bias_hh.
                b.AddRange(OnnxGates.ToOnnx(parameters.BiasIh!, order, hidden));
                b.AddRange(OnnxGates.ToOnnx(parameters.BiasHh!, order, hidden));
            }

            if (spec.Cell.Peepholes) p.AddRange(OnnxGates.ToOnnx(parameters.WeightP!, OnnxGates.PeepholeOf, hidden));
        }

        string prefix = $"l{layer}_";
        graph.Initializer.Add(FloatTensor(prefix + "W", [.. w], spec.Directions, gateRows, inputSize));
        graph.Initializer.Add(FloatTensor(prefix + "R", [.. r], spec.Directions, gateRows, hidden));
        if (spec.Bias) graph.Initializer.Add(FloatTensor(prefix + "B", [.. b], spec.Directions, 2 * gateRows));
        if (spec.Cell.Peepholes) graph.Initializer.Add(FloatTensor(prefix + "P", [.. p], spec.Directions, 3 * hidden));

        List<string> inputs = [input, prefix + "W", prefix + "R", spec.Bias ? prefix + "B" : "", .. optionalInputs];
        if (spec.Cell.Peepholes)
        {
            while (inputs.Count < 7) inputs.Add("");
            inputs.Add(prefix + "P");
        }

        while (inputs[^1].Length == 0) inputs.RemoveAt(inputs.Count - 1); // trailing optional inputs may be omitted
        graph.Node.Add(Node(OnnxCellAttributes.OperatorName(spec.Kind), [.. inputs], outputs, [.. OnnxCellAttributes.Of(spec)]));
    }


    private static NodeProto Node(string opType, string[] inputs, string[] outputs, params AttributeProto[] attributes)
    {
        var node = new NodeProto { OpType = opType, Name = $"{opType}_{outputs.First(name => name.Length > 0)}" };
        node.Input.Add(inputs);
        node.Output.Add(outputs);
        node.Attribute.Add(attributes);
        return node;
    }

    private static AttributeProto Int(string name, long value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    private static AttributeProto Ints(string name, params long[] values)
    {
        var attribute = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        attribute.Ints.Add(values);
        return attribute;
    }

    private static TensorProto FloatTensor(string name, float[] values, params long[] dims) =>
        RawTensor(name, TensorProto.Types.DataType.Float, MemoryMarshal.AsBytes(values.AsSpan()), dims);

    private static TensorProto Int64Tensor(string name, params long[] values) =>
        RawTensor(name, TensorProto.Types.DataType.Int64, MemoryMarshal.AsBytes(values.AsSpan()), values.Length);

    /// <summary>raw_data is little-endian, which is what this x86-64/ARM64 process holds in memory.</summary>
    private static TensorProto RawTensor(string name, TensorProto.Types.DataType type, ReadOnlySpan<byte> data, params long[] dims)
    {
        var tensor = new TensorProto { Name = name, DataType = (int)type, RawData = ByteString.CopyFrom(data) };
        tensor.Dims.Add(dims);
        return tensor;
    }

    private static ValueInfoProto TensorValue(string name, TensorProto.Types.DataType type, params long[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (long dim in dims) shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = dim });
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = shape } },
        };
    }
}

/// <summary>The optional inputs and outputs of a <see cref="OnnxModelBuilder.SingleNode"/> model, T steps of B rows.</summary>
/// <param name="Steps">T.</param>
/// <param name="Batch">B.</param>
public sealed record SingleNodeSignature(int Steps, int Batch)
{
    /// <summary>Whether sequence_lens is an input (else every row runs all T steps).</summary>
    public bool SequenceLengths { get; init; }

    /// <summary>Whether initial_h (and initial_c) are inputs (else the state starts at zero).</summary>
    public bool InitialState { get; init; }

    /// <summary>Whether Y is an output.</summary>
    public bool SequenceOutput { get; init; } = true;

    /// <summary>Whether Y_h (and Y_c) are outputs.</summary>
    public bool FinalState { get; init; } = true;
}
