using FusedRnn.Cli;
using FusedRnn.IO;
using FusedRnn.IO.Onnx;
using FusedRnn.Onnx;
using FusedRnn.Tests.Onnx;
using FusedRnn.Tests.Support;
using Google.Protobuf;

namespace FusedRnn.Tests.Cli;

/// <summary>
/// <c>fusedrnn run --weights M.onnx</c>: ONNX's node tests through <c>--onnx-layout</c>, ONNX nodes of every direction
/// in PyTorch's layouts (time- and batch-major) against the library, and the usage errors of the format options.
/// </summary>
public sealed class RunCommandOnnxTests : IDisposable
{
    readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    public static TheoryData<string> ConformanceCases() => [.. ConformanceCase.Names];

    /// <summary>torch.onnx.export's whole model (Embedding → LSTM → Gemm → Softmax on the last step) from int64 ids, as PyTorch computed it.</summary>
    [Fact]
    public void RunsAnExportedWholeModelOnIds()
    {
        string folder = Path.Combine(AppContext.BaseDirectory, "data", "onnx-export-whole", "lstm_classifier_last_step");
        CliResult result = CliHarness.Invoke(["run", "--weights", Path.Combine(folder, "model.onnx"), "--input", Path.Combine(folder, "ids.npy"), "--batch-first",
            "--output", _temp.PathOf("y.npy")]);
        Assert.True(result.ExitCode == 0, result.Stderr);
        NpyArray<float> expected = Npy.ReadFloat32(Path.Combine(folder, "y.npy")), written = Npy.ReadFloat32(_temp.PathOf("y.npy"));
        Assert.Equal(expected.Shape, written.Shape);
        Tolerance.AssertClose(expected.Data, written.Data, Tolerance.ParityFloat32, "y");
        CliHarness.Invoke(["run", "--weights", Path.Combine(folder, "model.onnx"), "--input", Path.Combine(folder, "ids.npy"), "--output", _temp.PathOf("y2.npy"),
            "--hn", _temp.PathOf("hn.npy")]).AssertFails(ExitCodes.Usage, "--hn was given but --weights is a whole sequence model");
    }

    public static TheoryData<string> ExportCases() => [.. ExportCase.Names];

    /// <summary>torch.onnx.export's multi-layer models in PyTorch's layouts: y, and h_n and c_n as [L·D, B, H], as PyTorch computed them.</summary>
    [Theory]
    [MemberData(nameof(ExportCases))]
    public void WritesPyTorchsOutputsOfAnExportedStack(string caseName)
    {
        var test = new ExportCase(caseName);
        List<string> args = ["run", "--weights", test.ModelPath, "--input", _temp.WriteFloat32("x.npy", test.Tensor("x")), "--output", _temp.PathOf("y.npy"), "--hn", _temp.PathOf("hn.npy")];
        if (test.BatchFirst) args.Add("--batch-first");
        if (test.OptionalTensor("h0") is { } h0) args.AddRange(["--h0", _temp.WriteFloat32("h0.npy", h0)]);
        if (test.OptionalTensor("c0") is { } c0) args.AddRange(["--c0", _temp.WriteFloat32("c0.npy", c0)]);
        if (test.OptionalTensor("cn") is not null) args.AddRange(["--cn", _temp.PathOf("cn.npy")]);

        CliResult result = CliHarness.Invoke(args);

        Assert.True(result.ExitCode == 0, result.Stderr);
        foreach (string name in new[] { "y", "hn", "cn" })
        {
            if (test.OptionalTensor(name) is not { } expected) continue;
            NpyArray<float> written = Npy.ReadFloat32(_temp.PathOf(name + ".npy"));
            Assert.Equal(expected.Shape.ToArray(), written.Shape);
            Tolerance.AssertClose(expected, new FloatTensor(written.Data, written.Shape), Tolerance.ParityFloat32, $"{name} of {caseName}");
        }
    }

    [Theory]
    [MemberData(nameof(ConformanceCases))]
    public void WritesOnnxsExpectedOutputsInTheNodesLayout(string caseName)
    {
        var test = new ConformanceCase(caseName);
        List<string> args =
        [
            "run", "--weights", _temp.WriteBytes("model.onnx", test.ModelBytes()), "--onnx-layout",
            "--input", _temp.WriteFloat32("X.npy", test.Tensor("X")), "--output", _temp.PathOf("Y.npy"), "--hn", _temp.PathOf("Y_h.npy"),
        ];
        if (test.Lengths() is { } lengths) args.AddRange(["--lengths", _temp.WriteBytes("lengths.npy", NpyBytes.Int32(lengths))]);
        if (test.OptionalTensor("initial_h") is { } h0) args.AddRange(["--h0", _temp.WriteFloat32("h0.npy", h0)]);
        if (test.OptionalTensor("initial_c") is { } c0) args.AddRange(["--c0", _temp.WriteFloat32("c0.npy", c0)]);

        CliResult result = CliHarness.Invoke(args);

        Assert.True(result.ExitCode == 0, result.Stderr);
        foreach ((string name, FloatTensor expected) in test.Expected)
        {
            NpyArray<float> written = Npy.ReadFloat32(_temp.PathOf(name + ".npy"));
            Assert.Equal(expected.Shape.ToArray(), written.Shape);
            Tolerance.AssertClose(expected, new FloatTensor(written.Data, written.Shape), 1e-6, $"{name} of {caseName}");
        }
    }

    public static TheoryData<string, string, bool> NodesInPyTorchLayout()
    {
        var data = new TheoryData<string, string, bool>();
        foreach (ParityCase test in OnnxCases.Nodes.Take(6))
        {
            foreach (bool batchFirst in new[] { false, true })
            {
                data.Add(test.Name, "as written", batchFirst);
                if (!test.Spec.Bidirectional) data.Add(test.Name, "reverse", batchFirst);
            }
        }

        return data;
    }

    /// <summary>Without --onnx-layout the arrays are PyTorch's: what the library's ForwardInPyTorchLayout computes.</summary>
    [Theory]
    [MemberData(nameof(NodesInPyTorchLayout))]
    public void TakesAndWritesPyTorchsLayoutsByDefault(string caseName, string direction, bool batchFirst)
    {
        ParityCase test = OnnxCases.Get(caseName);
        (RnnWeights weights, FloatTensor x, FloatTensor? h0, FloatTensor? c0) = test.Inputs();
        byte[] bytes = OnnxModelBuilder.SingleNode(weights, new SingleNodeSignature(test.SeqLen, test.Batch));
        if (direction == "reverse")
            bytes = OnnxProtos.WithAttribute(bytes, OnnxProtos.String("direction", "reverse"));
        FloatTensor input = batchFirst ? OnnxImportTests.BatchMajor(x) : x;
        List<string> args =
        [
            "run", "--weights", _temp.WriteBytes("model.onnx", bytes), "--input", _temp.WriteFloat32("x.npy", input),
            "--output", _temp.PathOf("y.npy"), "--hn", _temp.PathOf("hn.npy"), "--backend", RnnBackends.Managed,
        ];
        if (batchFirst) args.Add("--batch-first");
        if (test.Lengths is { } lengths) args.AddRange(["--lengths", _temp.WriteBytes("lengths.npy", NpyBytes.Int64([.. lengths.Select(l => (long)l)]))]);
        if (h0 is not null) args.AddRange(["--h0", _temp.WriteFloat32("h0.npy", h0)]);
        if (c0 is not null) args.AddRange(["--c0", _temp.WriteFloat32("c0.npy", c0), "--cn", _temp.PathOf("cn.npy")]);

        CliResult result = CliHarness.Invoke(args);

        Assert.True(result.ExitCode == 0, result.Stderr);
        using OnnxRecurrentModule module = OnnxRnnModel.Parse(bytes).CreateModule(new RnnOptions { Backend = RnnBackends.Managed });
        SequenceOutput expected = module.ForwardInPyTorchLayout(input, batchFirst, test.Lengths, h0, c0);
        Assert.Equal(expected.Output.ToArray(), Npy.ReadFloat32(_temp.PathOf("y.npy")).Data);
        Assert.Equal(expected.Output.Shape.ToArray(), Npy.ReadFloat32(_temp.PathOf("y.npy")).Shape);
        Assert.Equal(expected.HiddenState.ToArray(), Npy.ReadFloat32(_temp.PathOf("hn.npy")).Data);
        if (c0 is not null) Assert.Equal(expected.CellState!.ToArray(), Npy.ReadFloat32(_temp.PathOf("cn.npy")).Data);
    }

    byte[] GruModel() => OnnxModelBuilder.SingleNode(RandomNetworks.Create(new RnnSpec(CellKind.Gru, 3, 4), 1), new SingleNodeSignature(2, 1));

    List<string> GruArguments(params string[] extra) =>
    [
        "run", "--weights", _temp.WriteBytes("gru.onnx", GruModel()), "--input", _temp.WriteFloat32("x.npy", FloatTensor.Zeros(2, 1, 3)),
        "--output", _temp.PathOf("y.npy"), .. extra,
    ];

    [Fact]
    public void OnnxLayoutNeedsAnOnnxModel()
    {
        string model = _temp.PathOf("model.safetensors");
        SafetensorsWriter.Write(model, RandomNetworks.Create(new RnnSpec(CellKind.Gru, 3, 4), 1).ToStateDict());
        CliHarness.Invoke("run", "--weights", model, "--onnx-layout", "--input", _temp.WriteFloat32("x.npy", FloatTensor.Zeros(2, 1, 3)), "--output", _temp.PathOf("y.npy"))
            .AssertFails(ExitCodes.Usage, "--onnx-layout was given but --weights is a .safetensors state_dict, not an .onnx model");
        Assert.False(File.Exists(_temp.PathOf("y.npy")));
    }

    [Theory]
    [InlineData("--prefix", "rnn.", "an .onnx model has no state_dict prefix")]
    [InlineData("--nonlinearity", "tanh", "an .onnx model names its activations itself")]
    [InlineData("--c0", "c0", "has no cell state")]
    public void StateDictOptionsAreRefusedForAnOnnxModel(string option, string value, string phrase)
    {
        string argument = option == "--c0" ? _temp.WriteFloat32("c0.npy", FloatTensor.Zeros(1, 1, 4)) : value;
        CliHarness.Invoke(GruArguments(option, argument)).AssertFails(ExitCodes.Usage, phrase);
        Assert.False(File.Exists(_temp.PathOf("y.npy")));
    }

    [Fact]
    public void BatchFirstAndOnnxLayoutAreExclusive() =>
        CliHarness.Invoke(GruArguments("--onnx-layout", "--batch-first")).AssertFails(ExitCodes.Usage, "--batch-first and --onnx-layout were both given");

    [Fact]
    public void AnUnsupportedModelIsBadInputNamingTheOp()
    {
        ModelProto model = ModelProto.Parser.ParseFrom(GruModel());
        model.Graph.Node.Add(new NodeProto { Name = "head", OpType = "Conv" });
        CliHarness.Invoke("run", "--weights", _temp.WriteBytes("bad.onnx", model.ToByteArray()), "--input", _temp.WriteFloat32("x.npy", FloatTensor.Zeros(2, 1, 3)),
            "--output", _temp.PathOf("y.npy")).AssertFails(ExitCodes.BadInput, "Conv (node 'head')");
        Assert.False(File.Exists(_temp.PathOf("y.npy")));
    }

    [Fact]
    public void AMalformedModelIsBadInput() =>
        CliHarness.Invoke("run", "--weights", _temp.WriteBytes("bad.onnx", [0x0F]), "--input", _temp.WriteFloat32("x.npy", FloatTensor.Zeros(2, 1, 3)),
            "--output", _temp.PathOf("y.npy")).AssertFails(ExitCodes.BadInput, "not an ONNX model");

    [Fact]
    public void VerboseNamesTheNode()
    {
        CliResult result = CliHarness.Invoke(GruArguments("--verbose", "--onnx-layout"));
        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Contains("ONNX forward node", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("-> y [2, 1, 1, 4]", result.Stdout, StringComparison.Ordinal);
    }
}
