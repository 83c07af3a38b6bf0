using FusedRnn.IO;
using FusedRnn.IO.Onnx;
using FusedRnn.Onnx;
using FusedRnn.Tests.Support;
using Google.Protobuf;

namespace FusedRnn.Tests.Onnx;

/// <summary>
/// Malformed, hostile and unsupported ONNX models: each gets a typed error naming the file, the node and the
/// attribute or tensor at fault — never a crash or a model that computes something else.
/// </summary>
public class OnnxBadInputTests
{
    private const string File = "bad.onnx";

    /// <summary>A valid bidirectional LSTM node with B and P, as OnnxModelBuilder writes it: l0_W, l0_R, l0_B, l0_P.</summary>
    private static ModelProto ValidModel()
    {
        var spec = new RnnSpec(CellKind.Lstm, 3, 4, Bidirectional: true) { Cell = new CellVariant { Peepholes = true } };
        return ModelProto.Parser.ParseFrom(OnnxModelBuilder.SingleNode(RandomNetworks.Create(spec, 1), new SingleNodeSignature(2, 1) { SequenceLengths = true }));
    }

    private static NodeProto Node(ModelProto model) => model.Graph.Node.Single();

    private static TensorProto Initializer(ModelProto model, string name) => model.Graph.Initializer.Single(t => t.Name == name);

    private static void SetAttribute(ModelProto model, AttributeProto attribute) => OnnxProtos.SetAttribute(Node(model), attribute);

    /// <summary>A change to the valid model, the exception it must raise and a part of its message.</summary>
    private sealed record Mutation(string Name, Action<ModelProto> Apply, Type Exception, string Message);

    private static readonly Mutation[] Mutations =
    [
        new("no graph", m => m.Graph = null, typeof(MalformedFileException), "the model has no graph"),
        new("no nodes", m => m.Graph.Node.Clear(), typeof(MalformedFileException), "the graph has no nodes"),
        new("another op", m => m.Graph.Node.Add(new NodeProto { Name = "extra", OpType = "Conv" }), typeof(UnsupportedModelException), "Conv (node 'extra')"),
        new("two nodes writing one output", m => m.Graph.Node.Add(Node(m).Clone()), typeof(MalformedFileException), "produces 'Y', which an initializer, a graph input or another node defines too"),
        new("an op of another domain", m => Node(m).Domain = "com.example", typeof(UnsupportedModelException), "com.example.LSTM"),
        new("W nowhere", m => m.Graph.Initializer.Remove(Initializer(m, "l0_W")), typeof(MalformedFileException), "reads 'l0_W', which no initializer, graph input or earlier node defines"),
        new("W a graph input", m =>
        {
            m.Graph.Initializer.Remove(Initializer(m, "l0_W"));
            m.Graph.Input.Add(new ValueInfoProto { Name = "l0_W" });
        }, typeof(UnsupportedModelException), "W ('l0_W') is computed from the graph's inputs or their shapes; the weights must be stored in the model"),
        new("no R", m => Node(m).Input[2] = "", typeof(MalformedFileException), "has no R"),
        new("no X", m => Node(m).Input[0] = "", typeof(MalformedFileException), "has no input X"),
        new("W of rank 2", m => { TensorProto w = Initializer(m, "l0_W"); w.Dims.Clear(); w.Dims.Add([2, 48]); }, typeof(MalformedFileException), "W is [2, 48]"),
        new("W for one direction", m => { TensorProto w = Initializer(m, "l0_W"); w.Dims[0] = 1; w.Dims[1] = 32; }, typeof(MalformedFileException), "it must be [2, 4·hidden_size, input_size]"),
        new("R of another size", m => { TensorProto r = Initializer(m, "l0_R"); r.Dims[2] = 2; r.Dims[1] = 32; }, typeof(MalformedFileException), "R is [2, 32, 2]; it must be [2, 16, 4]"),
        new("B too short", m => { TensorProto b = Initializer(m, "l0_B"); b.Dims[1] = 16; b.FloatData.Clear(); b.RawData = ByteString.CopyFrom(new byte[2 * 16 * 4]); }, typeof(MalformedFileException), "B is [2, 16]; it must be [2, 32]"),
        new("P of the wrong size", m => { TensorProto p = Initializer(m, "l0_P"); p.Dims[1] = 4; p.FloatData.Clear(); p.RawData = ByteString.CopyFrom(new byte[2 * 4 * 4]); }, typeof(MalformedFileException), "P is [2, 4]; it must be [2, 12]"),
        new("hidden_size disagrees", m => SetAttribute(m, OnnxProtos.Int("hidden_size", 5)), typeof(MalformedFileException), "attribute hidden_size is 5 but W is [2, 16, 3]"),
        new("hidden_size of the wrong type", m => SetAttribute(m, new AttributeProto { Name = "hidden_size", Type = AttributeProto.Types.AttributeType.Float, F = 4 }), typeof(MalformedFileException), "attribute hidden_size is a Float, not an INT"),
        new("unknown direction", m => SetAttribute(m, OnnxProtos.String("direction", "sideways")), typeof(MalformedFileException), "attribute direction is 'sideways'"),
        new("forward with two directions of weights", m => SetAttribute(m, OnnxProtos.String("direction", "forward")), typeof(MalformedFileException), "W is [2, 16, 3]; it must be [1,"),
        new("unknown attribute", m => SetAttribute(m, OnnxProtos.Int("foo", 1)), typeof(MalformedFileException), "has attribute 'foo', which LSTM does not define"),
        new("an attribute twice", m => Node(m).Attribute.Add(OnnxProtos.Int("hidden_size", 4)), typeof(MalformedFileException), "has attribute hidden_size twice"),
        new("layout 2", m => SetAttribute(m, OnnxProtos.Int("layout", 2)), typeof(MalformedFileException), "attribute layout is 2; it must be in 0..1"),
        new("input_forget 2", m => SetAttribute(m, OnnxProtos.Int("input_forget", 2)), typeof(MalformedFileException), "attribute input_forget is 2; it must be in 0..1"),
        new("clip 0", m => SetAttribute(m, new AttributeProto { Name = "clip", Type = AttributeProto.Types.AttributeType.Float, F = 0 }), typeof(MalformedFileException), "attribute clip is 0"),
        new("clip NaN", m => SetAttribute(m, new AttributeProto { Name = "clip", Type = AttributeProto.Types.AttributeType.Float, F = float.NaN }), typeof(MalformedFileException), "attribute clip is NaN"),
        new("too few activations", m => SetAttribute(m, OnnxProtos.Strings("activations", "Sigmoid", "Tanh", "Tanh")), typeof(MalformedFileException), "attribute activations has 3 names; LSTM with 2 direction(s) takes 6"),
        new("an unknown activation", m => SetAttribute(m, OnnxProtos.Strings("activations", "Sigmoid", "Swish", "Tanh", "Sigmoid", "Tanh", "Tanh")), typeof(MalformedFileException), "activations[1] is 'Swish'"),
        new("alpha left over", m => SetAttribute(m, OnnxProtos.Floats("activation_alpha", 0.5f)), typeof(MalformedFileException), "has activation_alpha or activation_beta but no activations"),
        new("more alphas than takers", m => { SetAttribute(m, OnnxProtos.Strings("activations", "Sigmoid", "LeakyRelu", "Tanh", "Sigmoid", "Tanh", "Tanh")); SetAttribute(m, OnnxProtos.Floats("activation_alpha", 0.5f, 0.1f)); }, typeof(MalformedFileException), "activation_alpha has 2 values but the activations take 1"),
        new("Affine without alpha", m => SetAttribute(m, OnnxProtos.Strings("activations", "Sigmoid", "Affine", "Tanh", "Sigmoid", "Tanh", "Tanh")), typeof(MalformedFileException), "activations[1] Affine takes α, but activation_alpha has no value left"),
        new("an infinite alpha", m => { SetAttribute(m, OnnxProtos.Strings("activations", "Sigmoid", "LeakyRelu", "Tanh", "Sigmoid", "Tanh", "Tanh")); SetAttribute(m, OnnxProtos.Floats("activation_alpha", float.PositiveInfinity)); }, typeof(MalformedFileException), "they must be finite"),
        new("external data", m => Initializer(m, "l0_R").DataLocation = TensorProto.Types.DataLocation.External, typeof(UnsupportedModelException), "is stored in an external file"),
        new("double weights", m => Initializer(m, "l0_R").DataType = 11, typeof(UnsupportedModelException), "initializer 'l0_R' has element type 11"),
        new("raw_data of the wrong length", m => { TensorProto w = Initializer(m, "l0_W"); w.RawData = ByteString.CopyFrom(new byte[7]); w.FloatData.Clear(); }, typeof(MalformedFileException), "has 7 bytes of raw_data; shape [2, 16, 3] needs 384"),
        new("raw_data and float_data", m => { TensorProto w = Initializer(m, "l0_W"); w.RawData = ByteString.CopyFrom(new byte[384]); w.FloatData.Add(1f); }, typeof(MalformedFileException), "has both raw_data and float_data"),
        new("float_data of the wrong length", m => { TensorProto w = Initializer(m, "l0_W"); w.RawData = ByteString.Empty; w.FloatData.Clear(); w.FloatData.Add(1f); }, typeof(MalformedFileException), "has 1 values; shape [2, 16, 3] needs 96"),
        new("a negative dimension", m => Initializer(m, "l0_W").Dims[1] = -16, typeof(MalformedFileException), "has dimension 1 of -16"),
        new("dimensions that overflow", m => { TensorProto w = Initializer(m, "l0_W"); w.Dims[0] = int.MaxValue; w.Dims[1] = int.MaxValue; }, typeof(MalformedFileException), "more elements than an array holds"),
        new("two initializers of one name", m => m.Graph.Initializer.Add(Initializer(m, "l0_W").Clone()), typeof(MalformedFileException), "two initializers named 'l0_W'"),
        new("too many inputs", m => Node(m).Input.Add(""), typeof(MalformedFileException), "has 9 inputs; LSTM takes at most 8"),
        new("a negative stored length", m =>
        {
            var lengths = new TensorProto { Name = OnnxModelBuilder.SequenceLengths, DataType = (int)TensorProto.Types.DataType.Int32 };
            lengths.Dims.Add(1);
            lengths.Int32Data.Add(-3);
            m.Graph.Initializer.Add(lengths);
        }, typeof(MalformedFileException), "sequence_lens[0] is -3, not a length"),
    ];

    public static TheoryData<string> Cases() => [.. Mutations.Select(mutation => mutation.Name)];

    [Theory]
    [MemberData(nameof(Cases))]
    public void IsRefusedNamingWhatIsWrong(string name)
    {
        Mutation mutation = Mutations.Single(m => m.Name == name);
        ModelProto model = ValidModel();
        mutation.Apply(model);
        Exception error = Assert.Throws(mutation.Exception, () => OnnxRnnModel.Parse(model.ToByteArray(), File));
        Assert.StartsWith($"{File}: ", error.Message);
        Assert.Contains(mutation.Message, error.Message);
    }

    [Fact]
    public void TheValidModelReads() => Assert.Equal(OnnxDirection.Bidirectional, OnnxRnnModel.Parse(ValidModel().ToByteArray()).Direction);

    [Theory]
    [InlineData(new byte[] { 0x0F })] // field 1 with wire type 7, which does not exist
    [InlineData(new byte[] { 0x3A, 0xFF, 0xFF, 0xFF, 0x7F })] // a graph that claims 268 MB
    public void BytesThatAreNotAModelAreMalformed(byte[] bytes)
    {
        var error = Assert.Throws<MalformedFileException>(() => OnnxRnnModel.Parse(bytes, File));
        Assert.Contains("not an ONNX model", error.Message);
    }

    /// <summary>
    /// Every prefix of a model is refused with a typed error, or reads as the model it still is (a cut after the graph
    /// leaves a complete one: protobuf has no end marker).
    /// </summary>
    [Fact]
    public void EveryTruncationGetsATypedErrorOrTheSameNetwork()
    {
        byte[] bytes = ValidModel().ToByteArray();
        RnnWeights whole = OnnxRnnModel.Parse(bytes).Weights;
        int refused = 0;
        for (int length = 0; length < bytes.Length; length++)
        {
            byte[] truncated = bytes[..length];
            Exception? error = Record.Exception(() =>
            {
                RnnWeights read = OnnxRnnModel.Parse(truncated, File).Weights;
                Assert.Equal(whole.Spec, read.Spec);
                Assert.Equal(whole[0, 1].WeightP, read[0, 1].WeightP);
            });
            Assert.True(error is null or MalformedFileException or UnsupportedModelException, $"{length} bytes: {error?.GetType().Name}: {error?.Message}");
            if (error is not null) refused++;
        }

        Assert.True(refused > bytes.Length / 2, $"only {refused} of {bytes.Length} prefixes refused");
    }

    [Fact]
    public void RunningRefusesArraysThatDoNotFit()
    {
        using OnnxRecurrentModule module = OnnxRnnModel.Parse(ValidModel().ToByteArray()).CreateModule();
        var x = FloatTensor.Zeros(2, 1, 3);
        Assert.Throws<ShapeMismatchException>(() => module.Forward(FloatTensor.Zeros(2, 3)));
        Assert.Throws<ShapeMismatchException>(() => module.Forward(FloatTensor.Zeros(2, 1, 5)));
        Assert.Throws<ArgumentOutOfRangeException>(() => module.Forward(x, [3]));
        Assert.Throws<ShapeMismatchException>(() => module.Forward(x, initialHidden: FloatTensor.Zeros(1, 1, 4)));
        module.Dispose();
        Assert.Throws<ObjectDisposedException>(() => module.Forward(x));
    }
}
