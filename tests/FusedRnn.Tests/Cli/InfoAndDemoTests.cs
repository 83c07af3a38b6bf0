using System.Text.Json;
using FusedRnn.Cli;
using FusedRnn.Tests.Support;

namespace FusedRnn.Tests.Cli;

public class InfoCommandTests
{
    [Fact]
    public void PrintsATableWithTheManagedBackend()
    {
        CliResult result = CliHarness.Invoke("info");

        Assert.Equal(0, result.ExitCode);
        Assert.Empty(result.Stderr);
        Assert.Contains("managed", result.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain('\u001b', result.Stdout);
    }

    [Fact]
    public void PrintsJson()
    {
        CliResult result = CliHarness.Invoke("info", "--json");

        Assert.Equal(0, result.ExitCode);
        using JsonDocument json = JsonDocument.Parse(result.Stdout);
        JsonElement managed = json.RootElement.GetProperty("backends").EnumerateArray()
            .Single(backend => backend.GetProperty("name").GetString() == RnnBackends.Managed);
        Assert.True(managed.GetProperty("available").GetBoolean());
        Assert.True(json.RootElement.GetProperty("processorCount").GetInt32() >= 1);
        Assert.False(string.IsNullOrWhiteSpace(json.RootElement.GetProperty("processor").GetString()));
        Assert.Equal("float32", json.RootElement.GetProperty("defaultPrecision").GetString());
    }
}

public class DemoCommandTests
{
    [Fact]
    public void MeasuresTheManagedBackend()
    {
        CliResult result = CliHarness.Invoke("demo", "--steps", "5");

        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Empty(result.Stderr);
        Assert.Contains("LSTM(input_size=64, hidden_size=128, num_layers=2", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("managed", result.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain('\u001b', result.Stdout);
    }

    [Theory]
    [InlineData("float32")]
    [InlineData("float64")]
    public void SaysWhichPrecisionRan(string precision)
    {
        CliResult result = CliHarness.Invoke("demo", "--steps", "3", "--backend", RnnBackends.Managed, "--precision", precision);

        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Contains($"Precision: {precision};", result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void UnavailableBackendAskedForByNameFails()
    {
        BackendStatus? unavailable = RnnBackends.Describe().FirstOrDefault(backend => !backend.IsAvailable);
        if (unavailable is null) return; // every backend runs here: nothing to reject

        CliHarness.Invoke("demo", "--steps", "2", "--backend", unavailable.Name)
            .AssertFails(ExitCodes.BadInput, $"backend '{unavailable.Name}' is not available: {unavailable.UnavailableReason}");
    }

    [Fact]
    public void RejectsZeroSteps() =>
        CliHarness.Invoke("demo", "--steps", "0").AssertFails(ExitCodes.Usage, "--steps must be a whole number of at least 1");

    [Fact]
    public void EmbedsTheWeightsOfLstmLarge()
    {
        RnnWeights embedded = DefaultModel.Load();
        RnnWeights source = new ReferenceCase("lstm_large").Weights;

        Assert.Equal(new RnnSpec(CellKind.Lstm, 64, 128, NumLayers: 2), embedded.Spec);
        foreach (((string name, (int[] shape, float[] data)), (_, (int[] sourceShape, float[] sourceData))) in embedded.ToStateDict().Zip(source.ToStateDict()))
        {
            Assert.Equal(sourceShape, shape);
            Assert.True(sourceData.AsSpan().SequenceEqual(data), $"{name} differs from lstm_large");
        }
    }
}

public class RootCommandTests
{
    [Fact]
    public void NoArgumentsPrintsHelp()
    {
        CliResult result = CliHarness.Invoke();

        Assert.Equal(0, result.ExitCode);
        Assert.Contains("Usage:", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("demo", result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void UnknownCommandIsAUsageError() =>
        CliHarness.Invoke("train").AssertFails(ExitCodes.Usage, "'train'");
}
