using FusedRnn.Cli;
using FusedRnn.IO;
using FusedRnn.Tests.Keras;
using FusedRnn.Tests.SequenceModels;

namespace FusedRnn.Tests.Cli;

/// <summary>
/// <c>fusedrnn run --weights M.safetensors --model-config F.json</c>: a whole sequence model from token ids (int32 or
/// int64 .npy) to y, as the library computes it, and the usage errors of the options a whole model does not take.
/// </summary>
public sealed class RunCommandSequenceModelTests : IDisposable
{
    readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    string[] Arguments(string ids, params string[] extra)
    {
        var (weights, description, _, _, _, _) = SequenceModelTests.PyTorchModel();
        return ["run", "--weights", _temp.WriteBytes("model.safetensors", weights), "--model-config", _temp.WriteBytes("model.json", System.Text.Encoding.UTF8.GetBytes(description)),
            "--input", ids, "--output", _temp.PathOf("y.npy"), .. extra];
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    public void RunsTheWholeModelOnIds(bool int32, bool batchFirst)
    {
        const int steps = 4, batch = 3;
        long[] ids = SequenceModelTests.Ids(steps * batch, 8);
        int[] shape = batchFirst ? [batch, steps] : [steps, batch];
        string idsPath = _temp.WriteBytes("ids.npy", int32 ? NpyBytes.Int32(shape, [.. ids.Select(id => (int)id)]) : NpyBytes.Int64(shape, ids));
        string[] extra = ["--lengths", _temp.WriteBytes("lengths.npy", NpyBytes.Int32(4, 1, 3)), "--verbose", .. batchFirst ? new[] { "--batch-first" } : []];

        CliResult result = CliHarness.Invoke(Arguments(idsPath, extra));

        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Contains("Embedding(11, 4) -> LSTM", result.Stdout, StringComparison.Ordinal);
        var (weights, description, _, _, _, _) = SequenceModelTests.PyTorchModel();
        using SequenceModel model = SequenceModelTests.Load(description, weights, new RnnOptions { BatchFirst = batchFirst });
        FloatTensor expected = model.ForwardIds(ids, shape, [4, 1, 3]);
        NpyArray<float> written = Npy.ReadFloat32(_temp.PathOf("y.npy"));
        Assert.Equal(expected.Shape.ToArray(), written.Shape);
        Assert.Equal(expected.ToArray(), written.Data);
    }

    /// <summary>A Keras model with an Embedding and Dense layers runs whole, on Keras's batch-major ids.</summary>
    [Fact]
    public void RunsAWholeKerasModel()
    {
        KerasLayerFixture lstm = KerasLayerFixture.Random("LSTM", "lstm", 3, 4, seed: 2) with { ReturnSequences = false };
        var heads = new KerasHeadsFixture(new FloatTensor([.. Enumerable.Range(0, 7 * 3).Select(i => (i % 5) / 10f)], 7, 3),
            [new KerasDenseFixture(new FloatTensor([.. Enumerable.Range(0, 4 * 2).Select(i => (i % 3) / 4f)], 4, 2), new FloatTensor([0.1f, -0.1f], 2), "softmax")]);
        byte[] file = KerasFiles.WholeModelArchive([lstm], heads);
        long[] ids = [1, 2, 3, 6, 0, 5];
        string[] args = ["run", "--weights", _temp.WriteBytes("model.keras", file), "--batch-first", "--input", _temp.WriteBytes("ids.npy", NpyBytes.Int64([2, 3], ids)),
            "--output", _temp.PathOf("y.npy")];

        CliResult result = CliHarness.Invoke(args);

        Assert.True(result.ExitCode == 0, result.Stderr);
        using SequenceModel model = KerasModel.Parse(file, "model.keras").CreateSequenceModel(new RnnOptions { BatchFirst = true });
        NpyArray<float> written = Npy.ReadFloat32(_temp.PathOf("y.npy"));
        Assert.Equal([2, 2], written.Shape);
        Assert.Equal(model.ForwardIds(ids, [2, 3]).ToArray(), written.Data);
        CliHarness.Invoke([.. args, "--hn", _temp.PathOf("hn.npy")]).AssertFails(ExitCodes.Usage, "--hn was given but --weights is a whole sequence model");
    }

    [Fact]
    public void FloatIdsAreBadInput()
    {
        string ids = _temp.WriteFloat32("ids.npy", FloatTensor.Zeros(2, 1));
        CliHarness.Invoke(Arguments(ids)).AssertFails(ExitCodes.BadInput, "expected an integer dtype");
        Assert.False(File.Exists(_temp.PathOf("y.npy")));
    }

    [Fact]
    public void AnIdOutsideTheVocabularyIsBadInput()
    {
        string ids = _temp.WriteBytes("ids.npy", NpyBytes.Int64([2, 1], [3, SequenceModelTests.Vocabulary]));
        CliHarness.Invoke(Arguments(ids)).AssertFails(ExitCodes.BadInput, $"ids[1] is {SequenceModelTests.Vocabulary}");
        Assert.False(File.Exists(_temp.PathOf("y.npy")));
    }

    [Theory]
    [InlineData("--h0")]
    [InlineData("--hn")]
    [InlineData("--prefix")]
    public void StatesAndPrefixesAreUsageErrors(string option)
    {
        string ids = _temp.WriteBytes("ids.npy", NpyBytes.Int64([2, 1], [3, 4]));
        CliHarness.Invoke(Arguments(ids, option, _temp.PathOf("state.npy"))).AssertFails(ExitCodes.Usage, $"{option} was given but --weights is a whole sequence model");
    }
}
