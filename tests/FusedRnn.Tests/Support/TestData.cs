using System.Text.Json;
using FusedRnn.IO;

namespace FusedRnn.Tests.Support;

/// <summary>Paths of the reference files copied next to the tests.</summary>
public static class TestData
{
    public static string PyTorchDirectory => Path.Combine(AppContext.BaseDirectory, "data", "pytorch");

    public static string PyTorch(string caseName) => Path.Combine(PyTorchDirectory, caseName + ".safetensors");

    public static IEnumerable<string> SequenceCases =>
        Directory.EnumerateFiles(PyTorchDirectory, "*.safetensors")
            .Select(Path.GetFileNameWithoutExtension).OfType<string>()
            .Where(name => !name.Contains("cell", StringComparison.Ordinal)).Order();
}

/// <summary>One PyTorch reference case: the module's weights, its inputs and outputs, and its config.</summary>
public sealed class ReferenceCase
{
    public ReferenceCase(string name)
    {
        Name = name;
        File = SafetensorsFile.Load(TestData.PyTorch(name));
        Config = JsonDocument.Parse(File.Metadata["config"]).RootElement;
    }

    public string Name { get; }

    public SafetensorsFile File { get; }

    public JsonElement Config { get; }

    public bool BatchFirst => Config.TryGetProperty("batch_first", out JsonElement v) && v.GetBoolean();

    public RnnWeights Weights => RnnWeights.FromSafetensors(File, "rnn.");

    public FloatTensor Get(string name)
    {
        SafetensorsTensorInfo info = File.GetInfo(name);
        return new FloatTensor(File.ReadFloat32(name), info.Shape);
    }

    public FloatTensor? Optional(string name) => File.Contains(name) ? Get(name) : null;

    public int[]? Lengths => File.Contains("lengths") ? [.. File.ReadInt64("lengths").Select(v => (int)v)] : null;
}
