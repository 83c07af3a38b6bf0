using FusedRnn.IO;
using FusedRnn.Tests.Support;

namespace FusedRnn.Tests.Hardening;

/// <summary>
/// A call whose workspace does not fit the memory the process may use is refused before anything is allocated, with
/// the bytes named — in a child process whose GC heap is capped at 512 MiB (the way containers cap it).
/// </summary>
public class MemoryLimitTests
{
    [Fact]
    public async Task ManagedRefusesAWorkspaceBeyondTheHeapLimitNamingTheBytes()
    {
        string root = Directory.CreateTempSubdirectory("fusedrnn-memory-").FullName;
        try
        {
            // An LSTM with hidden 4096 projected to 1: x and y are tiny, the input projection of 4096 steps needs 1 GiB.
            var spec = new RnnSpec(CellKind.Lstm, 1, 4096, Bidirectional: true, Bias: false, ProjSize: 1);
            string weights = Path.Combine(root, "m.safetensors"), input = Path.Combine(root, "x.npy");
            SafetensorsWriter.Write(weights, RandomNetworks.Create(spec, 1).ToStateDict());
            Npy.WriteFloat32(input, new float[4096], [4096, 1, 1]);
            string cli = Path.Combine(AppContext.BaseDirectory, "fusedrnn.dll");
            ProcessResult result = await ChildProcess.RunAsync(ChildProcess.Dotnet,
                [cli, "run", "--weights", weights, "--input", input, "--output", Path.Combine(root, "y.npy"), "--backend", "managed"],
                TimeSpan.FromMinutes(2), environment: new Dictionary<string, string?> { ["DOTNET_GCHeapHardLimit"] = "0x20000000" });

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
}
