using FusedRnn.Cli;
using FusedRnn.Tests.SequenceModels;
using FusedRnn.Tests.Support;

namespace FusedRnn.Tests.Cli;

/// <summary>
/// <c>fusedrnn parity</c>: every available backend on one model (the embedded one, a state_dict, an ONNX model, a
/// whole sequence model), compared with the exact answer and with each other; a tolerance nothing meets exits with
/// <see cref="ExitCodes.ParityFailed"/>; bad arguments are usage errors.
/// </summary>
public sealed class ParityCommandTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private static string[] AvailableBackends => [.. RnnBackends.Describe().Where(backend => backend.IsAvailable).Select(backend => backend.Name)];

    [Theory]
    [InlineData("float32")]
    [InlineData("float64")]
    public void TheEmbeddedModelAgreesOnEveryBackend(string precision)
    {
        CliResult result = CliHarness.Invoke("parity", "--steps", "4", "--precision", precision);

        Assert.True(result.ExitCode == 0, result.Stdout + result.Stderr);
        Assert.Empty(result.Stderr);
        Assert.Contains("LSTM(input_size=64, hidden_size=128, num_layers=2", result.Stdout, StringComparison.Ordinal);
        Assert.Contains($"Precision: {precision}", result.Stdout, StringComparison.Ordinal);
        foreach (string backend in AvailableBackends) Assert.Contains($"{backend} vs exact", result.Stdout, StringComparison.Ordinal);
        string[] names = AvailableBackends;
        for (int i = 0; i < names.Length; i++)
            for (int j = i + 1; j < names.Length; j++) Assert.Contains($"{names[i]} vs {names[j]}", result.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("outside", result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void ATolerancePastEveryBackendExitsWithParityFailedNamingThePairs()
    {
        CliResult result = CliHarness.Invoke("parity", "--steps", "3", "--backends", RnnBackends.Managed, "--tolerance", "1e-12");

        Assert.Equal(ExitCodes.ParityFailed, result.ExitCode);
        Assert.StartsWith("fusedrnn: error: outside the tolerance: managed vs exact differs by", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("outside", result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void AStateDictOfAnotherKindRunsWithItsPrefix()
    {
        CliResult result = CliHarness.Invoke("parity", "--weights", TestData.PyTorch("gru_basic"), "--prefix", "rnn.", "--steps", "5", "--batch", "3");

        Assert.True(result.ExitCode == 0, result.Stdout + result.Stderr);
        Assert.Contains("GRU(", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("y, h_n", result.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("c_n", result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void AnOnnxStackAndAWholeOnnxModelRun()
    {
        string stack = Path.Combine(AppContext.BaseDirectory, "data", "onnx-export", "lstm_2layer_bidirectional_batch_first", "model.onnx");
        string whole = Path.Combine(AppContext.BaseDirectory, "data", "onnx-export-whole", "lstm_classifier_last_step", "model.onnx");

        CliResult stackResult = CliHarness.Invoke("parity", "--weights", stack, "--steps", "3");
        CliResult wholeResult = CliHarness.Invoke("parity", "--weights", whole, "--steps", "3", "--precision", "float64");

        Assert.True(stackResult.ExitCode == 0, stackResult.Stdout + stackResult.Stderr);
        Assert.Contains("ONNX ", stackResult.Stdout, StringComparison.Ordinal);
        Assert.True(wholeResult.ExitCode == 0, wholeResult.Stdout + wholeResult.Stderr);
        Assert.Contains("the whole ONNX model", wholeResult.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void AWholePyTorchModelRunsOnTokenIds()
    {
        var (weights, description, _, _, _, _) = SequenceModelTests.PyTorchModel();
        string weightsPath = _temp.WriteBytes("model.safetensors", weights);
        string configPath = _temp.WriteBytes("model.json", System.Text.Encoding.UTF8.GetBytes(description));

        CliResult result = CliHarness.Invoke("parity", "--weights", weightsPath, "--model-config", configPath, "--steps", "6");

        Assert.True(result.ExitCode == 0, result.Stdout + result.Stderr);
        Assert.Contains("described by", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("over y", result.Stdout, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("unknown backend 'gpu' for --backends", "parity", "--backends", "cpu,gpu")]
    [InlineData("--steps must be a whole number of at least 1", "parity", "--steps", "0")]
    [InlineData("--tolerance must be a positive number", "parity", "--tolerance", "-1")]
    [InlineData("--tolerance must be a positive number", "parity", "--tolerance", "NaN")]
    [InlineData("--prefix was given without --weights", "parity", "--prefix", "rnn.")]
    [InlineData("--nonlinearity was given without --weights", "parity", "--nonlinearity", "relu")]
    public void BadArgumentsAreUsageErrors(string phrase, params string[] args) =>
        CliHarness.Invoke(args).AssertFails(ExitCodes.Usage, phrase);

    [Fact]
    public void ALayerForAStateDictIsAUsageError() =>
        CliHarness.Invoke("parity", "--weights", TestData.PyTorch("gru_basic"), "--layer", "lstm").AssertFails(ExitCodes.Usage, "--layer was given but --weights is not a Keras model");

    [Fact]
    public void AMissingFileAndAnUnavailableBackendAreBadInput()
    {
        CliHarness.Invoke("parity", "--weights", _temp.PathOf("missing.safetensors")).AssertFails(ExitCodes.BadInput, "was not found");
        if (RnnBackends.Describe().FirstOrDefault(backend => !backend.IsAvailable) is { } unavailable)
            CliHarness.Invoke("parity", "--backends", unavailable.Name).AssertFails(ExitCodes.BadInput, $"backend '{unavailable.Name}' is not available");
    }

    [Theory]
    [InlineData(RnnPrecision.Float64, new[] { 3e-7, 1e-9 }, 1e-5)]
    [InlineData(RnnPrecision.Float32, new[] { 3e-7, 1e-7 }, 2e-6)]
    [InlineData(RnnPrecision.Float32, new[] { 9e-6, 2e-6 }, 8e-6)]
    public void TheDefaultToleranceIsThePrecisionsContract(RnnPrecision precision, double[] errors, double expected) =>
        Assert.Equal(expected, ParityCommand.DefaultTolerance(precision, errors), 12);
}
