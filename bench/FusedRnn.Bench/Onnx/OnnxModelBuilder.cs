using System.Runtime.InteropServices;
using FusedRnn.Cli.Benchmarking;
using Google.Protobuf;

namespace FusedRnn.Bench.Onnx;

/// <summary>
/// Writes a workload as an ONNX model of LSTM/GRU nodes with the same weights, as PyTorch's exporter would:
/// one node per layer, layers chained by Transpose + Reshape from ONNX's <c>[T, D, B, H]</c> to PyTorch's
/// <c>[T, B, D·H]</c>.
/// </summary>
internal static class OnnxModelBuilder
{
    /// <summary>ONNX 1.9's opset, where LSTM-14 and GRU-14 are current; IR version 7 carries it.</summary>
    const long Opset = 14;
    const long IrVersion = 7;

    public const string Input = "X";
    public const string InitialHidden = "initial_h";
    public const string InitialCell = "initial_c";
    public const string FinalHidden = "Y_h";
    public const string FinalCell = "Y_c";
    public const string Output = "Y";

    /// <summary>
    /// A step workload: X <c>[1, B, I]</c>, initial_h (and initial_c) <c>[1, B, H]</c> in; Y_h (and Y_c) out.
    /// A sequence workload: X <c>[T, B, I]</c> in, zero initial state; Y out as <c>[T, B, D·H]</c>
    /// (<c>[T, 1, B, H]</c>, the same memory, when unidirectional).
    /// </summary>
    public static byte[] Build(Workload workload, RnnWeights weights)
    {
        RnnSpec spec = workload.Spec;
        int batch = workload.Batch, steps = workload.Steps, hidden = spec.HiddenSize;
        var graph = new GraphProto { Name = workload.Name };
        graph.Input.Add(TensorValue(Input, steps, batch, spec.InputSize));

        if (workload.Mode == WorkloadMode.Step)
        {
            bool hasCell = spec.Kind.HasCellState();
            AddLayer(graph, weights, layer: 0, Input,
                [InitialHidden, .. hasCell ? new[] { InitialCell } : []],
                ["", FinalHidden, .. hasCell ? new[] { FinalCell } : []]);
            graph.Input.Add(TensorValue(InitialHidden, 1, batch, hidden));
            graph.Output.Add(TensorValue(FinalHidden, 1, batch, hidden));
            if (hasCell)
            {
                graph.Input.Add(TensorValue(InitialCell, 1, batch, hidden));
                graph.Output.Add(TensorValue(FinalCell, 1, batch, hidden));
            }
        }
        else
        {
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
                ? TensorValue(Output, steps, 1, batch, hidden)
                : TensorValue(Output, steps, batch, spec.OutputFeatures));
        }

        var model = new ModelProto { IrVersion = IrVersion, ProducerName = "FusedRnn.Bench", Graph = graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = Opset });
        return model.ToByteArray();
    }

    /// <summary>One LSTM or GRU node for every direction of <paramref name="layer"/>, with W, R and B as initializers.</summary>
    static void AddLayer(GraphProto graph, RnnWeights weights, int layer, string input, string[] initialState, string[] outputs)
    {
        RnnSpec spec = weights.Spec;
        int hidden = spec.HiddenSize, gateRows = spec.GateCount * hidden, inputSize = spec.LayerInputSize(layer);
        int[] order = OnnxGateOrder(spec.Kind);
        var w = new List<float>();
        var r = new List<float>();
        var b = new List<float>();
        for (int direction = 0; direction < spec.Directions; direction++)
        {
            LayerWeights parameters = weights[layer, direction];
            w.AddRange(ReorderGates(parameters.WeightIh, order, hidden, inputSize));
            r.AddRange(ReorderGates(parameters.WeightHh, order, hidden, hidden));
            // ONNX's B is [Wb, Rb] per direction: PyTorch's bias_ih then bias_hh.
            b.AddRange(ReorderGates(parameters.BiasIh!, order, hidden, 1));
            b.AddRange(ReorderGates(parameters.BiasHh!, order, hidden, 1));
        }

        string prefix = $"l{layer}_";
        graph.Initializer.Add(FloatTensor(prefix + "W", [.. w], spec.Directions, gateRows, inputSize));
        graph.Initializer.Add(FloatTensor(prefix + "R", [.. r], spec.Directions, gateRows, hidden));
        graph.Initializer.Add(FloatTensor(prefix + "B", [.. b], spec.Directions, 2 * gateRows));

        // Inputs: X, W, R, B, sequence_lens (absent: every row runs all T steps), initial_h, initial_c.
        string[] nodeInputs = initialState.Length == 0
            ? [input, prefix + "W", prefix + "R", prefix + "B"]
            : [input, prefix + "W", prefix + "R", prefix + "B", "", .. initialState];
        var attributes = new List<AttributeProto>
        {
            Int("hidden_size", hidden),
            new() { Name = "direction", Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8(spec.Bidirectional ? "bidirectional" : "forward") },
        };
        // PyTorch applies the reset gate after the recurrent product: n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)).
        if (spec.Kind == CellKind.Gru) attributes.Add(Int("linear_before_reset", 1));
        graph.Node.Add(Node(spec.Kind == CellKind.Lstm ? "LSTM" : "GRU", nodeInputs, outputs, [.. attributes]));
    }

    /// <summary>For each ONNX gate block, the PyTorch block it comes from.</summary>
    static int[] OnnxGateOrder(CellKind kind) => kind switch
    {
        CellKind.Lstm => [0, 3, 1, 2], // ONNX i, o, f, c from PyTorch i, f, g, o
        CellKind.Gru => [1, 0, 2], // ONNX z, r, h from PyTorch r, z, n
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "the benchmark's ONNX peer covers LSTM and GRU"),
    };

    /// <summary>Stacks the <c>[H, columns]</c> gate blocks of <paramref name="pytorch"/> in ONNX's order.</summary>
    static float[] ReorderGates(float[] pytorch, int[] order, int hidden, int columns)
    {
        int block = hidden * columns;
        var onnx = new float[pytorch.Length];
        for (int gate = 0; gate < order.Length; gate++)
            pytorch.AsSpan(order[gate] * block, block).CopyTo(onnx.AsSpan(gate * block, block));
        return onnx;
    }

    static NodeProto Node(string opType, string[] inputs, string[] outputs, params AttributeProto[] attributes)
    {
        var node = new NodeProto { OpType = opType, Name = $"{opType}_{outputs.First(name => name.Length > 0)}" };
        node.Input.Add(inputs);
        node.Output.Add(outputs);
        node.Attribute.Add(attributes);
        return node;
    }

    static AttributeProto Int(string name, long value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    static AttributeProto Ints(string name, params long[] values)
    {
        var attribute = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        attribute.Ints.Add(values);
        return attribute;
    }

    static TensorProto FloatTensor(string name, float[] values, params long[] dims) =>
        RawTensor(name, TensorProto.Types.DataType.Float, MemoryMarshal.AsBytes(values.AsSpan()), dims);

    static TensorProto Int64Tensor(string name, params long[] values) =>
        RawTensor(name, TensorProto.Types.DataType.Int64, MemoryMarshal.AsBytes(values.AsSpan()), values.Length);

    /// <summary>raw_data is little-endian, which is what this x86-64/ARM64 process holds in memory.</summary>
    static TensorProto RawTensor(string name, TensorProto.Types.DataType type, ReadOnlySpan<byte> data, params long[] dims)
    {
        var tensor = new TensorProto { Name = name, DataType = (int)type, RawData = ByteString.CopyFrom(data) };
        tensor.Dims.Add(dims);
        return tensor;
    }

    static ValueInfoProto TensorValue(string name, params long[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (long dim in dims) shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = dim });
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = shape } },
        };
    }
}
