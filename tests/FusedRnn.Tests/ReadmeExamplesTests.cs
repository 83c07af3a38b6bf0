using System.Reflection;
using System.Text.RegularExpressions;
using FusedRnn.IO;
using FusedRnn.Tests.Support;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace FusedRnn.Tests;

/// <summary>
/// Every <c>csharp</c> block of the README compiles as a program of its own (nullable warnings as errors, as a new
/// project has them) and runs to completion over the model and data files it names, written here first.
/// </summary>
[Collection(nameof(ReadmeExamplesTests))] // runs with the working directory set to its files: alone
[CollectionDefinition(nameof(ReadmeExamplesTests), DisableParallelization = true)]
public partial class ReadmeExamplesTests
{
    public static TheoryData<int> Examples => [.. Enumerable.Range(0, CodeBlocks().Count)];

    [Fact]
    public void TheReadmeHasExamples() => Assert.True(CodeBlocks().Count >= 3, "the README lost its examples");

    [Theory]
    [MemberData(nameof(Examples))]
    public void ExampleCompilesAndRuns(int index)
    {
        string code = CodeBlocks()[index];
        byte[] assembly = Compile(code, index);
        using var files = new ExampleFiles();
        string previous = Directory.GetCurrentDirectory();
        var output = new StringWriter();
        TextWriter console = Console.Out;
        try
        {
            Directory.SetCurrentDirectory(files.Root);
            Console.SetOut(output);
            MethodInfo entry = Assembly.Load(assembly).EntryPoint ?? throw new InvalidOperationException("no entry point");
            entry.Invoke(null, entry.GetParameters().Length == 0 ? null : [Array.Empty<string>()]);
        }
        finally
        {
            Console.SetOut(console);
            Directory.SetCurrentDirectory(previous);
        }

        // The first example prints the spec it loaded: the comment beside it says what.
        if (code.Contains("Console.WriteLine(lstm.Spec)", StringComparison.Ordinal))
            Assert.Contains("LSTM(input_size=64, hidden_size=128, num_layers=2, bidirectional=True", output.ToString());
    }

    private static List<string> CodeBlocks()
    {
        string readme = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "README.md"));
        return [.. CodeBlock().Matches(readme).Select(match => match.Groups[1].Value)];
    }

    private static byte[] Compile(string code, int index)
    {
        string[] trusted = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator);
        IEnumerable<MetadataReference> references = trusted
            .Concat([typeof(Lstm).Assembly.Location, typeof(System.Numerics.Tensors.TensorPrimitives).Assembly.Location])
            .Distinct()
            .Select(path => MetadataReference.CreateFromFile(path));
        var options = new CSharpCompilationOptions(OutputKind.ConsoleApplication, nullableContextOptions: NullableContextOptions.Enable,
            generalDiagnosticOption: ReportDiagnostic.Error);
        string implicitUsings = "global using System; global using System.IO; global using System.Linq; global using System.Collections.Generic;\n";
        var compilation = CSharpCompilation.Create($"ReadmeExample{index}",
            [CSharpSyntaxTree.ParseText(implicitUsings), CSharpSyntaxTree.ParseText(code, new CSharpParseOptions(LanguageVersion.Latest))],
            references, options);
        using var stream = new MemoryStream();
        var result = compilation.Emit(stream);
        Diagnostic[] problems = [.. result.Diagnostics.Where(d => d.Severity >= DiagnosticSeverity.Warning && d.Id != "CS8019")];
        Assert.True(result.Success && problems.Length == 0,
            $"README example {index + 1} does not compile:\n{string.Join("\n", problems.Select(d => d.ToString()))}\n{code}");
        return stream.ToArray();
    }

    [GeneratedRegex(@"```csharp\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex CodeBlock();

    /// <summary>The README's one <c>json</c> block: the whole-model example's description.</summary>
    [GeneratedRegex(@"```json\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex JsonBlock();

    /// <summary>
    /// The files the examples name: model.safetensors (an LSTM under "rnn."), x.npy, gru.safetensors, model.onnx (one
    /// LSTM node), model.keras (a Bidirectional LSTM on 8 features feeding a GRU, then a Dense head), and the whole
    /// models classifier.safetensors with classifier.json (the README's json block) and classifier.keras.
    /// </summary>
    private sealed class ExampleFiles : IDisposable
    {
        public string Root { get; } = Directory.CreateTempSubdirectory("fusedrnn-readme-").FullName;

        public ExampleFiles()
        {
            var lstm = new RnnSpec(CellKind.Lstm, 64, 128, NumLayers: 2, Bidirectional: true);
            SafetensorsWriter.Write(Path.Combine(Root, "model.safetensors"), RandomNetworks.Create(lstm, 1).ToStateDict("rnn."));
            SafetensorsWriter.Write(Path.Combine(Root, "gru.safetensors"), RandomNetworks.Create(new RnnSpec(CellKind.Gru, 16, 32), 2).ToStateDict());
            Npy.WriteFloat32(Path.Combine(Root, "x.npy"), RandomNetworks.Uniform(new Random(3), 3 * 30 * 64, 1f), [3, 30, 64]);
            File.WriteAllBytes(Path.Combine(Root, "model.onnx"),
                FusedRnn.Onnx.OnnxModelBuilder.SingleNode(RandomNetworks.Create(new RnnSpec(CellKind.Lstm, 8, 16), 4), new FusedRnn.Onnx.SingleNodeSignature(10, 2)));
            File.WriteAllBytes(Path.Combine(Root, "model.keras"), Keras.KerasFiles.KerasArchive(
                [Keras.KerasLayerFixture.Random("LSTM", "bidirectional", 8, 16, 5, bidirectional: true), Keras.KerasLayerFixture.Random("GRU", "gru", 32, 16, 6)],
                others: [("Dense", "dense")]));
            WriteClassifiers();
        }

        /// <summary>The whole models of the "Whole sequence models" example: Embedding(1000, 32) → LSTM(32, 64) → Linear(64, 5) + softmax.</summary>
        private void WriteClassifiers()
        {
            var random = new Random(7);
            FloatTensor Random(params int[] shape) => new(RandomNetworks.Uniform(random, shape.Aggregate(1, (a, b) => a * b), 0.5f), shape);
            FloatTensor table = Random(1000, 32), weight = Random(5, 64), bias = Random(5);
            var tensors = new Dictionary<string, (int[] Shape, float[] Data)>
            {
                ["embedding.weight"] = (table.Shape.ToArray(), table.ToArray()),
                ["fc.weight"] = (weight.Shape.ToArray(), weight.ToArray()),
                ["fc.bias"] = (bias.Shape.ToArray(), bias.ToArray()),
            };
            foreach (var tensor in RandomNetworks.Create(new RnnSpec(CellKind.Lstm, 32, 64), 8).ToStateDict("lstm.")) tensors[tensor.Key] = tensor.Value;
            SafetensorsWriter.Write(Path.Combine(Root, "classifier.safetensors"), tensors);
            string readme = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "README.md"));
            File.WriteAllText(Path.Combine(Root, "classifier.json"), JsonBlock().Match(readme).Groups[1].Value);

            Keras.KerasLayerFixture lstm = Keras.KerasLayerFixture.Random("LSTM", "lstm", 32, 64, 9) with { ReturnSequences = false };
            var kernel = new FloatTensor(RandomNetworks.Uniform(random, 64 * 5, 0.5f), 64, 5);
            File.WriteAllBytes(Path.Combine(Root, "classifier.keras"),
                Keras.KerasFiles.WholeModelArchive([lstm], new Keras.KerasHeadsFixture(table, [new Keras.KerasDenseFixture(kernel, bias, "softmax")])));
        }

        public void Dispose() => Directory.Delete(Root, recursive: true);
    }
}
