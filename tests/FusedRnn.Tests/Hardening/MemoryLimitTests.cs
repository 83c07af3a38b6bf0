using FusedRnn.IO;
using FusedRnn.Tests.Support;

namespace FusedRnn.Tests.Hardening;

/// <summary>
/// A call whose workspace does not fit the memory the process may use is refused before anything is allocated, with
/// the bytes named — in a child process whose GC heap is capped at 512 MiB (the way containers cap it).
/// </summary>
public class MemoryLimitTests
{
    // An LSTM with hidden 4096 projected to 1: x and y are tiny, the input projection of 4096 steps needs 1 GiB.
    private static readonly RnnSpec Spec = new(CellKind.Lstm, 1, 4096, Bidirectional: true, Bias: false, ProjSize: 1);

    [Fact]
    public async Task ManagedRefusesAWorkspaceBeyondTheHeapLimitNamingTheBytes()
    {
        string root = Directory.CreateTempSubdirectory("fusedrnn-memory-").FullName;
        try
        {
            ProcessResult result = await RunUnderHeapLimit(root, steps: 4096);
            Assert.True(result.ExitCode != 0, result.ToString());
            Assert.Contains("bytes of workspace", result.Stderr);
            Assert.Contains("input projection", result.Stderr);
            Assert.DoesNotContain("   at ", result.Stderr); // one line, no stack trace
            Assert.False(File.Exists(Path.Combine(root, "y.npy")), "a refused call left an output behind");
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    /// <summary>Under the same limit a call that fits runs: the check counts this process's heap, not the machine's load.</summary>
    [Fact]
    public async Task ManagedRunsACallThatFitsUnderTheHeapLimit()
    {
        string root = Directory.CreateTempSubdirectory("fusedrnn-memory-").FullName;
        try
        {
            ProcessResult result = await RunUnderHeapLimit(root, steps: 8);
            Assert.True(result.ExitCode == 0, result.ToString());
            Assert.True(File.Exists(Path.Combine(root, "y.npy")));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    private static Task<ProcessResult> RunUnderHeapLimit(string root, int steps)
    {
        string weights = Path.Combine(root, "m.safetensors"), input = Path.Combine(root, "x.npy");
        SafetensorsWriter.Write(weights, RandomNetworks.Create(Spec, 1).ToStateDict());
        Npy.WriteFloat32(input, new float[steps], [steps, 1, 1]);
        string cli = Path.Combine(AppContext.BaseDirectory, "fusedrnn.dll");
        return ChildProcess.RunAsync(ChildProcess.Dotnet,
            [cli, "run", "--weights", weights, "--input", input, "--output", Path.Combine(root, "y.npy"), "--backend", "managed"],
            TimeSpan.FromMinutes(2), environment: new Dictionary<string, string?> { ["DOTNET_GCHeapHardLimit"] = "0x20000000" });
    }
}
