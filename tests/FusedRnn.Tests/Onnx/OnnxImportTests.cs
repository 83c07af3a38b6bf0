using FusedRnn.IO;
using FusedRnn.IO.Onnx;
using FusedRnn.Onnx;
using FusedRnn.Tests.Support;
using Google.Protobuf;

namespace FusedRnn.Tests.Onnx;

/// <summary>
/// <see cref="OnnxRnnModel"/> on models that exercise what ONNX's node tests do not: every activation in every role
/// with its α and β, clip, input_forget, peepholes, both linear_before_reset, both directions and the reverse one,
/// sequence_lens shorter than T, initial states, Y_c (<see cref="OnnxCases.Nodes"/>, written by
/// <see cref="OnnxModelBuilder"/>); each read back and run on ONNX's arrays against ONNX Runtime on the same file.
/// </summary>
public class OnnxImportTests
{
    public static TheoryData<string, string> NodeCasesAndDirections()
    {
        var data = new TheoryData<string, string>();
        foreach (ParityCase test in OnnxCases.Nodes)
        {
            data.Add(test.Name, "as written");
            if (!test.Spec.Bidirectional) data.Add(test.Name, "reverse");
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(NodeCasesAndDirections))]
    public void AgreesWithOnnxRuntimeOnTheSameFile(string caseName, string direction)
    {
        ParityCase test = OnnxCases.Get(caseName);
        (RnnWeights weights, FloatTensor x, FloatTensor? h0, FloatTensor? c0) = test.Inputs();
        var signature = new SingleNodeSignature(test.SeqLen, test.Batch) { SequenceLengths = test.Lengths is not null, InitialState = h0 is not null };
        byte[] bytes = OnnxModelBuilder.SingleNode(weights, signature);
        if (direction == "reverse") bytes = OnnxProtos.WithAttribute(bytes, OnnxProtos.String("direction", "reverse"));

        var inputs = new Dictionary<string, FloatTensor> { [OnnxModelBuilder.Input] = x };
        if (h0 is not null) inputs[OnnxModelBuilder.InitialHidden] = h0;
        if (c0 is not null) inputs[OnnxModelBuilder.InitialCell] = c0;
        bool lstm = test.Spec.Kind == CellKind.Lstm;
        string[] names = lstm ? [OnnxModelBuilder.Output, OnnxModelBuilder.FinalHidden, OnnxModelBuilder.FinalCell] : [OnnxModelBuilder.Output, OnnxModelBuilder.FinalHidden];
        float[][] expected = OnnxRuntimePeer.RunModel(bytes, inputs, test.Lengths, OnnxModelBuilder.SequenceLengths, names);

        OnnxRnnModel model = OnnxRnnModel.Parse(bytes, caseName);
        Assert.Equal(direction == "reverse" ? OnnxDirection.Reverse : test.Spec.Bidirectional ? OnnxDirection.Bidirectional : OnnxDirection.Forward, model.Direction);
        Assert.Equal(test.Spec.Cell.Clip, model.Weights.Spec.Cell.Clip);
        Assert.Equal(test.Spec.Cell.Peepholes, model.Weights.Spec.Cell.Peepholes);
        foreach (BackendUnderTest backend in BackendUnderTest.All)
        {
            using OnnxRecurrentModule module = model.CreateModule(backend.In(RnnPrecision.Float32));
            OnnxOutputs actual = module.Forward(x, test.Lengths, h0, c0);
            string where = $"{backend.Name}, {direction}, {test}";
            Tolerance.AssertClose(expected[0], actual.Y.Span, Tolerance.ParityFloat32, $"Y, {where}");
            Tolerance.AssertClose(expected[1], actual.FinalHidden.Span, Tolerance.ParityFloat32, $"Y_h, {where}");
            if (lstm) Tolerance.AssertClose(expected[2], actual.FinalCell!.Span, Tolerance.ParityFloat32, $"Y_c, {where}");
            AssertPyTorchLayoutIsTheSame(module, actual, x, test.Lengths, h0, c0, where);
        }
    }

    /// <summary>
    /// The same nodes with layout 1 (X <c>[B, T, I]</c>, Y <c>[B, T, D, H]</c>, states <c>[B, D, H]</c>), which ONNX's
    /// node tests have only at T = 1 and ONNX Runtime does not run ("Batchwise recurrent operations (layout == 1) are
    /// not supported"): read back and run on batch-major arrays, against ONNX Runtime's layout-0 answer transposed.
    /// </summary>
    [Theory]
    [MemberData(nameof(NodeCasesAndDirections))]
    public void Layout1IsLayout0Transposed(string caseName, string direction)
    {
        ParityCase test = OnnxCases.Get(caseName);
        (RnnWeights weights, FloatTensor x, FloatTensor? h0, FloatTensor? c0) = test.Inputs();
        var signature = new SingleNodeSignature(test.SeqLen, test.Batch) { SequenceLengths = test.Lengths is not null, InitialState = h0 is not null };
        ModelProto model = ModelProto.Parser.ParseFrom(OnnxModelBuilder.SingleNode(weights, signature));
        NodeProto node = model.Graph.Node.Single();
        if (direction == "reverse") OnnxProtos.SetAttribute(node, OnnxProtos.String("direction", "reverse"));
        var inputs = new Dictionary<string, FloatTensor> { [OnnxModelBuilder.Input] = x };
        if (h0 is not null) inputs[OnnxModelBuilder.InitialHidden] = h0;
        if (c0 is not null) inputs[OnnxModelBuilder.InitialCell] = c0;
        bool lstm = test.Spec.Kind == CellKind.Lstm;
        string[] names = lstm ? [OnnxModelBuilder.Output, OnnxModelBuilder.FinalHidden, OnnxModelBuilder.FinalCell] : [OnnxModelBuilder.Output, OnnxModelBuilder.FinalHidden];
        float[][] layout0 = OnnxRuntimePeer.RunModel(model.ToByteArray(), inputs, test.Lengths, OnnxModelBuilder.SequenceLengths, names);

        node.Attribute.Add(OnnxProtos.Int("layout", 1));
        DeclareLayout1(model.Graph);
        OnnxRnnModel read = OnnxRnnModel.Parse(model.ToByteArray(), caseName);
        Assert.Equal(1, read.Layout);
        using OnnxRecurrentModule module = read.CreateModule(new RnnOptions { Backend = RnnBackends.Managed });
        OnnxOutputs actual = module.Forward(BatchMajor(x), test.Lengths, h0 is null ? null : BatchMajor(h0), c0 is null ? null : BatchMajor(c0));

        int steps = test.SeqLen, batch = test.Batch, directions = test.Spec.Directions, hidden = test.Spec.HiddenSize;
        Assert.Equal([batch, steps, directions, hidden], actual.Y.Shape.ToArray());
        Assert.Equal([batch, directions, hidden], actual.FinalHidden.Shape.ToArray());
        var y = new float[layout0[0].Length];
        for (int t = 0; t < steps; t++)
            for (int d = 0; d < directions; d++)
                for (int b = 0; b < batch; b++) layout0[0].AsSpan((((t * directions) + d) * batch + b) * hidden, hidden).CopyTo(y.AsSpan((((b * steps) + t) * directions + d) * hidden));
        string where = $"layout 1, {direction}, {test}";
        Tolerance.AssertClose(y, actual.Y.Span, Tolerance.ParityFloat32, $"Y, {where}");
        Tolerance.AssertClose(BatchMajor(new FloatTensor(layout0[1], directions, batch, hidden)).Span, actual.FinalHidden.Span, Tolerance.ParityFloat32, $"Y_h, {where}");
        if (lstm) Tolerance.AssertClose(BatchMajor(new FloatTensor(layout0[2], directions, batch, hidden)).Span, actual.FinalCell!.Span, Tolerance.ParityFloat32, $"Y_c, {where}");
    }

    /// <summary>The builder's layout-0 shapes of the graph's inputs and outputs as layout 1 has them: B first.</summary>
    private static void DeclareLayout1(GraphProto graph)
    {
        foreach (ValueInfoProto value in graph.Input.Concat(graph.Output))
        {
            if (value.Name == OnnxModelBuilder.SequenceLengths) continue;
            var dims = value.Type.TensorType.Shape.Dim;
            // X [T, B, I] and states [D, B, H] swap their first two axes; Y [T, D, B, H] becomes [B, T, D, H].
            TensorShapeProto.Types.Dimension batch = dims[value.Name == OnnxModelBuilder.Output ? 2 : 1];
            dims.Remove(batch);
            dims.Insert(0, batch);
        }
    }

    /// <summary>
    /// PyTorch's layouts hold the same numbers: y[t, b, d·H + h] = Y[t, d, b, h], time- or batch-major, h_n = Y_h and
    /// c_n = Y_c (layout 0).
    /// </summary>
    private static void AssertPyTorchLayoutIsTheSame(OnnxRecurrentModule module, OnnxOutputs onnx, FloatTensor x, int[]? lengths, FloatTensor? h0, FloatTensor? c0, string where)
    {
        int seqLen = onnx.Y.Dim(0), directions = onnx.Y.Dim(1), batch = onnx.Y.Dim(2), hidden = onnx.Y.Dim(3);
        SequenceOutput timeMajor = module.ForwardInPyTorchLayout(x, batchFirst: false, lengths, h0, c0);
        SequenceOutput batchMajor = module.ForwardInPyTorchLayout(BatchMajor(x), batchFirst: true, lengths, h0, c0);
        Assert.Equal([seqLen, batch, directions * hidden], timeMajor.Output.Shape.ToArray());
        Assert.Equal([batch, seqLen, directions * hidden], batchMajor.Output.Shape.ToArray());
        for (int t = 0; t < seqLen; t++)
            for (int d = 0; d < directions; d++)
                for (int b = 0; b < batch; b++)
                    for (int h = 0; h < hidden; h++)
                    {
                        float expected = onnx.Y[t, d, b, h];
                        Assert.True(expected.Equals(timeMajor.Output[t, b, (d * hidden) + h]), $"time-major y[{t}, {b}, {(d * hidden) + h}], {where}");
                        Assert.True(expected.Equals(batchMajor.Output[b, t, (d * hidden) + h]), $"batch-major y[{b}, {t}, {(d * hidden) + h}], {where}");
                    }

        Assert.Equal(onnx.FinalHidden.ToArray(), timeMajor.HiddenState.ToArray());
        Assert.Equal(onnx.FinalHidden.ToArray(), batchMajor.HiddenState.ToArray());
        if (onnx.FinalCell is not null) Assert.Equal(onnx.FinalCell.ToArray(), batchMajor.CellState!.ToArray());
    }

    /// <summary><c>[A, B, F]</c> → <c>[B, A, F]</c>: a time-major sequence as batch-major, or a state <c>[D, B, H]</c> as <c>[B, D, H]</c>.</summary>
    internal static FloatTensor BatchMajor(FloatTensor x)
    {
        int steps = x.Dim(0), batch = x.Dim(1), features = x.Dim(2);
        var data = new float[x.Length];
        for (int t = 0; t < steps; t++)
            for (int b = 0; b < batch; b++) x.Span.Slice(((t * batch) + b) * features, features).CopyTo(data.AsSpan(((b * steps) + t) * features, features));
        return new FloatTensor(data, batch, steps, features);
    }

    [Fact]
    public void TheWeightsComeBackInPyTorchsLayout()
    {
        foreach (ParityCase test in OnnxCases.Nodes)
        {
            (RnnWeights weights, _, _, _) = test.Inputs();
            RnnWeights read = OnnxRnnModel.Parse(OnnxModelBuilder.SingleNode(weights, new SingleNodeSignature(test.SeqLen, test.Batch))).Weights;
            RnnSpec expectedSpec = weights.Spec, actualSpec = read.Spec;
            Assert.Equal((expectedSpec.InputSize, expectedSpec.HiddenSize, expectedSpec.Bidirectional, expectedSpec.Bias), (actualSpec.InputSize, actualSpec.HiddenSize, actualSpec.Bidirectional, actualSpec.Bias));
            Assert.Equal(expectedSpec.Cell with { Forward = new(), Reverse = new() }, actualSpec.Cell with { Forward = new(), Reverse = new() });
            Assert.Equal(EffectiveActivations(expectedSpec), EffectiveActivations(actualSpec));
            for (int direction = 0; direction < expectedSpec.Directions; direction++)
            {
                LayerWeights expected = weights[0, direction], actual = read[0, direction];
                Assert.Equal(expected.WeightIh, actual.WeightIh);
                Assert.Equal(expected.WeightHh, actual.WeightHh);
                Assert.Equal(expected.BiasIh, actual.BiasIh);
                Assert.Equal(expected.BiasHh, actual.BiasHh);
                Assert.Equal(expected.WeightP, actual.WeightP);
            }
        }
    }

    /// <summary>
    /// What each role of each direction computes: PyTorch's activation where a role is null (an RNN's by its kind), and
    /// identity as Affine(1, 0), the form ONNX has for it.
    /// </summary>
    private static Activation[] EffectiveActivations(RnnSpec spec)
    {
        Activation Resolve(Activation? given, Activation pytorch) =>
            given is { Kind: ActivationKind.Identity } ? Activation.Affine(1, 0) : given ?? pytorch;
        return [.. new[] { spec.Cell.Forward, spec.Cell.Reverse }.Take(spec.Directions).SelectMany(roles => spec.Kind switch
        {
            CellKind.Lstm => new[] { Resolve(roles.Gates, Activation.Sigmoid), Resolve(roles.Candidate, Activation.Tanh), Resolve(roles.Output, Activation.Tanh) },
            CellKind.Gru => [Resolve(roles.Gates, Activation.Sigmoid), Resolve(roles.Candidate, Activation.Tanh)],
            _ => [Resolve(roles.Gates, spec.Kind == CellKind.RnnRelu ? Activation.Relu : Activation.Tanh)],
        })];
    }

    [Fact]
    public void StoredInitialStateAndLengthsAreUsedWhenNoneAreGiven()
    {
        ParityCase test = OnnxCases.Nodes.First(c => c.Spec.Kind == CellKind.Lstm && c.Lengths is not null && c.InitialState);
        (RnnWeights weights, FloatTensor x, FloatTensor? h0, FloatTensor? c0) = test.Inputs();
        byte[] bytes = OnnxModelBuilder.SingleNode(weights, new SingleNodeSignature(test.SeqLen, test.Batch) { SequenceLengths = true, InitialState = true });
        ModelProto model = ModelProto.Parser.ParseFrom(bytes);
        model.Graph.Initializer.Add(OnnxProtos.FloatInitializer(OnnxModelBuilder.InitialHidden, h0!));
        model.Graph.Initializer.Add(OnnxProtos.FloatInitializer(OnnxModelBuilder.InitialCell, c0!));
        var lengths = new TensorProto { Name = OnnxModelBuilder.SequenceLengths, DataType = (int)TensorProto.Types.DataType.Int64 };
        lengths.Dims.Add(test.Batch);
        lengths.Int64Data.Add(test.Lengths!.Select(length => (long)length));
        model.Graph.Initializer.Add(lengths);

        OnnxRnnModel stored = OnnxRnnModel.Parse(model.ToByteArray());
        Assert.Equal(test.Lengths, stored.SequenceLengths);
        using OnnxRecurrentModule module = stored.CreateModule();
        OnnxOutputs fromStored = module.Forward(x);
        OnnxOutputs given = module.Forward(x, test.Lengths, h0, c0);
        Assert.Equal(given.Y.ToArray(), fromStored.Y.ToArray());
        Assert.Equal(given.FinalCell!.ToArray(), fromStored.FinalCell!.ToArray());
    }
}
