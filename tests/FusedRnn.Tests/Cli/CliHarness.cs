using System.Text;
using FusedRnn.Cli;
using FusedRnn.IO;

namespace FusedRnn.Tests.Cli;

/// <summary>What one invocation of the command line printed and returned.</summary>
public sealed record CliResult(int ExitCode, string Stdout, string Stderr)
{
    public string[] StderrLines => Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}

public static class CliHarness
{
    /// <summary>Runs <c>fusedrnn</c> in this process, its output captured as if redirected to a file.</summary>
    public static CliResult Invoke(params IEnumerable<string> args) => InvokeWith(new CliSettings(), args);

    /// <summary>Runs <c>fusedrnn</c> in this process as if its streams were as <paramref name="settings"/> says.</summary>
    public static CliResult InvokeWith(CliSettings settings, params IEnumerable<string> args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        int exitCode = CliApplication.Run([.. args], stdout, stderr, settings.StdoutIsTerminal, settings.StderrIsTerminal, settings.OutputStreamFilter);
        return new CliResult(exitCode, stdout.ToString(), stderr.ToString());
    }

    /// <summary>Asserts the contract for bad input: the exit code, nothing on stdout, one error line with the key phrase.</summary>
    public static void AssertFails(this CliResult result, int exitCode, string phrase)
    {
        Assert.True(result.ExitCode == exitCode, $"exit code {result.ExitCode}, expected {exitCode}; stderr: {result.Stderr}");
        Assert.Empty(result.Stdout);
        string line = Assert.Single(result.StderrLines);
        Assert.StartsWith("fusedrnn: error: ", line, StringComparison.Ordinal);
        Assert.Contains(phrase, line, StringComparison.Ordinal);
    }
}

/// <summary>How an in-process invocation sees its streams, and a hook on the output files it writes.</summary>
/// <param name="StdoutIsTerminal">As if stdout were a terminal (progress shows on stderr).</param>
/// <param name="StderrIsTerminal">As if stderr were a terminal.</param>
/// <param name="OutputStreamFilter">Wraps the stream of each output file (the path as given): a full disk, say.</param>
public sealed record CliSettings(bool StdoutIsTerminal = false, bool StderrIsTerminal = false, Func<Stream, string, Stream>? OutputStreamFilter = null);

/// <summary>A fresh folder under the system's temp folder, deleted on dispose.</summary>
public sealed class TempDirectory : IDisposable
{
    public string Root { get; } = Directory.CreateTempSubdirectory("fusedrnn-cli-tests-").FullName;

    public string PathOf(string fileName) => System.IO.Path.Combine(Root, fileName);

    public string WriteFloat32(string fileName, FloatTensor tensor)
    {
        string path = PathOf(fileName);
        Npy.WriteFloat32(path, tensor.Span, tensor.Shape);
        return path;
    }

    public string WriteBytes(string fileName, byte[] bytes)
    {
        string path = PathOf(fileName);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    public void Dispose() => Directory.Delete(Root, recursive: true);
}

/// <summary>.npy files in dtypes the library does not write.</summary>
public static class NpyBytes
{
    public static byte[] Int64(params long[] values) => Create("<i8", [values.Length], [.. values.SelectMany(BitConverter.GetBytes)]);

    public static byte[] Int32(params int[] values) => Create("<i4", [values.Length], [.. values.SelectMany(BitConverter.GetBytes)]);

    public static byte[] Float64(int[] shape, double[] values) => Create("<f8", shape, [.. values.SelectMany(BitConverter.GetBytes)]);

    public static byte[] Int64(int[] shape, long[] values) => Create("<i8", shape, [.. values.SelectMany(BitConverter.GetBytes)]);

    public static byte[] Int32(int[] shape, int[] values) => Create("<i4", shape, [.. values.SelectMany(BitConverter.GetBytes)]);

    /// <summary>A version 1.0 file as numpy writes it: the header padded with spaces and a newline to 64 bytes.</summary>
    static byte[] Create(string descr, int[] shape, byte[] data)
    {
        string shapeText = shape.Length == 1 ? $"({shape[0]},)" : $"({string.Join(", ", shape)})";
        string dict = $"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shapeText}, }}";
        int headerLength = (10 + dict.Length + 1 + 63) / 64 * 64 - 10;
        var bytes = new List<byte> { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0 };
        bytes.AddRange(BitConverter.GetBytes((ushort)headerLength));
        bytes.AddRange(Encoding.ASCII.GetBytes(dict.PadRight(headerLength - 1) + "\n"));
        bytes.AddRange(data);
        return [.. bytes];
    }
}
