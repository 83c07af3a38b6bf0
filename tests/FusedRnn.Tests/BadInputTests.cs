using FusedRnn.Backends;
using FusedRnn.IO;
using FusedRnn.Tests.Support;

namespace FusedRnn.Tests;

/// <summary>Every kind of bad input gets a typed exception that names what is wrong — never a crash or a wrong answer.</summary>
public class BadInputTests
{
    private static readonly RnnOptions Managed = new() { Backend = RnnBackends.Managed };

    // 2-layer bidirectional LSTM, input 5, hidden 4: h0 [4, B, 4].
    private static readonly RnnSpec LstmSpec = new(CellKind.Lstm, 5, 4, NumLayers: 2, Bidirectional: true);

    private static Lstm NewLstm(bool batchFirst = false) => new(RandomNetworks.Create(LstmSpec, 7), Managed with { BatchFirst = batchFirst });

    private static Gru NewGru() => new(RandomNetworks.Create(new RnnSpec(CellKind.Gru, 5, 4), 7), Managed);

    [Fact]
    public void InputWithWrongFeatureCountNamesInputAndExpectedShape()
    {
        using Lstm lstm = NewLstm();
        var e = Assert.Throws<ShapeMismatchException>(() => lstm.Forward(FloatTensor.Zeros(6, 3, 7)));
        Assert.Equal("input", e.ParamName);
        Assert.Equal("[6, 3, 5]", e.ExpectedShape);
        Assert.Contains("[6, 3, 7]", e.Message);
    }

    [Fact]
    public void InputOfWrongRankIsRejected()
    {
        using Lstm lstm = NewLstm();
        var e = Assert.Throws<ShapeMismatchException>(() => lstm.Forward(FloatTensor.Zeros(2, 6, 3, 5)));
        Assert.Equal("input", e.ParamName);
    }

    [Fact]
    public void BatchFirstInputIsCheckedAsBatchMajor()
    {
        using Lstm lstm = NewLstm(batchFirst: true);
        // [B=3, T=6, I=5] with h0 for batch 6 (as if it were time-major) must fail on h0's batch.
        var e = Assert.Throws<ShapeMismatchException>(() => lstm.Forward(FloatTensor.Zeros(3, 6, 5), FloatTensor.Zeros(4, 6, 4)));
        Assert.Equal("h0", e.ParamName);
        Assert.Equal("[4, 3, 4]", e.ExpectedShape);
    }

    [Theory]
    [InlineData(2, 3, 4)] // too few layer·directions
    [InlineData(4, 2, 4)] // wrong batch
    [InlineData(4, 3, 5)] // wrong features
    public void InitialHiddenStateWithWrongShape(int ld, int batch, int features)
    {
        using Lstm lstm = NewLstm();
        var e = Assert.Throws<ShapeMismatchException>(() => lstm.Forward(FloatTensor.Zeros(6, 3, 5), FloatTensor.Zeros(ld, batch, features)));
        Assert.Equal("h0", e.ParamName);
        Assert.Equal("[4, 3, 4]", e.ExpectedShape);
    }

    [Fact]
    public void InitialCellStateWithWrongShape()
    {
        using Lstm lstm = NewLstm();
        var e = Assert.Throws<ShapeMismatchException>(() => lstm.Forward(FloatTensor.Zeros(6, 3, 5), null, FloatTensor.Zeros(4, 3, 3)));
        Assert.Equal("c0", e.ParamName);
        Assert.Equal("[4, 3, 4]", e.ExpectedShape);
    }

    [Fact]
    public void CellStateForAGruIsRejected()
    {
        using Gru gru = NewGru();
        var e = Assert.Throws<ArgumentException>(() => gru.Forward(FloatTensor.Zeros(6, 3, 5), null, FloatTensor.Zeros(1, 3, 4)));
        Assert.Equal("c0", e.ParamName);
    }

    [Fact]
    public void LengthsWithWrongCount()
    {
        using Lstm lstm = NewLstm();
        var e = Assert.Throws<ShapeMismatchException>(() => lstm.Forward(FloatTensor.Zeros(6, 3, 5), lengths: [6, 6]));
        Assert.Equal("lengths", e.ParamName);
        Assert.Equal("[3]", e.ExpectedShape);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(7)]
    public void LengthOutsideOneToSeqLen(int badLength)
    {
        using Lstm lstm = NewLstm();
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => lstm.Forward(FloatTensor.Zeros(6, 3, 5), lengths: [6, badLength, 2]));
        Assert.Equal("lengths", e.ParamName);
        Assert.Contains($"lengths[1] = {badLength} is outside 1..6", e.Message);
    }

    [Fact]
    public void SpanOverloadChecksEveryBuffer()
    {
        using Lstm lstm = NewLstm();
        using RnnWorkspace workspace = lstm.CreateWorkspace();
        var x = new float[6 * 3 * 5];
        var y = new float[6 * 3 * 8];
        var hn = new float[4 * 3 * 4];
        var cn = new float[4 * 3 * 4];
        Assert.Equal("input", Assert.Throws<ShapeMismatchException>(() => lstm.Forward(x.AsSpan(1), 6, 3, y, hn, cn, workspace)).ParamName);
        Assert.Equal("output", Assert.Throws<ShapeMismatchException>(() => lstm.Forward(x, 6, 3, y.AsSpan(1), hn, cn, workspace)).ParamName);
        Assert.Equal("hn", Assert.Throws<ShapeMismatchException>(() => lstm.Forward(x, 6, 3, y, hn.AsSpan(1), cn, workspace)).ParamName);
        Assert.Equal("cn", Assert.Throws<ShapeMismatchException>(() => lstm.Forward(x, 6, 3, y, hn, default, workspace)).ParamName);
        Assert.Equal("h0", Assert.Throws<ShapeMismatchException>(() => lstm.Forward(x, 6, 3, y, hn, cn, workspace, h0: new float[5])).ParamName);
        Assert.Equal("seqLen", Assert.Throws<ArgumentOutOfRangeException>(() => lstm.Forward(x, 0, 3, y, hn, cn, workspace)).ParamName);
        Assert.Equal("batch", Assert.Throws<ArgumentOutOfRangeException>(() => lstm.Forward(x, 6, 0, y, hn, cn, workspace)).ParamName);
    }

    [Fact]
    public void CellChecksShapes()
    {
        using var cell = new LstmCell(RandomNetworks.Create(new RnnSpec(CellKind.Lstm, 3, 2), 1), Managed);
        Assert.Equal("input", Assert.Throws<ShapeMismatchException>(() => cell.Forward(FloatTensor.Zeros(2, 4))).ParamName);
        Assert.Equal("hidden", Assert.Throws<ShapeMismatchException>(() => cell.Forward(FloatTensor.Zeros(2, 3), FloatTensor.Zeros(3, 2))).ParamName);
        Assert.Equal("cell", Assert.Throws<ShapeMismatchException>(() => cell.Forward(FloatTensor.Zeros(2, 3), null, FloatTensor.Zeros(2, 3))).ParamName);
        using RnnWorkspace workspace = cell.CreateWorkspace();
        Assert.Equal("hiddenOut", Assert.Throws<ShapeMismatchException>(() => cell.Step(new float[6], 2, default, default, new float[3], new float[4], workspace)).ParamName);
    }

    [Fact]
    public void NullArgumentsAreRejected()
    {
        using Lstm lstm = NewLstm();
        Assert.Equal("input", Assert.Throws<ArgumentNullException>(() => lstm.Forward((FloatTensor)null!)).ParamName);
        Assert.Equal("workspace", Assert.Throws<ArgumentNullException>(() => lstm.Forward(new float[90], 6, 3, new float[144], new float[48], new float[48], null!)).ParamName);
        Assert.Throws<ArgumentNullException>(() => new Lstm(null!));
    }

    [Fact]
    public void DisposedModuleAndWorkspaceAreRejected()
    {
        Lstm lstm = NewLstm();
        RnnWorkspace workspace = lstm.CreateWorkspace();
        workspace.Dispose();
        Assert.Throws<ObjectDisposedException>(() => lstm.Forward(new float[90], 6, 3, new float[144], new float[48], new float[48], workspace));
        lstm.Dispose();
        Assert.Throws<ObjectDisposedException>(() => lstm.Forward(FloatTensor.Zeros(6, 3, 5)));
        Assert.Throws<ObjectDisposedException>(() => lstm.CreateWorkspace());
        lstm.Dispose(); // twice is fine
    }

    [Fact]
    public void WorkspaceOfAnotherModuleIsRejected()
    {
        using Lstm first = NewLstm(), second = NewLstm();
        using RnnWorkspace workspace = first.CreateWorkspace();
        var e = Assert.Throws<ArgumentException>(() => second.Forward(new float[90], 6, 3, new float[144], new float[48], new float[48], workspace));
        Assert.Equal("workspace", e.ParamName);
    }

    [Fact]
    public void WeightsOfAnotherKindAreRejected()
    {
        var e = Assert.Throws<InvalidWeightsException>(() => new Lstm(RandomNetworks.Create(new RnnSpec(CellKind.Gru, 5, 4), 1)));
        Assert.Contains("GRU, not an LSTM", e.Message);
        Assert.Throws<InvalidWeightsException>(() => new LstmCell(RandomNetworks.Create(LstmSpec, 1)));
    }

    [Fact]
    public void WeightArraysOfWrongSizeNameTheTensor()
    {
        RnnWeights good = RandomNetworks.Create(LstmSpec, 3);
        var layers = good.Layers.ToArray();
        layers[3] = layers[3] with { WeightHh = new float[10] };
        var e = Assert.Throws<InvalidWeightsException>(() => new RnnWeights(LstmSpec, layers));
        Assert.Equal("weight_hh_l1_reverse", e.ParamName);
        Assert.Contains("[16, 4]", e.Message);

        layers = good.Layers.ToArray();
        layers[0] = layers[0] with { BiasIh = null };
        Assert.Equal("bias_ih_l0", Assert.Throws<InvalidWeightsException>(() => new RnnWeights(LstmSpec, layers)).ParamName);

        layers = good.Layers.ToArray();
        layers[0] = layers[0] with { WeightHr = new float[8] };
        Assert.Equal("weight_hr_l0", Assert.Throws<InvalidWeightsException>(() => new RnnWeights(LstmSpec, layers)).ParamName);

        Assert.Throws<InvalidWeightsException>(() => new RnnWeights(LstmSpec, good.Layers.Take(3).ToArray()));
    }

    [Fact]
    public void InvalidSpecsAreRejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new RnnSpec(CellKind.Lstm, 5, 4, ProjSize: 4).Validate());
        Assert.Throws<ArgumentException>(() => new RnnSpec(CellKind.Gru, 5, 4, ProjSize: 2).Validate());
        Assert.Throws<ArgumentOutOfRangeException>(() => new RnnSpec(CellKind.Lstm, 0, 4).Validate());
        Assert.Throws<ArgumentOutOfRangeException>(() => new RnnSpec(CellKind.Lstm, 5, 4, NumLayers: 0).Validate());
    }

    private static Dictionary<string, (int[] Shape, float[] Data)> StateDict(RnnSpec spec, string prefix = "") =>
        RandomNetworks.Create(spec, 5).ToStateDict(prefix).ToDictionary(p => p.Key, p => p.Value);

    [Fact]
    public void StateDictWithMissingTensorNamesIt()
    {
        var dict = StateDict(LstmSpec, "rnn.");
        dict.Remove("rnn.bias_hh_l1");
        var e = Assert.Throws<InvalidWeightsException>(() => RnnWeights.FromStateDict(dict));
        Assert.Equal("rnn.bias_hh_l1", e.ParamName);
        Assert.Contains("missing", e.Message);
    }

    [Fact]
    public void StateDictWithExtraTensorNamesIt()
    {
        var dict = StateDict(LstmSpec, "rnn.");
        dict["rnn.weight_ih_l5"] = ([16, 8], new float[128]);
        Assert.Equal("rnn.weight_ih_l5", Assert.Throws<InvalidWeightsException>(() => RnnWeights.FromStateDict(dict)).ParamName);
        dict.Remove("rnn.weight_ih_l5");
        dict["rnn.running_mean"] = ([4], new float[4]);
        Assert.Contains("unexpected tensor 'rnn.running_mean'", Assert.Throws<InvalidWeightsException>(() => RnnWeights.FromStateDict(dict)).Message);
    }

    [Fact]
    public void StateDictWithInconsistentShapeNamesIt()
    {
        var dict = StateDict(LstmSpec);
        dict["weight_ih_l1"] = ([16, 7], new float[112]);
        var e = Assert.Throws<InvalidWeightsException>(() => RnnWeights.FromStateDict(dict));
        Assert.Equal("weight_ih_l1", e.ParamName);
        Assert.Contains("[16, 8]", e.Message);

        dict = StateDict(LstmSpec);
        dict["weight_hh_l0"] = ([10, 4], new float[40]);
        Assert.Contains("4× (LSTM), 3× (GRU) or 1× (RNN)", Assert.Throws<InvalidWeightsException>(() => RnnWeights.FromStateDict(dict)).Message);
    }

    [Fact]
    public void StateDictWithSeveralModulesNeedsAPrefix()
    {
        var dict = StateDict(LstmSpec, "encoder.");
        foreach (var (name, value) in StateDict(new RnnSpec(CellKind.Gru, 3, 2), "decoder.")) dict[name] = value;
        Assert.Contains("several recurrent modules", Assert.Throws<InvalidWeightsException>(() => RnnWeights.FromStateDict(dict)).Message);
        Assert.Equal(CellKind.Gru, RnnWeights.FromStateDict(dict, "decoder").Spec.Kind);
        Assert.Contains("no recurrent weights found under prefix 'nothing.'", Assert.Throws<InvalidWeightsException>(() => RnnWeights.FromStateDict(dict, "nothing.")).Message);
    }

    [Fact]
    public void MalformedSafetensorsThroughTheLoader()
    {
        string path = Path.Combine(Path.GetTempPath(), $"fusedrnn-bad-{Guid.NewGuid():N}.safetensors");
        try
        {
            byte[] good = File.ReadAllBytes(TestData.PyTorch("lstm_basic"));
            File.WriteAllBytes(path, good[..(good.Length / 2)]);
            var e = Assert.Throws<MalformedFileException>(() => Lstm.Load(path));
            Assert.Equal(path, e.FilePath);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void MissingFileIsReported() =>
        Assert.Throws<FileNotFoundException>(() => Lstm.Load(Path.Combine(Path.GetTempPath(), "no-such-model.safetensors")));

    [Fact]
    public void UnknownBackendNameIsAnArgumentError()
    {
        var e = Assert.Throws<ArgumentException>(() => NewLstmWith("tpu"));
        Assert.Contains("unknown backend 'tpu'", e.Message);
    }

    [Fact]
    public void UnavailableBackendSaysWhy()
    {
        BackendStatus cuda = RnnBackends.Describe().Single(s => s.Name == RnnBackends.Cuda);
        if (cuda.IsAvailable) return; // a machine with the CUDA backend has nothing to report here
        var e = Assert.Throws<BackendUnavailableException>(() => NewLstmWith(RnnBackends.Cuda));
        Assert.Equal(RnnBackends.Cuda, e.Backend);
        Assert.Contains(cuda.UnavailableReason!, e.Message);
    }

    private static Lstm NewLstmWith(string backend) => new(RandomNetworks.Create(LstmSpec, 1), new RnnOptions { Backend = backend });
}
