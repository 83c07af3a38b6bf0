using FusedRnn.Cli;
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
    public void MissingRequiredOption() =>
        CliHarness.Invoke("run", "--weights", TestData.PyTorch("lstm_basic")).AssertFails(ExitCodes.Usage, "'--input' is required");
}
