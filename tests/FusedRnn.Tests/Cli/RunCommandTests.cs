using System.Diagnostics;
using FusedRnn.IO;
using FusedRnn.Tests.Support;

namespace FusedRnn.Tests.Cli;

/// <summary><c>fusedrnn run</c> on PyTorch reference cases: the .npy files it writes hold PyTorch's outputs.</summary>
public sealed class RunCommandTests : IDisposable
{
    readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Theory]
    [InlineData("lstm_packed_bidirectional")]
    [InlineData("gru_deep_bidirectional_batch_first")]
    [InlineData("lstm_projection")]
    public void WritesPyTorchOutputs(string caseName)
    {
        var reference = new ReferenceCase(caseName);

        CliResult result = CliHarness.Invoke(ArgumentsFor(reference));

        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Empty(result.Stdout);
        Assert.Empty(result.Stderr);
        AssertOutputsMatch(reference);
    }

    [Fact]
    public void VerbosePrintsOneSummaryLine()
    {
        var reference = new ReferenceCase("lstm_projection");

        CliResult result = CliHarness.Invoke([.. ArgumentsFor(reference), "--verbose", "--backend", "managed"]);

        Assert.Equal(0, result.ExitCode);
        string line = Assert.Single(result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("LSTM(input_size=5, hidden_size=8", line, StringComparison.Ordinal);
        Assert.Contains("on managed", line, StringComparison.Ordinal);
        Assert.Contains("-> y [4, 2, 6]", line, StringComparison.Ordinal);
        Assert.Contains(" ms", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunsAsAProcess()
    {
        var reference = new ReferenceCase("lstm_projection");
        // The SDK names the dotnet executable that runs the tests; "dotnet" on the PATH is the fallback.
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "fusedrnn.dll"));
        foreach (string argument in ArgumentsFor(reference)) start.ArgumentList.Add(argument);

        using Process process = Process.Start(start)!;
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        Task<string> stdout = process.StandardOutput.ReadToEndAsync(timeout.Token);
        Task<string> stderr = process.StandardError.ReadToEndAsync(timeout.Token);
        await process.WaitForExitAsync(timeout.Token);

        Assert.True(process.ExitCode == 0, $"exit code {process.ExitCode}; stderr: {await stderr}");
        Assert.Empty(await stdout);
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

    void AssertOutputsMatch(ReferenceCase reference)
    {
        foreach (string name in new[] { "y", "hn", "cn" }.Where(reference.File.Contains))
        {
            NpyArray<float> written = Npy.ReadFloat32(_temp.PathOf(name + ".npy"));
            Tolerance.AssertClose(reference.Get(name), new Tensor(written.Data, written.Shape), Tolerance.Reference, name);
        }
    }
}
