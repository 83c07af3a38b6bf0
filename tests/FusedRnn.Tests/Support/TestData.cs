using System.Numerics;
using System.Text.Json;
using FusedRnn.IO;

namespace FusedRnn.Tests.Support;

/// <summary>Paths of the reference files copied next to the tests.</summary>
public static class TestData
{
    public static string PyTorchDirectory => Path.Combine(AppContext.BaseDirectory, "data", "pytorch");

    public static string PyTorch(string caseName) => Path.Combine(PyTorchDirectory, caseName + ".safetensors");

    /// <summary>PyTorch's own float32 answers to the same cases (outputs only; no <c>lstm_projection*</c>).</summary>
    public static string PyTorchFloat32Directory => Path.Combine(AppContext.BaseDirectory, "data", "pytorch-float32");

    public static string PyTorchFloat32(string caseName) => Path.Combine(PyTorchFloat32Directory, caseName + ".safetensors");

    /// <summary>Every reference case: whole sequences through a module and step sequences through a cell.</summary>
    public static IEnumerable<string> AllCases =>
        Directory.EnumerateFiles(PyTorchDirectory, "*.safetensors")
            .Select(Path.GetFileNameWithoutExtension).OfType<string>().Order(StringComparer.Ordinal);

    public static IEnumerable<string> SequenceCases => AllCases.Where(name => !ReferenceCase.IsCellCase(name));
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

    /// <summary>Whether the case steps a cell (<c>lstmcell_steps</c>) rather than running a module over a sequence.</summary>
    public static bool IsCellCase(string name) => name.Contains("cell", StringComparison.Ordinal);

    public bool IsCell => IsCellCase(Name);

    /// <summary>
    /// The outputs a case is judged on, in the order of the file's layout: y, hn and (LSTM) cn of a sequence case; h
    /// and (LSTM) c after every step of a cell case.
    /// </summary>
    public IReadOnlyList<string> OutputNames => [.. (IsCell ? new[] { "h", "c" } : ["y", "hn", "cn"]).Where(File.Contains)];

    /// <summary>PyTorch's float64 answer (rounded to float32), by output name.</summary>
    public IReadOnlyDictionary<string, float[]> Expected => OutputNames.ToDictionary(name => name, File.ReadFloat32);

    /// <summary>PyTorch's float32 answer by output name, or null where there is none (the <c>lstm_projection*</c> cases).</summary>
    public IReadOnlyDictionary<string, float[]>? PyTorchFloat32
    {
        get
        {
            string path = TestData.PyTorchFloat32(Name);
            if (!System.IO.File.Exists(path)) return null;
            SafetensorsFile file = SafetensorsFile.Load(path);
            return file.TensorNames.ToDictionary(name => name, file.ReadFloat32);
        }
    }

    /// <summary>
    /// Runs the case through the library with <paramref name="options"/> (a module over the whole sequence, or a cell
    /// step by step with the state carried), returning its outputs by name like <see cref="Expected"/>.
    /// </summary>
    public IReadOnlyDictionary<string, float[]> Run(RnnOptions options)
    {
        if (IsCell)
        {
            using RecurrentCell cell = Weights.Spec.Kind switch
            {
                CellKind.Lstm => new LstmCell(Weights, options),
                CellKind.Gru => new GruCell(Weights, options),
                _ => new RnnCell(Weights, options),
            };
            FloatTensor x = Get("x");
            int steps = x.Dim(0), batch = x.Dim(1), inputSize = x.Dim(2), hidden = cell.HiddenSize;
            var hs = new float[steps * batch * hidden];
            float[]? cs = cell.Spec.Kind.HasCellState() ? new float[steps * batch * hidden] : null;
            FloatTensor? h = Optional("h0"), c = Optional("c0");
            for (int step = 0; step < steps; step++)
            {
                (h, c) = cell.Forward(new FloatTensor(x.Memory.Slice(step * batch * inputSize, batch * inputSize), batch, inputSize), h, c);
                h.Span.CopyTo(hs.AsSpan(step * batch * hidden));
                c?.Span.CopyTo(cs.AsSpan(step * batch * hidden));
            }

            return Named(hs, cs);
        }

        using RecurrentModule module = RecurrentModule.Create(Weights, options with { BatchFirst = BatchFirst });
        Assert.Equal(Config.GetProperty("mode").GetString(), module.Spec.Kind.DisplayName());
        SequenceOutput result = module.Forward(Get("x"), Optional("h0"), Optional("c0"), Lengths);
        return Named(result.Output.ToArray(), result.HiddenState.ToArray(), result.CellState?.ToArray());
    }

    /// <summary>The case through <see cref="ReferenceRnn"/> in the arithmetic <c>T</c>, unrounded, by output name.</summary>
    public IReadOnlyDictionary<string, T[]> RunReference<T>()
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        if (IsCell)
        {
            (T[] hs, T[]? cs) = ReferenceRnn.CellSteps<T>(Weights, Get("x"), Optional("h0"), Optional("c0"));
            return Named(hs, cs);
        }

        ReferenceOutput<T> result = ReferenceRnn.Forward<T>(Weights, Get("x"), Optional("h0"), Optional("c0"), Lengths, BatchFirst);
        return Named(result.Output, result.HiddenState, result.CellState);
    }

    private Dictionary<string, TValue[]> Named<TValue>(params TValue[]?[] outputs)
    {
        var named = new Dictionary<string, TValue[]>();
        foreach ((string name, TValue[]? values) in (IsCell ? new[] { "h", "c" } : ["y", "hn", "cn"]).Zip(outputs))
            if (values is not null) named[name] = values;
        return named;
    }
}
