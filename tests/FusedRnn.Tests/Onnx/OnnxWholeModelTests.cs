using FusedRnn.IO;
using FusedRnn.IO.Onnx;
using FusedRnn.Tests.Support;
using Google.Protobuf;

namespace FusedRnn.Tests.Onnx;

/// <summary>
/// Whole models as torch.onnx.export writes them (tests/data/onnx-export-whole): Gather of the embedding table, the
/// recurrent stack, then Gemm or MatMul + Add heads with Relu, Softmax, LogSoftmax or Sigmoid, on every step, the last
/// step or h_n of both directions. Each runs as one <see cref="SequenceModel"/> on every backend in both precisions
/// against PyTorch's answer, and against ONNX Runtime running the same file; broken heads are refused naming the node.
/// </summary>
public class OnnxWholeModelTests
{
    private static string Directory => Path.Combine(AppContext.BaseDirectory, "data", "onnx-export-whole");

    private static string PathOf(string caseName, string file) => Path.Combine(Directory, caseName, file);

    private static bool BatchFirst(string caseName) => File.ReadAllText(PathOf(caseName, "case.txt")).Contains("batch_first=True", StringComparison.Ordinal);

    public static TheoryData<string, string, RnnPrecision> CasesOnBackends()
    {
        var data = new TheoryData<string, string, RnnPrecision>();
        foreach (string name in System.IO.Directory.EnumerateDirectories(Directory).Select(Path.GetFileName).OfType<string>().Order(StringComparer.Ordinal))
            foreach (BackendUnderTest backend in BackendUnderTest.All)
                foreach (RnnPrecision precision in BackendUnderTest.Precisions) data.Add(name, backend.Name, precision);
        return data;
    }

    [Theory]
    [MemberData(nameof(CasesOnBackends))]
    public void ComputesPyTorchsAndOnnxRuntimesAnswer(string caseName, string backendName, RnnPrecision precision)
    {
        byte[] bytes = File.ReadAllBytes(PathOf(caseName, "model.onnx"));
        OnnxRnnModel read = OnnxRnnModel.Parse(bytes, caseName);
        NpyArray<long> ids = Npy.ReadIntegers(PathOf(caseName, "ids.npy"));
        NpyArray<float> expected = Npy.ReadFloat32(PathOf(caseName, "y.npy"));
        Assert.True(read.IsWholeModel);
        Assert.NotNull(read.Embedding);
        Assert.Equal("ids", read.Inputs.X);
        Assert.Equal("y", read.Outputs.Y);

        using SequenceModel model = read.CreateSequenceModel(BackendUnderTest.Get(backendName).In(precision) with { BatchFirst = BatchFirst(caseName) });
        FloatTensor y = model.ForwardIds(ids.Data, ids.Shape);

        Assert.Equal(expected.Shape, y.Shape.ToArray());
        Tolerance.AssertClose(expected.Data, y.Span, Tolerance.ParityFloat32, $"{caseName} against PyTorch on {backendName} {precision}");
        float[] onnxRuntime = OnnxRuntimePeer.RunOnIds(bytes, "ids", ids.Data, ids.Shape, "y");
        Tolerance.AssertClose(onnxRuntime, y.Span, Tolerance.ParityFloat32, $"{caseName} against ONNX Runtime on {backendName} {precision}");
    }

    [Theory]
    [InlineData("lstm_classifier_last_step", HeadSteps.Last, 1)]
    [InlineData("gru_tagger_every_step", HeadSteps.Every, 1)]
    [InlineData("lstm_final_state_two_heads", HeadSteps.FinalState, 2)]
    public void ReadsTheHeadsTheExporterWrote(string caseName, HeadSteps steps, int heads)
    {
        OnnxRnnModel model = OnnxRnnModel.Load(PathOf(caseName, "model.onnx"));
        Assert.Equal(steps, model.HeadSteps);
        Assert.Equal(heads, model.Heads.Count);
        Assert.Equal([20, 4], model.Embedding!.Weight.Shape.ToArray());
        Assert.Equal(2, model.Weights.Spec.NumLayers);
    }

    private static ModelProto Classifier() => ModelProto.Parser.ParseFrom(File.ReadAllBytes(PathOf("lstm_classifier_last_step", "model.onnx")));

    private static NodeProto Op(ModelProto model, string opType) => model.Graph.Node.Single(node => node.OpType == opType);

    public static TheoryData<string> BadHeads => ["softmax over the batch", "a head on the embedding", "two traced arrays added", "an activation without a dense layer", "a MatMul by the input"];

    [Theory]
    [MemberData(nameof(BadHeads))]
    public void ABrokenHeadIsRefusedNamingTheNode(string name)
    {
        ModelProto model = Classifier();
        NodeProto softmax = Op(model, "Softmax"), gemm = Op(model, "Gemm");
        string message;
        switch (name)
        {
            case "softmax over the batch":
                OnnxProtos.SetAttribute(softmax, OnnxProtos.Int("axis", 0));
                message = "Softmax node '/Softmax': normalizes over axis 0 of [";
                break;
            case "a head on the embedding":
                softmax.Input[0] = model.Graph.Node.First(node => node.OpType == "Gather").Output[0];
                message = "Softmax node '/Softmax': its input is the embedding Gather node '/embedding/Gather''s output; heads read the stack's";
                break;
            case "two traced arrays added":
                model.Graph.Node.Insert(model.Graph.Node.IndexOf(softmax), new NodeProto { Name = "residual", OpType = "Add", Input = { gemm.Output[0], gemm.Output[0] }, Output = { "summed" } });
                softmax.Input[0] = "summed";
                message = "Add node 'residual': adds two arrays computed from the graph's inputs";
                break;
            case "an activation without a dense layer":
                softmax.Input[0] = gemm.Input[0];
                message = "Softmax node '/Softmax' does not follow a MatMul or Gemm";
                break;
            default:
                (gemm.Input[0], gemm.Input[1]) = (gemm.Input[1], gemm.Input[0]);
                message = "Gemm node '/heads.0/Gemm': its A is a constant";
                break;
        }

        var error = Assert.Throws<UnsupportedModelException>(() => OnnxRnnModel.Parse(model.ToByteArray(), "whole.onnx"));
        Assert.Contains(message, error.Message);
    }

    /// <summary>
    /// The bench's whole-model workload: ONNX Runtime running OnnxModelBuilder.ModelStep's graph with the states fed
    /// back gives, step after step, the probabilities the SequenceModel's stream gives.
    /// </summary>
    [Fact]
    public void TheBenchsModelStepGraphIsTheStreamsStep()
    {
        FusedRnn.Cli.Benchmarking.Workload workload = FusedRnn.Cli.Benchmarking.Workload.Find("lstm2-model-b1-h256-v10000")!;
        (FloatTensor embedding, RnnWeights network, FloatTensor headWeight, FloatTensor headBias) = workload.CreateModel();
        using SequenceModel model = SequenceModel.Create(new SequenceModelParts(new EmbeddingLayer(embedding), [network], [new DenseLayer(headWeight, headBias, DenseActivation.Softmax)]));
        using SequenceModelState state = model.CreateState(1);
        long[] ids = workload.CreateIds();
        var inputs = new Dictionary<string, FloatTensor>();
        var carried = new Dictionary<string, string>();
        foreach ((string initial, string final) in new[] { (FusedRnn.Onnx.OnnxModelBuilder.InitialHidden, FusedRnn.Onnx.OnnxModelBuilder.FinalHidden), (FusedRnn.Onnx.OnnxModelBuilder.InitialCell, FusedRnn.Onnx.OnnxModelBuilder.FinalCell) })
        {
            for (int layer = 0; layer < 2; layer++)
            {
                inputs[FusedRnn.Onnx.OnnxModelBuilder.LayerState(initial, layer)] = FloatTensor.Zeros(1, 1, 256);
                carried[FusedRnn.Onnx.OnnxModelBuilder.LayerState(final, layer)] = FusedRnn.Onnx.OnnxModelBuilder.LayerState(initial, layer);
            }
        }

        List<float[]> onnxRuntime = OnnxRuntimePeer.RunCarried(FusedRnn.Onnx.OnnxModelBuilder.ModelStep(embedding, network, headWeight, headBias, 1),
            FusedRnn.Onnx.OnnxModelBuilder.Ids, ids, inputs, carried, FusedRnn.Onnx.OnnxModelBuilder.Probabilities, steps: 3);
        for (int step = 0; step < 3; step++)
            Tolerance.AssertClose(onnxRuntime[step], model.StepIds(ids, state).Span, Tolerance.ParityFloat32, $"step {step}");
    }

    /// <summary>An embedding whose vectors would not fit the read's budget is refused before they are made.</summary>
    [Fact]
    public void AnEmbeddingLargerThanTheBudgetIsRefused()
    {
        ModelProto model = Classifier();
        var dims = model.Graph.Input.Single(input => input.Name == "ids").Type.TensorType.Shape.Dim;
        (dims[0].DimValue, dims[1].DimValue) = (1 << 22, 2);
        var error = Assert.Throws<UnsupportedModelException>(() => OnnxRnnModel.Parse(model.ToByteArray(), "whole.onnx"));
        Assert.Contains("Gather node '/embedding/Gather': the graph's layout ops compute more elements than its tensors hold", error.Message);
    }

    [Fact]
    public void AnIdOutsideTheTableIsRefused()
    {
        using SequenceModel model = OnnxRnnModel.Load(PathOf("lstm_classifier_last_step", "model.onnx")).CreateSequenceModel(new RnnOptions { BatchFirst = true });
        Assert.Contains("ids[1] is 20", Assert.Throws<ArgumentOutOfRangeException>(() => model.ForwardIds([3, 20], [1, 2])).Message);
    }
}
