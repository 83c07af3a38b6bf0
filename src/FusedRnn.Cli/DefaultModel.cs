using FusedRnn.IO;

namespace FusedRnn.Cli;

/// <summary>The model embedded in the executable, so that <c>fusedrnn demo</c> needs no files (see DefaultModel/README.md).</summary>
internal static class DefaultModel
{
    public const string FileName = "default-lstm.safetensors";
    const string ResourceName = "FusedRnn.Cli." + FileName;
    const string Prefix = "rnn.";

    public static RnnWeights Load()
    {
        using Stream stream = typeof(DefaultModel).Assembly.GetManifestResourceStream(ResourceName)
            ?? throw new InvalidOperationException($"the executable has no embedded resource '{ResourceName}'");
        using var bytes = new MemoryStream();
        stream.CopyTo(bytes);
        return RnnWeights.FromSafetensors(SafetensorsFile.Parse(bytes.ToArray(), FileName), Prefix);
    }
}
