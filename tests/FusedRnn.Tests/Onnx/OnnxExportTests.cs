using FusedRnn.IO;
using FusedRnn.IO.Onnx;
using FusedRnn.Onnx;
using FusedRnn.Tests.Support;
using Google.Protobuf;

namespace FusedRnn.Tests.Onnx;

/// <summary>
/// Multi-layer models as torch.onnx.export writes them (tests/data/onnx-export, made by its make_exports.py): every
/// layer a node, chained by Transpose, Reshape, Squeeze and Slice, zero states by Expand or ConstantOfShape, weights
/// folded or computed by Slice and Concat. Each is read as one stack and run on every backend in both precisions
/// against PyTorch's answer, and in the graph's own layouts against ONNX Runtime running the same file.
/// </summary>
public class OnnxExportTests
{
    public static TheoryData<string, string, RnnPrecision> CasesOnBackends()
    {
        var data = new TheoryData<string, string, RnnPrecision>();
        foreach (string name in ExportCase.Names)
            foreach (BackendUnderTest backend in BackendUnderTest.All)
                foreach (RnnPrecision precision in BackendUnderTest.Precisions) data.Add(name, backend.Name, precision);
        return data;
    }

    public static TheoryData<string> Cases => [.. ExportCase.Names];

    [Fact]
    public void EveryCaseIsThere() => Assert.Equal(6, ExportCase.Names.Count());

    [Theory]
    [MemberData(nameof(CasesOnBackends))]
    public void ComputesPyTorchsAnswer(string caseName, string backendName, RnnPrecision precision)
    {
        var test = new ExportCase(caseName);
        OnnxRnnModel model = OnnxRnnModel.Load(test.ModelPath);
        using OnnxRecurrentModule module = model.CreateModule(BackendUnderTest.Get(backendName).In(precision));

        SequenceOutput output = module.ForwardInPyTorchLayout(test.Tensor("x"), test.BatchFirst, h0: test.OptionalTensor("h0"), c0: test.OptionalTensor("c0"));

        string where = $"{caseName} on {backendName} {precision}";
        AssertSame(test.Tensor("y"), output.Output, $"y of {where}");
        AssertSame(test.Tensor("hn"), output.HiddenState, $"h_n of {where}");
        if (test.OptionalTensor("cn") is { } cn) AssertSame(cn, output.CellState!, $"c_n of {where}");
    }

    /// <summary>The graph's own inputs and outputs, fed and read by name, as ONNX Runtime computes them from the same file.</summary>
    [Theory]
    [MemberData(nameof(Cases))]
    public void TheGraphsOwnArraysAreOnnxRuntimes(string caseName)
    {
        var test = new ExportCase(caseName);
        byte[] bytes = File.ReadAllBytes(test.ModelPath);
        OnnxRnnModel model = OnnxRnnModel.Parse(bytes, caseName);
        var feeds = new Dictionary<string, FloatTensor> { [model.Inputs.X] = test.Tensor("x") };
        if (model.Inputs.InitialHidden is { } h0) feeds[h0] = test.Tensor("h0");
        if (model.Inputs.InitialCell is { } c0) feeds[c0] = test.Tensor("c0");
        string[] names = [.. new[] { model.Outputs.Y, model.Outputs.FinalHidden, model.Outputs.FinalCell }.OfType<string>()];
        float[][] onnxRuntime = OnnxRuntimePeer.RunModel(bytes, feeds, null, "", names);

        using OnnxRecurrentModule module = model.CreateModule();
        OnnxOutputs ours = module.Forward(test.Tensor("x"), null, test.OptionalTensor("h0"), test.OptionalTensor("c0"));
        FloatTensor?[] outputs = [model.Outputs.Y is null ? null : ours.Y, model.Outputs.FinalHidden is null ? null : ours.FinalHidden, model.Outputs.FinalCell is null ? null : ours.FinalCell];
        FloatTensor[] given = [.. outputs.OfType<FloatTensor>()];
        Assert.Equal(names.Length, given.Length);
        for (int i = 0; i < names.Length; i++) Tolerance.AssertClose(onnxRuntime[i], given[i].Span, Tolerance.ParityFloat32, $"{names[i]} of {caseName}");
    }

    [Theory]
    [InlineData("lstm_2layer_bidirectional_batch_first", 2, OnnxSequenceLayout.BatchMajor, OnnxSequenceLayout.BatchMajor, "x", "h0", "c0")]
    [InlineData("gru_2layer_static_opset9", 2, OnnxSequenceLayout.TimeMajor, OnnxSequenceLayout.TimeMajor, "x", null, null)]
    [InlineData("rnn_3layer_relu_batch_first", 3, OnnxSequenceLayout.BatchMajor, OnnxSequenceLayout.BatchMajor, "x", null, null)]
    [InlineData("lstm_2layer_unfolded", 2, OnnxSequenceLayout.TimeMajor, OnnxSequenceLayout.TimeMajor, "x", null, null)]
    [InlineData("gru_2layer_bidirectional_states", 2, OnnxSequenceLayout.TimeMajor, OnnxSequenceLayout.TimeMajor, "x", "h0", null)]
    [InlineData("lstm_1layer_batch_first", 1, OnnxSequenceLayout.BatchMajor, OnnxSequenceLayout.BatchMajor, "x", null, null)]
    public void ReadsTheStackTheExporterWrote(string caseName, int layers, OnnxSequenceLayout x, OnnxSequenceLayout y, string xName, string? h0, string? c0)
    {
        OnnxRnnModel model = OnnxRnnModel.Load(new ExportCase(caseName).ModelPath);
        Assert.Equal(layers, model.Weights.Spec.NumLayers);
        Assert.Equal(layers, model.NodeNames.Count);
        Assert.Equal(new OnnxArrayLayouts(x, y, OnnxStateLayout.DirectionMajor), model.Layouts);
        Assert.Equal(new OnnxInputNames(xName, null, h0, c0), model.Inputs);
        bool lstm = model.Weights.Spec.Kind == CellKind.Lstm;
        Assert.Equal(new OnnxOutputNames("y", "hn", lstm ? "cn" : null), model.Outputs);
        Assert.Null(model.InitialHidden);
        Assert.Equal(caseName.StartsWith("rnn", StringComparison.Ordinal) ? CellKind.RnnRelu : lstm ? CellKind.Lstm : CellKind.Gru, model.Weights.Spec.Kind);
    }

    /// <summary>The bench's multi-layer models (OnnxModelBuilder.Sequence: Transpose and a fixed Reshape between layers) read back as the network written.</summary>
    [Theory]
    [InlineData(CellKind.Lstm, false)]
    [InlineData(CellKind.Lstm, true)]
    [InlineData(CellKind.Gru, true)]
    [InlineData(CellKind.RnnTanh, false)]
    public void TheBuildersSequenceReadsBackAsItsNetwork(CellKind kind, bool bidirectional)
    {
        RnnWeights weights = RandomNetworks.Create(new RnnSpec(kind, 5, 6, NumLayers: 3, Bidirectional: bidirectional), seed: 7);
        OnnxRnnModel model = OnnxRnnModel.Parse(OnnxModelBuilder.Sequence(weights, steps: 4, batch: 3));
        Assert.Equal(weights.Spec, model.Weights.Spec);
        for (int layer = 0; layer < 3; layer++)
        {
            for (int direction = 0; direction < weights.Spec.Directions; direction++)
            {
                Assert.Equal(weights[layer, direction].WeightIh, model.Weights[layer, direction].WeightIh);
                Assert.Equal(weights[layer, direction].WeightHh, model.Weights[layer, direction].WeightHh);
                Assert.Equal(weights[layer, direction].BiasHh, model.Weights[layer, direction].BiasHh);
            }
        }

        Assert.Equal(bidirectional ? OnnxSequenceLayout.TimeMajor : OnnxSequenceLayout.OnnxTimeMajor, model.Layouts.Y);
    }

    private static void AssertSame(FloatTensor expected, FloatTensor actual, string what)
    {
        Assert.Equal(expected.Shape.ToArray(), actual.Shape.ToArray());
        Tolerance.AssertClose(expected, actual, Tolerance.ParityFloat32, what);
    }
}

/// <summary>One folder of tests/data/onnx-export: model.onnx and PyTorch's arrays.</summary>
internal sealed class ExportCase(string name)
{
    public static string Directory => Path.Combine(AppContext.BaseDirectory, "data", "onnx-export");

    public static IEnumerable<string> Names =>
        System.IO.Directory.EnumerateDirectories(Directory).Select(Path.GetFileName).OfType<string>().Order(StringComparer.Ordinal);

    public string ModelPath => Path.Combine(Directory, name, "model.onnx");

    public byte[] ModelBytes => File.ReadAllBytes(ModelPath);

    /// <summary>Whether the exported module was batch-first (case.txt says how it was made).</summary>
    public bool BatchFirst => File.ReadAllText(Path.Combine(Directory, name, "case.txt")).Contains("'batch_first': True", StringComparison.Ordinal);

    public FloatTensor Tensor(string array) => OptionalTensor(array) ?? throw new FileNotFoundException($"{name} has no {array}.npy");

    public FloatTensor? OptionalTensor(string array)
    {
        string path = Path.Combine(Directory, name, array + ".npy");
        if (!File.Exists(path)) return null;
        NpyArray<float> values = Npy.ReadFloat32(path);
        return new FloatTensor(values.Data, values.Shape.ToArray());
    }
}
