using System.Text.Json;
using FusedRnn.Cli;
using FusedRnn.Cli.Benchmarking;
using FusedRnn.Tests.Support;

namespace FusedRnn.Tests.Cli;

public class BenchCommandTests
{
    // Short enough to keep the suite fast; the warm-up and the minimum number of calls still apply.
    const string ShortDuration = "0.05";

    [Fact]
    public void JsonIsOneLineWithTheDocumentedFields()
    {
        CliResult result = CliHarness.Invoke("bench", "--workload", "lstm-step-b1-h64", "--backend", "managed", "--threads", "1",
            "--duration", ShortDuration, "--json");

        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Empty(result.Stderr);
        string line = Assert.Single(result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        using JsonDocument json = JsonDocument.Parse(line);
        JsonElement root = json.RootElement;
        Assert.Equal(["workload", "backend", "threads", "precision", "median_us", "p99_us", "iterations"], root.EnumerateObject().Select(property => property.Name));
        Assert.Equal("lstm-step-b1-h64", root.GetProperty("workload").GetString());
        Assert.Equal(RnnBackends.Managed, root.GetProperty("backend").GetString());
        Assert.Equal(1, root.GetProperty("threads").GetInt32());
        Assert.Equal("float32", root.GetProperty("precision").GetString());
        double median = root.GetProperty("median_us").GetDouble();
        Assert.True(median > 0, $"median {median}");
        Assert.True(root.GetProperty("p99_us").GetDouble() >= median);
        Assert.True(root.GetProperty("iterations").GetInt32() >= 10);
    }

    [Fact]
    public void AutoReportsTheBackendThatRan()
    {
        CliResult result = CliHarness.Invoke("bench", "--workload", "gru-step-b1-h256", "--duration", ShortDuration, "--json");

        Assert.True(result.ExitCode == 0, result.Stderr);
        using JsonDocument json = JsonDocument.Parse(result.Stdout);
        string? backend = json.RootElement.GetProperty("backend").GetString();
        Assert.Contains(backend, RnnBackends.Names);
        Assert.Equal(0, json.RootElement.GetProperty("threads").GetInt32());
    }

    [Fact]
    public void TimesAWholeSequenceAsATable()
    {
        CliResult result = CliHarness.Invoke("bench", "--workload", "lstm-seq-b1-t100-h128", "--backend", "managed", "--duration", ShortDuration);

        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Contains("lstm-seq-b1-t100-h128", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("median µs", result.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain('\u001b', result.Stdout);
    }

    [Fact]
    public void ListNamesEveryWorkload()
    {
        CliResult result = CliHarness.Invoke("bench", "--list");

        Assert.Equal(0, result.ExitCode);
        foreach (string name in Workload.Names) Assert.Contains(name, result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void ListAsJson()
    {
        CliResult result = CliHarness.Invoke("bench", "--list", "--json");

        Assert.True(result.ExitCode == 0, result.Stderr);
        string line = Assert.Single(result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        using JsonDocument json = JsonDocument.Parse(line);
        Assert.Equal(Workload.Names, json.RootElement.EnumerateArray().Select(workload => workload.GetProperty("name").GetString()));
        JsonElement bidirectional = json.RootElement.EnumerateArray().Single(workload => workload.GetProperty("name").GetString() == "bilstm2-seq-b16-t50-h256");
        Assert.Equal(("LSTM", 128, 256, 2, true, "sequence", 16, 50),
            (bidirectional.GetProperty("kind").GetString(), bidirectional.GetProperty("input_size").GetInt32(), bidirectional.GetProperty("hidden_size").GetInt32(),
             bidirectional.GetProperty("num_layers").GetInt32(), bidirectional.GetProperty("bidirectional").GetBoolean(),
             bidirectional.GetProperty("mode").GetString(), bidirectional.GetProperty("batch").GetInt32(), bidirectional.GetProperty("seq_len").GetInt32()));
    }

    [Fact]
    public void TimesTheUsersOwnModel()
    {
        CliResult result = CliHarness.Invoke("bench", "--weights", TestData.PyTorch("lstm_projection"), "--prefix", "rnn.", "--batch", "3",
            "--seq-len", "7", "--backend", "managed", "--duration", ShortDuration, "--json");

        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Empty(result.Stderr);
        using JsonDocument json = JsonDocument.Parse(result.Stdout);
        JsonElement root = json.RootElement;
        Assert.Equal(["model", "prefix", "spec", "batch", "seq_len", "backend", "threads", "precision", "median_us", "p99_us", "iterations"],
            root.EnumerateObject().Select(property => property.Name));
        Assert.Equal(TestData.PyTorch("lstm_projection"), root.GetProperty("model").GetString());
        Assert.StartsWith("LSTM(input_size=5, hidden_size=8", root.GetProperty("spec").GetString(), StringComparison.Ordinal);
        Assert.Equal((3, 7), (root.GetProperty("batch").GetInt32(), root.GetProperty("seq_len").GetInt32()));
        Assert.True(root.GetProperty("median_us").GetDouble() > 0);
    }

    [Fact]
    public void TimesTheUsersOwnModelAsATable()
    {
        CliResult result = CliHarness.Invoke("bench", "--weights", TestData.PyTorch("gru_basic"), "--backend", "managed", "--duration", ShortDuration);

        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Contains("gru_basic.safetensors", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("B=1, T=100 per call", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("median µs", result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void WorkloadAndWeightsTogetherAreAUsageError() =>
        CliHarness.Invoke("bench", "--workload", "lstm-step-b1-h64", "--weights", TestData.PyTorch("gru_basic"))
            .AssertFails(ExitCodes.Usage, "--workload and --weights cannot be combined");

    [Theory]
    [InlineData("--batch", "4")]
    [InlineData("--seq-len", "4")]
    [InlineData("--prefix", "rnn.")]
    public void ModelShapeOptionsNeedWeights(string option, string value) =>
        CliHarness.Invoke("bench", "--workload", "lstm-step-b1-h64", option, value)
            .AssertFails(ExitCodes.Usage, $"{option} applies only with --weights");

    [Theory]
    [InlineData("--batch", "0")]
    [InlineData("--seq-len", "-3")]
    public void BadModelShape(string option, string value) =>
        CliHarness.Invoke("bench", "--weights", TestData.PyTorch("gru_basic"), option, value)
            .AssertFails(ExitCodes.Usage, $"{option} must be a whole number of at least 1, not '{value}'");

    [Fact]
    public void NpyAsTheModelIsNamed()
    {
        using var temp = new TempDirectory();
        string npy = temp.WriteFloat32("x.npy", FloatTensor.Zeros(2, 3));

        CliHarness.Invoke("bench", "--weights", npy).AssertFails(ExitCodes.BadInput, "is a NumPy .npy file, not a safetensors file");
    }

    [Fact]
    public void ReluForAGruModel() =>
        CliHarness.Invoke("bench", "--weights", TestData.PyTorch("gru_basic"), "--nonlinearity", "relu")
            .AssertFails(ExitCodes.Usage, "--nonlinearity relu was given but the model is a GRU");

    [Fact]
    public void ModelTooLargeForTheRandomInput() =>
        CliHarness.Invoke("bench", "--weights", TestData.PyTorch("gru_basic"), "--batch", "2000000", "--seq-len", "2000")
            .AssertFails(ExitCodes.OutOfMemory, "the random input x [2000, 2000000, ");

    [Fact]
    public void ProgressGoesToStderrWhenStdoutIsATerminal()
    {
        CliResult result = CliHarness.InvokeWith(new CliSettings(StdoutIsTerminal: true),
            "bench", "--workload", "lstm-step-b1-h64", "--backend", "managed", "--duration", ShortDuration, "--json");

        Assert.True(result.ExitCode == 0, result.Stderr);
        using JsonDocument json = JsonDocument.Parse(result.Stdout);
        Assert.Contains("Warming up", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("Timing calls for 0.05 s", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void NoProgressWhenStdoutIsRedirected()
    {
        CliResult result = CliHarness.Invoke("bench", "--workload", "lstm-step-b1-h64", "--backend", "managed", "--duration", ShortDuration);

        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Empty(result.Stderr);
    }

    [Fact]
    public void UnknownWorkloadListsTheValidNames() =>
        CliHarness.Invoke("bench", "--workload", "lstm-step-b1-h65")
            .AssertFails(ExitCodes.Usage, "unknown workload 'lstm-step-b1-h65' for --workload; choose one of lstm-step-b1-h64, lstm-step-b1-h256");

    [Fact]
    public void MissingWorkload() =>
        CliHarness.Invoke("bench").AssertFails(ExitCodes.Usage, "--workload is required; choose one of lstm-step-b1-h64");

    [Fact]
    public void UnknownBackend() =>
        CliHarness.Invoke("bench", "--workload", "lstm-step-b1-h64", "--backend", "tpu").AssertFails(ExitCodes.Usage, "unknown backend 'tpu'");

    [Theory]
    [InlineData("float64")]
    [InlineData("FLOAT32")]
    public void TimesEitherPrecision(string precision)
    {
        CliResult result = CliHarness.Invoke("bench", "--workload", "gru-step-b1-h256", "--precision", precision, "--duration", ShortDuration, "--json");

        Assert.True(result.ExitCode == 0, result.Stderr);
        using JsonDocument json = JsonDocument.Parse(result.Stdout);
        Assert.Equal(precision.ToLowerInvariant(), json.RootElement.GetProperty("precision").GetString());
    }

    [Fact]
    public void UnknownPrecision() =>
        CliHarness.Invoke("bench", "--workload", "lstm-step-b1-h64", "--precision", "float16")
            .AssertFails(ExitCodes.Usage, "unknown precision 'float16' for --precision; choose one of float32, float64");

    [Theory]
    [InlineData("-1")]
    [InlineData("two")]
    public void BadThreads(string threads) =>
        CliHarness.Invoke("bench", "--workload", "lstm-step-b1-h64", "--threads", threads)
            .AssertFails(ExitCodes.Usage, $"--threads must be a whole number of at least 0, not '{threads}'");

    [Theory]
    [InlineData("0")]
    [InlineData("soon")]
    public void BadDuration(string duration) =>
        CliHarness.Invoke("bench", "--workload", "lstm-step-b1-h64", "--duration", duration)
            .AssertFails(ExitCodes.Usage, $"--duration must be a number of seconds above 0 and at most 3600, not '{duration}'");

    [Fact]
    public void UnavailableBackendIsReportedNotThrown()
    {
        BackendStatus? unavailable = RnnBackends.Describe().FirstOrDefault(backend => !backend.IsAvailable);
        if (unavailable is null) return; // every backend runs here: nothing to report

        CliHarness.Invoke("bench", "--workload", "lstm-step-b1-h64", "--backend", unavailable.Name, "--duration", ShortDuration)
            .AssertFails(ExitCodes.BadInput, $"backend '{unavailable.Name}' is not available");
    }
}

public class WorkloadCatalogueTests
{
    [Fact]
    public void NamesAreThoseOfTheDesign() =>
        Assert.Equal(
            [
                "lstm-step-b1-h64", "lstm-step-b1-h256", "gru-step-b1-h256", "lstm-seq-b1-t100-h128", "lstm-seq-b1-t100-h512",
                "gru-seq-b1-t100-h512", "lstm-seq-b32-t100-h512", "bilstm2-seq-b16-t50-h256", "lstm-seq-b1-t100-h1024",
                "lstm2-model-b1-h256-v10000",
            ],
            Workload.Names);

    [Fact]
    public void BidirectionalWorkloadHasInput128()
    {
        Workload workload = Workload.Find("bilstm2-seq-b16-t50-h256")!;

        Assert.Equal(new RnnSpec(CellKind.Lstm, 128, 256, NumLayers: 2, Bidirectional: true), workload.Spec);
        Assert.Equal((16, 50), (workload.Batch, workload.Steps));
    }

    [Fact]
    public void WeightsAreDeterministicAndWithinPyTorchsInitBound()
    {
        Workload workload = Workload.Find("lstm-step-b1-h64")!;
        float[] first = workload.CreateWeights().Layers[0].WeightHh, second = workload.CreateWeights().Layers[0].WeightHh;

        Assert.Equal(first, second);
        Assert.All(first, value => Assert.InRange(value, -0.125f, 0.125f)); // 1/sqrt(64)
        Assert.True(first.Max() > 0.12f && first.Min() < -0.12f, "the values should fill the bound");
    }

    [Fact]
    public void FlopsAndWeightTrafficOfOneLstmStep()
    {
        Workload workload = Workload.Find("lstm-step-b1-h64")!;
        const long weights = 4 * 64 * (64 + 64), biases = 2 * 4 * 64;

        Assert.Equal(2 * weights, workload.Flops);
        Assert.Equal((weights + biases) * sizeof(float), workload.WeightBytes);
        Assert.Equal(workload.WeightBytes, workload.WeightTrafficBytes);
    }

    [Fact]
    public void SequenceStreamsTheRecurrentWeightsEveryStep()
    {
        Workload workload = Workload.Find("lstm-seq-b1-t100-h128")!;
        const long recurrentBytes = 4 * 128 * 128 * sizeof(float);

        Assert.Equal(workload.WeightBytes + 99 * recurrentBytes, workload.WeightTrafficBytes);
        Assert.Equal(100L * 2 * 4 * 128 * 256, workload.Flops);
    }
}
