using FusedRnn.IO;
using FusedRnn.Tests.Support;

namespace FusedRnn.Tests.Cli;

/// <summary><c>fusedrnn run</c> on PyTorch reference cases: the .npy files it writes hold PyTorch's outputs.</summary>
public sealed class RunCommandTests : IDisposable
{
    readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Theory]
    [InlineData("lstm_packed_bidirectional", RnnBackends.Auto)]
    [InlineData("gru_deep_bidirectional_batch_first", RnnBackends.Auto)]
    [InlineData("lstm_projection", RnnBackends.Auto)]
    [InlineData("lstm_packed_bidirectional", RnnBackends.Cpu)]
    [InlineData("gru_packed_bidirectional", RnnBackends.Cpu)]
    [InlineData("lstm_packed_bidirectional", RnnBackends.Managed)]
    public void WritesPyTorchOutputs(string caseName, string backend)
    {
        var reference = new ReferenceCase(caseName);

        CliResult result = CliHarness.Invoke([.. ArgumentsFor(reference), "--backend", backend]);

        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Empty(result.Stdout);
        Assert.Empty(result.Stderr);
        AssertOutputsMatch(reference);
    }

    /// <summary>
    /// gru_large is where float32 arithmetic lands 3e-4 from the float64 answer (PyTorch's own float32 answer too):
    /// only the exact mode meets the float64 contract (1e-5) there, so this shows --precision reaches the kernels.
    /// </summary>
    [Theory]
    [InlineData(RnnBackends.Managed)]
    [InlineData(RnnBackends.Cpu)]
    public void Float64PrecisionIsExactWhereFloat32IsNot(string backend)
    {
        var reference = new ReferenceCase("gru_large");

        CliResult exact = CliHarness.Invoke([.. ArgumentsFor(reference), "--backend", backend, "--precision", "float64"]);
        Assert.True(exact.ExitCode == 0, exact.Stderr);
        AssertOutputsMatch(reference, RnnPrecision.Float64);

        CliResult fast = CliHarness.Invoke([.. ArgumentsFor(reference), "--backend", backend]);
        Assert.True(fast.ExitCode == 0, fast.Stderr);
        AssertOutputsMatch(reference, RnnPrecision.Float32);
        double float32Error = OutputError(reference).Value;
        Assert.True(float32Error > AccuracyContract.Bound(reference, RnnPrecision.Float64),
            $"float32 arithmetic landed {float32Error:E2} from the float64 answer, within the exact mode's bound: was it float32?");
    }

    [Theory]
    [InlineData(RnnBackends.Managed)]
    [InlineData(RnnBackends.Cpu)]
    public void VerbosePrintsOneSummaryLine(string backend)
    {
        var reference = new ReferenceCase("lstm_projection");

        CliResult result = CliHarness.Invoke([.. ArgumentsFor(reference), "--verbose", "--backend", backend]);

        Assert.Equal(0, result.ExitCode);
        string line = Assert.Single(result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("LSTM(input_size=5, hidden_size=8", line, StringComparison.Ordinal);
        Assert.Contains($"on {backend}", line, StringComparison.Ordinal);
        Assert.Contains("-> y [4, 2, 6]", line, StringComparison.Ordinal);
        Assert.Contains(" ms", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunsAsAProcess()
    {
        var reference = new ReferenceCase("lstm_projection");
        ProcessResult result = await ChildProcess.RunAsync(ChildProcess.Dotnet,
            [Path.Combine(AppContext.BaseDirectory, "fusedrnn.dll"), .. ArgumentsFor(reference)], TimeSpan.FromMinutes(1));

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Empty(result.Stdout);
        AssertOutputsMatch(reference);
    }

    /// <summary>Every input the case has, written as .npy; every output requested.</summary>
    List<string> ArgumentsFor(ReferenceCase reference)
    {
        List<string> args =
        [
            "run", "--weights", TestData.PyTorch(reference.Name), "--prefix", "rnn.",
            "--input", _temp.WriteFloat32("x.npy", reference.Get("x")),
            "--output", _temp.PathOf("y.npy"), "--hn", _temp.PathOf("hn.npy"),
        ];
        if (reference.Optional("h0") is { } h0) args.AddRange(["--h0", _temp.WriteFloat32("h0.npy", h0)]);
        if (reference.Optional("c0") is { } c0) args.AddRange(["--c0", _temp.WriteFloat32("c0.npy", c0)]);
        if (reference.Optional("cn") is not null) args.AddRange(["--cn", _temp.PathOf("cn.npy")]);
        if (reference.Lengths is { } lengths)
            args.AddRange(["--lengths", _temp.WriteBytes("lengths.npy", NpyBytes.Int64([.. lengths.Select(length => (long)length)]))]);
        if (reference.BatchFirst) args.Add("--batch-first");
        return args;
    }

    /// <summary>The written outputs hold PyTorch's answer within the accuracy contract of <paramref name="precision"/>
    /// (default: the default precision).</summary>
    void AssertOutputsMatch(ReferenceCase reference, RnnPrecision? precision = null)
    {
        RnnPrecision contract = precision ?? RnnOptions.Default.Precision;
        CaseError error = OutputError(reference);
        double bound = AccuracyContract.Bound(reference, contract);
        Assert.True(error.Value <= bound, $"{reference.Name}: error {error} above the {contract} bound {bound:E3}");
    }

    /// <summary>The largest error of the written outputs against PyTorch's float64 answer.</summary>
    CaseError OutputError(ReferenceCase reference)
    {
        var written = new Dictionary<string, float[]>();
        foreach (string name in reference.OutputNames)
        {
            NpyArray<float> array = Npy.ReadFloat32(_temp.PathOf(name + ".npy"));
            Assert.Equal(reference.File.GetInfo(name).Shape, array.Shape);
            written[name] = array.Data;
        }

        return AccuracyContract.Error(reference, written);
    }
}
