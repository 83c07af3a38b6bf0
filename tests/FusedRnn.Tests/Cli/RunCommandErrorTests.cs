using FusedRnn.Cli;
using FusedRnn.IO;
using FusedRnn.Tests.Support;

namespace FusedRnn.Tests.Cli;

/// <summary>Bad input to <c>fusedrnn run</c>: a non-zero exit code, nothing on stdout, one error line on stderr.</summary>
public sealed class RunCommandErrorTests : IDisposable
{
    // lstm_basic: input_size 5, hidden_size 7, one layer, x [6, 3, 5].
    const int SeqLen = 6, Batch = 3, InputSize = 5, HiddenSize = 7;

    readonly TempDirectory _temp = new();
    readonly ReferenceCase _lstm = new("lstm_basic");

    public void Dispose() => _temp.Dispose();

    /// <summary>A valid run of lstm_basic but for the weights or input given, with <paramref name="extra"/> options appended.</summary>
    string[] LstmRun(string[]? extra = null, string? weights = null, string? input = null) =>
    [
        "run", "--weights", weights ?? TestData.PyTorch("lstm_basic"), "--prefix", "rnn.",
        "--input", input ?? _temp.WriteFloat32("x.npy", _lstm.Get("x")), "--output", _temp.PathOf("y.npy"), .. extra ?? [],
    ];

    [Fact]
    public void MissingWeightsFile() =>
        CliHarness.Invoke(LstmRun(weights: _temp.PathOf("missing.safetensors")))
            .AssertFails(ExitCodes.BadInput, "was not found");

    [Fact]
    public void TruncatedSafetensors()
    {
        byte[] bytes = File.ReadAllBytes(TestData.PyTorch("lstm_basic"));
        string truncated = _temp.WriteBytes("truncated.safetensors", bytes[..(bytes.Length / 2)]);

        CliHarness.Invoke(LstmRun(weights: truncated)).AssertFails(ExitCodes.BadInput, "past the end");
    }

    [Fact]
    public void NpyWithBadMagic() =>
        CliHarness.Invoke(LstmRun(input: _temp.WriteBytes("bad.npy", "this is plain text, not numpy"u8.ToArray())))
            .AssertFails(ExitCodes.BadInput, "not a .npy file");

    [Fact]
    public void NpyOfFloat64()
    {
        string x = _temp.WriteBytes("x64.npy", NpyBytes.Float64([SeqLen, Batch, InputSize], new double[SeqLen * Batch * InputSize]));

        CliHarness.Invoke(LstmRun(input: x)).AssertFails(ExitCodes.BadInput, "dtype '<f8' is not supported");
    }

    [Fact]
    public void InputOfWrongSize() =>
        CliHarness.Invoke(LstmRun(input: _temp.WriteFloat32("wide.npy", FloatTensor.Zeros(SeqLen, Batch, InputSize + 1))))
            .AssertFails(ExitCodes.BadInput, "input must have shape [6, 3, 5]");

    [Fact]
    public void InitialHiddenStateOfWrongShape() =>
        CliHarness.Invoke(LstmRun(["--h0", _temp.WriteFloat32("h0.npy", FloatTensor.Zeros(1, Batch + 1, HiddenSize))]))
            .AssertFails(ExitCodes.BadInput, "h0 must have shape [1, 3, 7]");

    [Theory]
    [InlineData(0)]
    [InlineData(SeqLen + 1)]
    public void LengthOutOfRange(long badLength) =>
        CliHarness.Invoke(LstmRun(["--lengths", _temp.WriteBytes("lengths.npy", NpyBytes.Int64(SeqLen, badLength, 1))]))
            .AssertFails(ExitCodes.BadInput, $"lengths[1] = {badLength} is outside 1..{SeqLen}");

    [Fact]
    public void LengthTooLargeForInt32() =>
        CliHarness.Invoke(LstmRun(["--lengths", _temp.WriteBytes("lengths.npy", NpyBytes.Int64(SeqLen, 1L << 32, 1))]))
            .AssertFails(ExitCodes.BadInput, "does not fit in a 32-bit integer");

    [Fact]
    public void CellStateGivenToGru()
    {
        var gru = new ReferenceCase("gru_basic");
        string[] args =
        [
            "run", "--weights", TestData.PyTorch("gru_basic"), "--prefix", "rnn.",
            "--input", _temp.WriteFloat32("x.npy", gru.Get("x")), "--output", _temp.PathOf("y.npy"),
            "--c0", _temp.WriteFloat32("c0.npy", gru.Get("h0")),
        ];

        CliHarness.Invoke(args).AssertFails(ExitCodes.Usage, "--c0 was given but the model is a GRU");
    }

    [Fact]
    public void UnknownBackend() =>
        CliHarness.Invoke(LstmRun(["--backend", "tpu"])).AssertFails(ExitCodes.Usage, "unknown backend 'tpu'");

    [Fact]
    public void UnavailableBackend()
    {
        // Where the native CUDA backend is installed and works, there is nothing to reject.
        if (RnnBackends.Describe().Single(backend => backend.Name == RnnBackends.Cuda).IsAvailable) return;

        CliHarness.Invoke(LstmRun(["--backend", "cuda"])).AssertFails(ExitCodes.BadInput, "backend 'cuda' is not available");
    }

    [Fact]
    public void ReluForAnLstmIsAUsageError() =>
        CliHarness.Invoke(LstmRun(["--nonlinearity", "relu"]))
            .AssertFails(ExitCodes.Usage, "--nonlinearity relu was given but the model is an LSTM");

    [Fact]
    public void ReluForAGruIsAUsageError()
    {
        var gru = new ReferenceCase("gru_basic");
        string[] args =
        [
            "run", "--weights", TestData.PyTorch("gru_basic"), "--input", _temp.WriteFloat32("x.npy", gru.Get("x")),
            "--output", _temp.PathOf("y.npy"), "--nonlinearity", "relu",
        ];

        CliHarness.Invoke(args).AssertFails(ExitCodes.Usage, "--nonlinearity relu was given but the model is a GRU");
    }

    [Fact]
    public void TanhForAnLstmIsWhatItComputesAnyway() =>
        Assert.Equal(0, CliHarness.Invoke(LstmRun(["--nonlinearity", "tanh"])).ExitCode);

    [Fact]
    public void NpyGivenAsWeights()
    {
        string npy = _temp.WriteFloat32("x.npy", _lstm.Get("x"));

        CliHarness.Invoke(LstmRun(weights: npy)).AssertFails(ExitCodes.BadInput, $"--weights: {npy} is a NumPy .npy file, not a safetensors file");
    }

    [Fact]
    public void TextGivenAsWeights()
    {
        string text = _temp.WriteBytes("notes.safetensors", "these are not the weights you are looking for"u8.ToArray());

        CliHarness.Invoke(LstmRun(weights: text))
            .AssertFails(ExitCodes.BadInput, $"--weights: {text} is not a safetensors file: its first 8 bytes give a header length of");
    }

    [Fact]
    public void ZipGivenAsWeights()
    {
        string zip = _temp.WriteBytes("model.pt", [.. "PK\u0003\u0004"u8, .. new byte[60]]);

        CliHarness.Invoke(LstmRun(weights: zip)).AssertFails(ExitCodes.BadInput, "is a zip archive (a PyTorch torch.save checkpoint?), not a safetensors file");
    }

    [Fact]
    public void FolderGivenAsWeights() =>
        CliHarness.Invoke(LstmRun(weights: _temp.Root)).AssertFails(ExitCodes.BadInput, "is a folder, not a file");

    /// <summary>A bidirectional LSTM from 1 input feature to 2 x 256 output features: small x, large y.</summary>
    string WideningModel()
    {
        var spec = new RnnSpec(CellKind.Lstm, InputSize: 1, HiddenSize: 256, Bidirectional: true);
        var layers = Enumerable.Range(0, 2)
            .Select(_ => new LayerWeights(new float[1024], new float[1024 * 256], new float[1024], new float[1024])).ToList();
        string path = _temp.PathOf("widening.safetensors");
        SafetensorsWriter.Write(path, new RnnWeights(spec, layers).ToStateDict());
        return path;
    }

    [Fact]
    public void OutputOfMoreThanAnArrayHoldsIsReportedWithItsSize()
    {
        // y [4096, 1024, 512] = 2^31 floats: one more than int.MaxValue, far more than an array holds.
        string x = _temp.WriteFloat32("x.npy", FloatTensor.Zeros(4096, 1024, 1));

        CliHarness.Invoke("run", "--weights", WideningModel(), "--input", x, "--output", _temp.PathOf("y.npy"))
            .AssertFails(ExitCodes.OutOfMemory, "the output y [4096, 1024, 512] would hold 2147483648 floats (8589934592 bytes (8.0 GiB)), more than the");
        Assert.False(File.Exists(_temp.PathOf("y.npy")));
    }

    [Fact]
    public async Task OutOfMemoryNamesTheSizesAskedFor()
    {
        // y [1024, 64, 512] is 128 MiB; the managed heap may hold 64 MiB.
        string x = _temp.WriteFloat32("x.npy", FloatTensor.Zeros(1024, 64, 1));
        string[] args = [Path.Combine(AppContext.BaseDirectory, "fusedrnn.dll"), "run", "--weights", WideningModel(), "--input", x,
            "--output", _temp.PathOf("y.npy"), "--backend", "managed"];

        ProcessResult result = await ChildProcess.RunAsync(ChildProcess.Dotnet, args, TimeSpan.FromMinutes(1),
            environment: new Dictionary<string, string?> { ["DOTNET_GCHeapHardLimit"] = "0x4000000" });

        Assert.True(result.ExitCode == ExitCodes.OutOfMemory, result.ToString());
        Assert.Empty(result.Stdout);
        string line = Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("fusedrnn: error: out of memory: ", line, StringComparison.Ordinal);
        Assert.Contains("y [1024, 64, 512] = 33554432 floats (134217728 bytes (128.0 MiB))", line, StringComparison.Ordinal);
        Assert.Contains("h_n [2, 64, 256] = 32768 floats", line, StringComparison.Ordinal);
        Assert.False(File.Exists(_temp.PathOf("y.npy")));
        Assert.Equal(["widening.safetensors", "x.npy"], Directory.GetFiles(_temp.Root).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void MissingRequiredOption() =>
        CliHarness.Invoke("run", "--weights", TestData.PyTorch("lstm_basic")).AssertFails(ExitCodes.Usage, "'--input' is required");
}
