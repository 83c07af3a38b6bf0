using FusedRnn.IO;
using FusedRnn.IO.Onnx;
using FusedRnn.Onnx;
using FusedRnn.Tests.Support;
using Google.Protobuf;

namespace FusedRnn.Tests.Onnx;

/// <summary>
/// Graphs of several recurrent nodes that are not one stack, or whose layout ops cannot be run: each gets a typed
/// error naming the node, input or output at fault — never a network that computes something else.
/// </summary>
public class OnnxStackBadInputTests
{
    private const string File = "stack.onnx";

    /// <summary>
    /// The builder's chain of <paramref name="layers"/> LSTM nodes (LSTM_y0, LSTM_y1, …; X [4, 3, I]; for
    /// bidirectional ones Transpose_y{k}_transposed then Reshape between them).
    /// </summary>
    private static ModelProto Chain(bool bidirectional, int inputSize = 5, int layers = 2)
    {
        RnnWeights weights = RandomNetworks.Create(new RnnSpec(CellKind.Lstm, inputSize, 6, NumLayers: layers, Bidirectional: bidirectional), seed: 3);
        return ModelProto.Parser.ParseFrom(OnnxModelBuilder.Sequence(weights, steps: 4, batch: 3));
    }

    /// <summary>torch.onnx.export's two-layer bidirectional GRU with a stacked h0 input, its axes dynamic.</summary>
    private static ModelProto Exported() => ModelProto.Parser.ParseFrom(new ExportCase("gru_2layer_bidirectional_states").ModelBytes);

    private static NodeProto NodeNamed(ModelProto model, string name) => model.Graph.Node.Single(n => n.Name == name);

    private static NodeProto Recurrent(ModelProto model, int index) => model.Graph.Node.Where(n => n.OpType is "LSTM" or "GRU" or "RNN").ElementAt(index);

    private static NodeProto Int64Constant(string output, params long[] values)
    {
        var tensor = new TensorProto { DataType = (int)TensorProto.Types.DataType.Int64 };
        tensor.Dims.Add(values.Length);
        tensor.Int64Data.Add(values);
        var node = new NodeProto { Name = output, OpType = "Constant" };
        node.Output.Add(output);
        node.Attribute.Add(new AttributeProto { Name = "value", Type = AttributeProto.Types.AttributeType.Tensor, T = tensor });
        return node;
    }

    private static NodeProto Op(string type, string name, string[] inputs, params string[] outputs)
    {
        var node = new NodeProto { Name = name, OpType = type };
        node.Input.Add(inputs);
        node.Output.Add(outputs);
        return node;
    }

    /// <summary>Declares the graph input sequence_lens, [3] int32, as the builder's single nodes have it.</summary>
    private static void AddLengthsInput(ModelProto model)
    {
        var shape = new TensorShapeProto();
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = 3 });
        model.Graph.Input.Add(new ValueInfoProto
        {
            Name = OnnxModelBuilder.SequenceLengths,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Int32, Shape = shape } },
        });
    }

    private static void SetLengths(NodeProto node, string lengths)
    {
        while (node.Input.Count < 5) node.Input.Add("");
        node.Input[4] = lengths;
    }

    /// <summary>A way to break a model, the exception it must raise and a part of its message.</summary>
    private sealed record Mutation(string Name, Func<ModelProto> Model, Action<ModelProto> Apply, Type Exception, string Message);

    private static readonly Mutation[] Mutations =
    [
        new("two ops of other kinds", () => Chain(false), m =>
        {
            m.Graph.Node.Add(Op("Erf", "a", ["Y"], "r"));
            m.Graph.Node.Add(Op("Conv", "b", ["r", "r"], "s"));
        }, typeof(UnsupportedModelException), "Erf (node 'a'), Conv (node 'b')"),
        new("an inner layer's Y as an output", () => Chain(false), m => m.Graph.Output.Add(new ValueInfoProto { Name = "y0" }),
            typeof(UnsupportedModelException), "graph output 'y0' is neither LSTM node 'LSTM_Y''s Y"),
        new("a second stack on the same input", () => Chain(false, inputSize: 6), m => NodeNamed(m, "LSTM_Y").Input[0] = OnnxModelBuilder.Input,
            typeof(UnsupportedModelException), "LSTM node 'LSTM_y0' and LSTM node 'LSTM_Y' each read a graph input as X"),
        new("layers that disagree", () => Chain(false), m => OnnxProtos.SetAttribute(NodeNamed(m, "LSTM_Y"), new AttributeProto { Name = "clip", Type = AttributeProto.Types.AttributeType.Float, F = 3 }),
            typeof(UnsupportedModelException), "LSTM node 'LSTM_Y' differs from LSTM node 'LSTM_y0'"),
        new("a stack run in reverse", () => Chain(false), m =>
        {
            foreach (NodeProto node in m.Graph.Node.Where(n => n.OpType == "LSTM")) OnnxProtos.SetAttribute(node, OnnxProtos.String("direction", "reverse"));
        }, typeof(UnsupportedModelException), "a stack of reverse nodes is not a PyTorch network"),
        new("directions mixed into the features", () => Chain(true), m =>
        {
            AttributeProto perm = NodeNamed(m, "Transpose_y0_transposed").Attribute.Single();
            perm.Ints.Clear();
            perm.Ints.Add([0, 1, 2, 3]);
        }, typeof(UnsupportedModelException), "LSTM node 'LSTM_y1': its X is not LSTM node 'LSTM_y0''s Y as [T, B, D·H]"),
        new("nodes out of order", () => Chain(false), m =>
        {
            NodeProto first = m.Graph.Node[0];
            m.Graph.Node.RemoveAt(0);
            m.Graph.Node.Add(first);
        }, typeof(MalformedFileException), "reads 'y0', which no initializer, graph input or earlier node defines"),
        new("an initializer as an output", () => Chain(false), m => m.Graph.Output.Add(new ValueInfoProto { Name = "l0_W" }),
            typeof(UnsupportedModelException), "graph output 'l0_W' is a constant"),
        new("no outputs", () => Chain(false), m => m.Graph.Output.Clear(), typeof(MalformedFileException), "the graph has no outputs"),
        new("a ConstantOfShape larger than the file", () => Chain(false), m =>
        {
            m.Graph.Node.Insert(0, Int64Constant("huge_shape", 1L << 30));
            m.Graph.Node.Insert(1, Op("ConstantOfShape", "huge", ["huge_shape"], "zeros"));
        }, typeof(UnsupportedModelException), "ConstantOfShape node 'huge': the graph's layout ops compute more elements than its tensors hold"),
        new("a Reshape that overflows", () => Chain(false), m =>
        {
            m.Graph.Node.Insert(0, Int64Constant("big", int.MaxValue, int.MaxValue, int.MaxValue));
            m.Graph.Node.Insert(1, Op("Reshape", "overflow", ["l0_W", "big"], "reshaped"));
        }, typeof(MalformedFileException), "Reshape node 'overflow'"),
        new("an embedding of float ids", () => Chain(false), m => m.Graph.Node.Insert(0, Op("Gather", "embed", ["l0_W", OnnxModelBuilder.Input], "embedded")),
            typeof(MalformedFileException), "Gather node 'embed': its indices are of element type 1, not int32 or int64"),
        new("an X of another input size", () => Chain(false), m => m.Graph.Input[0].Type.TensorType.Shape.Dim[2].DimValue = 7,
            typeof(MalformedFileException), "LSTM node 'LSTM_y0': X is [4, 3, 7] but W's input_size is 5"),
        new("a Reshape fixed to one size of a dynamic x", () => Chain(false), m =>
        {
            foreach (TensorShapeProto.Types.Dimension dim in m.Graph.Input[0].Type.TensorType.Shape.Dim.Take(2)) dim.DimParam = "dynamic";
        }, typeof(MalformedFileException), "Reshape node 'Reshape_x1': cannot reshape"),
        new("an x larger than memory", () => Chain(false), m =>
        {
            foreach (TensorShapeProto.Types.Dimension dim in m.Graph.Input[0].Type.TensorType.Shape.Dim.Take(2)) dim.DimValue = int.MaxValue;
        }, typeof(UnsupportedModelException), "graph input 'X': the graph's layout ops compute more elements than its tensors hold"),
        new("a Y larger than memory", () => Chain(false, inputSize: 1), m =>
        {
            var dims = m.Graph.Input[0].Type.TensorType.Shape.Dim;
            (dims[0].DimValue, dims[1].DimValue) = (1 << 24, 1);
        }, typeof(UnsupportedModelException), "LSTM node 'LSTM_y0': the graph's layout ops compute more elements than its tensors hold"),
        new("lengths for one layer only", () => Chain(false), m =>
        {
            AddLengthsInput(m);
            SetLengths(NodeNamed(m, "LSTM_Y"), OnnxModelBuilder.SequenceLengths);
        }, typeof(UnsupportedModelException), "LSTM node 'LSTM_Y' has sequence_lens but LSTM node 'LSTM_y0' has none"),
        new("stored lengths and input lengths", () => Chain(false), m =>
        {
            AddLengthsInput(m);
            var stored = new TensorProto { Name = "stored_lengths", DataType = (int)TensorProto.Types.DataType.Int32 };
            stored.Dims.Add(3);
            stored.Int32Data.Add([4, 4, 4]);
            m.Graph.Initializer.Add(stored);
            SetLengths(NodeNamed(m, "LSTM_y0"), "stored_lengths");
            SetLengths(NodeNamed(m, "LSTM_Y"), OnnxModelBuilder.SequenceLengths);
        }, typeof(UnsupportedModelException), "LSTM node 'LSTM_Y': its sequence_lens differs from LSTM node 'LSTM_y0''s"),
        new("a stored h0 for one layer only", () => Chain(false), m =>
        {
            m.Graph.Initializer.Add(OnnxProtos.FloatInitializer("stored_h", FloatTensor.Zeros(1, 3, 6)));
            m.Graph.Initializer[^1].FloatData[0] = 1;
            NodeProto node = NodeNamed(m, "LSTM_Y");
            while (node.Input.Count < 6) node.Input.Add("");
            node.Input[5] = "stored_h";
        }, typeof(UnsupportedModelException), "the nodes' initial_h are not of one kind"),
        new("h0's rows in the wrong order", Exported, m =>
        {
            // The first layer's Slice reads rows 2..4, the second's rows 0..2.
            var slices = m.Graph.Node.Where(n => n.OpType == "Slice").ToList();
            void SetConstant(string output, long value)
            {
                NodeProto constant = m.Graph.Node.Single(n => n.Output.Contains(output));
                constant.Attribute.Clear();
                constant.Attribute.Add(Int64Constant(output, value).Attribute);
            }

            SetConstant(slices[0].Input[1], 2);
            SetConstant(slices[0].Input[2], 4);
            SetConstant(slices[1].Input[1], 0);
            SetConstant(slices[1].Input[2], 2);
        }, typeof(UnsupportedModelException), "graph input 'h0' is not every node's initial_h stacked"),
        new("h0 with rows no layer reads", Exported, m => m.Graph.Input.Single(i => i.Name == "h0").Type.TensorType.Shape.Dim[0].DimValue = 6,
            typeof(UnsupportedModelException), "graph input 'h0' is not every node's initial_h stacked as [L·D, B, H] or [B, L·D, H]"),
        new("a batch the states contradict", Exported, m =>
        {
            m.Graph.Input.Single(i => i.Name == "x").Type.TensorType.Shape.Dim[1].DimValue = 3;
            m.Graph.Input.Single(i => i.Name == "h0").Type.TensorType.Shape.Dim[1].DimValue = 2;
        }, typeof(MalformedFileException), "initial_h is [2, 2, 4]; with X"),
        new("only the last layer's h", Exported, m =>
        {
            NodeProto concat = m.Graph.Node.Single(n => n.OpType == "Concat");
            concat.Input.RemoveAt(0);
        }, typeof(UnsupportedModelException), "graph output 'hn' is neither"),
    ];

    public static TheoryData<string> Cases() => [.. Mutations.Select(mutation => mutation.Name)];

    [Theory]
    [MemberData(nameof(Cases))]
    public void IsRefusedNamingWhatIsWrong(string name)
    {
        Mutation mutation = Mutations.Single(m => m.Name == name);
        ModelProto model = mutation.Model();
        mutation.Apply(model);
        Exception error = Assert.Throws(mutation.Exception, () => OnnxRnnModel.Parse(model.ToByteArray(), File));
        Assert.StartsWith($"{File}: ", error.Message);
        Assert.Contains(mutation.Message, error.Message);
    }

    [Fact]
    public void TheUnbrokenModelsRead()
    {
        Assert.Equal(2, OnnxRnnModel.Parse(Chain(false).ToByteArray()).Weights.Spec.NumLayers);
        Assert.Equal(2, OnnxRnnModel.Parse(Chain(true).ToByteArray()).Weights.Spec.NumLayers);
        Assert.Equal(2, OnnxRnnModel.Parse(Exported().ToByteArray()).Weights.Spec.NumLayers);
    }

    /// <summary>
    /// Every prefix of an exported stack is refused with a typed error, or reads as a network of the same spec (a cut
    /// after the graph leaves a complete one).
    /// </summary>
    [Fact]
    public void EveryTruncationGetsATypedErrorOrTheSameNetwork()
    {
        byte[] bytes = Exported().ToByteArray();
        RnnSpec whole = OnnxRnnModel.Parse(bytes).Weights.Spec;
        for (int length = 0; length < bytes.Length; length++)
        {
            Exception? error = Record.Exception(() => Assert.Equal(whole, OnnxRnnModel.Parse(bytes[..length], File).Weights.Spec));
            Assert.True(error is null or MalformedFileException or UnsupportedModelException, $"{length} bytes: {error?.GetType().Name}: {error?.Message}");
        }
    }

    /// <summary>
    /// torch.onnx.export's three-layer RNN (x dynamic) with a Slice of the time axis, ending at <paramref name="end"/>,
    /// between its first two layers.
    /// </summary>
    private static ModelProto WithStepsSliced(long end)
    {
        ModelProto model = ModelProto.Parser.ParseFrom(new ExportCase("rnn_3layer_relu_batch_first").ModelBytes);
        NodeProto second = Recurrent(model, 1);
        string layerInput = second.Input[0];
        int at = model.Graph.Node.IndexOf(second);
        model.Graph.Node.Insert(at, Int64Constant("slice_starts", 0));
        model.Graph.Node.Insert(at + 1, Int64Constant("slice_ends", end));
        model.Graph.Node.Insert(at + 2, Int64Constant("slice_axes", 0));
        model.Graph.Node.Insert(at + 3, Op("Slice", "steps", [layerInput, "slice_starts", "slice_ends", "slice_axes"], "sliced"));
        second.Input[0] = "sliced";
        return model;
    }

    /// <summary>
    /// Every layer reading one graph input as sequence_lens is the stack's lengths: Y as ONNX Runtime computes it from
    /// the same file, rows shorter than T included.
    /// </summary>
    [Fact]
    public void OneLengthsInputForEveryLayerIsTheStacksLengths()
    {
        ModelProto model = Chain(false);
        AddLengthsInput(model);
        foreach (NodeProto node in model.Graph.Node.Where(n => n.OpType == "LSTM")) SetLengths(node, OnnxModelBuilder.SequenceLengths);
        byte[] bytes = model.ToByteArray();
        OnnxRnnModel read = OnnxRnnModel.Parse(bytes);
        Assert.Equal(OnnxModelBuilder.SequenceLengths, read.Inputs.SequenceLengths);

        var random = new Random(5);
        var x = new FloatTensor([.. Enumerable.Range(0, 4 * 3 * 5).Select(_ => (float)(random.NextDouble() - 0.5))], 4, 3, 5);
        int[] lengths = [4, 2, 1];
        float[] onnxRuntime = OnnxRuntimePeer.RunModel(bytes, new Dictionary<string, FloatTensor> { [OnnxModelBuilder.Input] = x }, lengths,
            OnnxModelBuilder.SequenceLengths, [OnnxModelBuilder.Output])[0];
        using OnnxRecurrentModule module = read.CreateModule();
        Tolerance.AssertClose(onnxRuntime, module.Forward(x, lengths).Y.Span, Tolerance.ParityFloat32, "Y with lengths 4, 2, 1");
    }

    [Fact]
    public void AnOpenEndedSliceBetweenLayersIsTheWholeAxis() =>
        Assert.Equal(3, OnnxRnnModel.Parse(WithStepsSliced(long.MaxValue).ToByteArray()).Weights.Spec.NumLayers);

    /// <summary>
    /// A Slice of the steps with a fixed end cuts some lengths of x: whatever the end, the graph is refused — by the
    /// probe whose sizes it cuts, and for an end that equals the first probe's length, by the second probe.
    /// </summary>
    [Fact]
    public void ASliceThatCutsSomeLengthsIsRefused()
    {
        var messages = new List<string>();
        for (long end = 1; end <= 48; end++)
        {
            Exception error = Assert.ThrowsAny<Exception>(() => OnnxRnnModel.Parse(WithStepsSliced(end).ToByteArray(), File));
            Assert.True(error is UnsupportedModelException, $"end {end}: {error.GetType().Name}: {error.Message}");
            messages.Add(error.Message);
        }

        Assert.Contains(messages, message => message.Contains("hold for some sizes of its inputs only", StringComparison.Ordinal));
        Assert.Contains(messages, message => message.Contains("Slice node 'steps': starts[0] = 0 or ends[0] = 48 lies outside axis 0", StringComparison.Ordinal));
    }

    [Fact]
    public void RunningRefusesStatesThatAreNotStacked()
    {
        using OnnxRecurrentModule module = OnnxRnnModel.Parse(Exported().ToByteArray()).CreateModule();
        var x = FloatTensor.Zeros(3, 2, 3);
        Assert.Throws<ShapeMismatchException>(() => module.Forward(x, initialHidden: FloatTensor.Zeros(2, 2, 4)));
        Assert.Throws<ShapeMismatchException>(() => module.ForwardInPyTorchLayout(x, batchFirst: false, h0: FloatTensor.Zeros(4, 3, 4)));
        Assert.Equal([4, 2, 4], module.Forward(x, initialHidden: FloatTensor.Zeros(4, 2, 4)).FinalHidden.Shape.ToArray());
    }
}
