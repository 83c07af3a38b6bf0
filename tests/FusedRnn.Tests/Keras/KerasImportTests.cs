using FusedRnn.Tests.Support;

namespace FusedRnn.Tests.Keras;

/// <summary>
/// <see cref="KerasModel"/> on Keras's four file styles written by <see cref="KerasFiles"/>, every layer class and
/// setting the importer reads, run on every backend in both precisions against <see cref="KerasReference"/> (Keras's
/// formulas in float64); plus the seed documents' hand-computed check and <see cref="KerasRecurrentLayer.FromArrays"/>.
/// </summary>
public class KerasImportTests
{
    /// <summary>How a case's model reaches the reader.</summary>
    public enum FileStyle { KerasArchive, Keras3WeightsWithConfig, LegacyModel, LegacyWeightsWithConfig, LegacyModelAsLibhdf5Writes }

    public sealed record Case(string Name, KerasLayerFixture[] Layers, int[]? Lengths = null, bool InitialStates = false)
    {
        public override string ToString() => Name;
    }

    private static KerasLayerFixture Layer(string className, int inputSize, int units, int seed, string name = "", bool bidirectional = false,
        bool useBias = true, bool resetAfter = true) =>
        KerasLayerFixture.Random(className, name.Length > 0 ? name : className.ToLowerInvariant(), inputSize, units, seed, bidirectional, useBias, resetAfter);

    public static IReadOnlyList<Case> Cases { get; } =
    [
        new("lstm", [Layer("LSTM", 3, 4, 1)]),
        new("gru reset_after", [Layer("GRU", 3, 4, 2)]),
        new("gru reset before the product", [Layer("GRU", 3, 4, 3, resetAfter: false)]),
        new("simple_rnn tanh", [Layer("SimpleRNN", 3, 4, 4, name: "simple_rnn")]),
        new("simple_rnn relu", [Layer("SimpleRNN", 3, 4, 5, name: "simple_rnn") with { Activation = "relu" }]),
        new("lstm linear, hard_sigmoid gates", [Layer("LSTM", 3, 4, 6) with { Activation = null, RecurrentActivation = "hard_sigmoid" }]),
        new("gru softsign, hard_sigmoid gates", [Layer("GRU", 3, 4, 7) with { Activation = "softsign", RecurrentActivation = "hard_sigmoid" }]),
        new("simple_rnn elu", [Layer("SimpleRNN", 3, 4, 8, name: "rnn") with { Activation = "elu" }]),
        new("lstm softplus, leaky_relu", [Layer("LSTM", 3, 4, 9) with { Activation = "leaky_relu", RecurrentActivation = "softplus" }]),
        new("lstm without bias", [Layer("LSTM", 3, 4, 10, useBias: false)]),
        new("gru go_backwards", [Layer("GRU", 3, 4, 11) with { GoBackwards = true }]),
        new("bidirectional lstm concat", [Layer("LSTM", 3, 4, 12, name: "bidirectional", bidirectional: true)]),
        new("bidirectional gru sum", [Layer("GRU", 3, 4, 13, name: "bidirectional", bidirectional: true) with { MergeMode = "sum" }]),
        new("bidirectional simple_rnn mul", [Layer("SimpleRNN", 3, 4, 14, name: "bidirectional", bidirectional: true) with { MergeMode = "mul" }]),
        new("bidirectional lstm ave, relu backward", [Layer("LSTM", 3, 4, 15, name: "bi", bidirectional: true) with { MergeMode = "ave", BackwardActivation = "relu" }]),
        new("lstm last step only", [Layer("LSTM", 3, 4, 16) with { ReturnSequences = false }]),
        new("bidirectional gru last step only", [Layer("GRU", 3, 4, 17, name: "bidirectional", bidirectional: true) with { ReturnSequences = false }]),
        new("stacked lstm", [Layer("LSTM", 3, 4, 18), Layer("LSTM", 4, 4, 19, name: "lstm_1") with { ReturnSequences = false }]),
        new("stacked lstm, gru of other units", [Layer("LSTM", 3, 5, 20), Layer("GRU", 5, 2, 21)]),
        new("stacked bidirectional into go_backwards", [Layer("GRU", 3, 3, 22, name: "bidirectional", bidirectional: true), Layer("SimpleRNN", 6, 4, 23, name: "simple_rnn") with { GoBackwards = true }]),
        new("bidirectional lstm with lengths", [Layer("LSTM", 3, 4, 24, name: "bidirectional", bidirectional: true)], Lengths: [5, 2, 4]),
        new("go_backwards with lengths", [Layer("LSTM", 3, 4, 25) with { GoBackwards = true }], Lengths: [3, 5, 1]),
        new("stacked with lengths, last step", [Layer("GRU", 3, 4, 26), Layer("GRU", 4, 4, 27, name: "gru_1") with { ReturnSequences = false }], Lengths: [1, 5, 3]),
        new("stacked lstm with initial states", [Layer("LSTM", 3, 4, 28), Layer("LSTM", 4, 4, 29, name: "lstm_1")], InitialStates: true),
    ];

    public static TheoryData<string, FileStyle> CasesAndStyles()
    {
        var data = new TheoryData<string, FileStyle>();
        foreach (Case test in Cases)
            foreach (FileStyle style in Enum.GetValues<FileStyle>()) data.Add(test.Name, style);
        return data;
    }

    private const int Batch = 3, SeqLen = 5;

    /// <summary>The file (and config JSON) of a case in a style, and the Keras major version it states.</summary>
    internal static (byte[] File, string? Config, int Major) Write(IReadOnlyList<KerasLayerFixture> layers, FileStyle style) => style switch
    {
        FileStyle.KerasArchive => (KerasFiles.KerasArchive(layers), null, 3),
        FileStyle.Keras3WeightsWithConfig => (KerasFiles.Keras3Weights(layers), KerasFiles.ModelConfig(layers, keras3: true).ToJsonString(), 3),
        FileStyle.LegacyModel => (KerasFiles.LegacyH5(layers), null, 2),
        FileStyle.LegacyModelAsLibhdf5Writes => (KerasFiles.LegacyH5OldStyle(layers), null, 2),
        _ => (KerasFiles.LegacyH5(layers, modelConfig: false), KerasFiles.ModelConfig(layers, keras3: false).ToJsonString(), 2),
    };

    /// <summary>x [B, T, I], Keras's layout, drawn from ±1.</summary>
    internal static FloatTensor Input(int inputSize, int seed = 99)
    {
        var random = new Random(seed);
        return new FloatTensor([.. Enumerable.Range(0, Batch * SeqLen * inputSize).Select(_ => (float)((random.NextDouble() * 2) - 1))], Batch, SeqLen, inputSize);
    }

    internal static double[,,] AsDouble(FloatTensor x)
    {
        var result = new double[x.Dim(0), x.Dim(1), x.Dim(2)];
        for (int a = 0; a < x.Dim(0); a++)
            for (int b = 0; b < x.Dim(1); b++)
                for (int c = 0; c < x.Dim(2); c++) result[a, b, c] = x[a, b, c];
        return result;
    }

    [Theory]
    [MemberData(nameof(CasesAndStyles))]
    public void AgreesWithKerassFormulasOnEveryBackendAndPrecision(string caseName, FileStyle style)
    {
        Case test = Cases.Single(c => c.Name == caseName);
        (byte[] file, string? config, int major) = Write(test.Layers, style);
        KerasModel model = KerasModel.Parse(file, $"{caseName}.{style}", config);
        Assert.Equal(test.Layers.Select(layer => layer.Name), model.Layers.Select(layer => layer.Name));
        Assert.Empty(model.OtherLayers);

        FloatTensor x = Input(test.Layers[0].InputSize);
        int stateRows = test.Layers.Sum(layer => layer.Arrays.Length);
        FloatTensor? h0 = null, c0 = null;
        double[][][]? h0Reference = null, c0Reference = null;
        if (test.InitialStates)
        {
            int units = test.Layers[0].Units;
            var random = new Random(5);
            h0 = new FloatTensor([.. Enumerable.Range(0, stateRows * Batch * units).Select(_ => (float)(random.NextDouble() - 0.5))], stateRows, Batch, units);
            c0 = new FloatTensor([.. Enumerable.Range(0, stateRows * Batch * units).Select(_ => (float)(random.NextDouble() - 0.5))], stateRows, Batch, units);
            h0Reference = States(h0);
            c0Reference = States(c0);
        }

        KerasReference.Result expected = KerasReference.Run(test.Layers, AsDouble(x), test.Lengths, major, h0Reference, c0Reference);
        foreach (BackendUnderTest backend in BackendUnderTest.All)
        {
            foreach (RnnPrecision precision in BackendUnderTest.Precisions)
            {
                using KerasRecurrentStack stack = model.CreateModule(backend.In(precision) with { BatchFirst = true });
                KerasOutputs actual = stack.Forward(x, test.Lengths, h0, c0);
                string where = $"{caseName}, {style}, {backend.Name}, {precision}";
                double tolerance = Tolerance.ParityFor(precision);
                Assert.Equal(expected.OutputShape, actual.Output.Shape.ToArray());
                Tolerance.AssertClose([.. expected.Output.Select(v => (float)v)], actual.Output.Span, tolerance, $"output, {where}");
                int row = 0;
                for (int layer = 0; layer < test.Layers.Length; layer++)
                {
                    for (int direction = 0; direction < test.Layers[layer].Arrays.Length; direction++, row++)
                    {
                        int units = test.Layers[layer].Units;
                        float[] h = [.. expected.Hidden[row].SelectMany(r => r).Select(v => (float)v)];
                        Tolerance.AssertClose(h, actual.HiddenStates[layer].Span.Slice(direction * Batch * units, Batch * units), tolerance, $"h of layer {layer} direction {direction}, {where}");
                        if (actual.CellStates is { } cells)
                        {
                            float[] c = [.. expected.Cell[row].SelectMany(r => r).Select(v => (float)v)];
                            Tolerance.AssertClose(c, cells[layer].Span.Slice(direction * Batch * units, Batch * units), tolerance, $"c of layer {layer} direction {direction}, {where}");
                        }
                    }
                }
            }
        }
    }

    private static double[][][] States(FloatTensor state) =>
        [.. Enumerable.Range(0, state.Dim(0)).Select(d => Enumerable.Range(0, state.Dim(1)).Select(b => Enumerable.Range(0, state.Dim(2)).Select(j => (double)state[d, b, j]).ToArray()).ToArray())];

    /// <summary>Time-major x and y are batch-major's transposed, and an unbatched sequence is a batch of one.</summary>
    [Fact]
    public void TimeMajorAndUnbatchedInputsAgreeWithBatchMajor()
    {
        KerasLayerFixture[] layers = [Layer("LSTM", 3, 4, 40, name: "bidirectional", bidirectional: true), Layer("GRU", 8, 4, 41)];
        KerasModel model = KerasModel.Parse(KerasFiles.KerasArchive(layers));
        FloatTensor x = Input(3);
        using KerasRecurrentStack batchMajor = model.CreateModule(new RnnOptions { Backend = RnnBackends.Managed, BatchFirst = true });
        using KerasRecurrentStack timeMajor = model.CreateModule(new RnnOptions { Backend = RnnBackends.Managed });
        KerasOutputs expected = batchMajor.Forward(x);
        KerasOutputs actual = timeMajor.Forward(SequenceSteps.Transpose01(x));
        Assert.Equal(expected.Output.ToArray(), SequenceSteps.Transpose01(actual.Output).ToArray());
        for (int layer = 0; layer < layers.Length; layer++) Assert.Equal(expected.HiddenStates[layer].ToArray(), actual.HiddenStates[layer].ToArray());
        Assert.Throws<InvalidOperationException>(() => actual.ToSequenceOutput());

        FloatTensor row = new(x.Memory[..(SeqLen * 3)].ToArray(), SeqLen, 3);
        KerasOutputs single = timeMajor.Forward(row);
        Assert.Equal([SeqLen, 4], single.Output.Shape.ToArray());
        Assert.Equal(expected.Output.Span[..(SeqLen * 4)].ToArray(), single.Output.ToArray());
        Assert.Equal([2, 4], single.HiddenStates[0].Shape.ToArray());
    }

    /// <summary>
    /// The seed documents' check: a Keras LSTM with 3 units, activation and recurrent_activation None, the kernels and
    /// bias below, and x = [[[1, 0]]] gives h = [0, 4, 0] and c = [0, 4, 1] (worked out by hand from Keras's formulas).
    /// </summary>
    [Fact]
    public void TheSeedDocumentsLinearLstmGivesTheHandComputedStates()
    {
        var settings = new KerasRnnSettings("LSTM", 3) { Activation = null, RecurrentActivation = null, ReturnSequences = true };
        var kernel = new FloatTensor([2, 1, 1, 0, 0, 0, 0, 1, 1, 0, 1, 0, 1, 1, 0, 1, 1, 0, 0, 1, 1, 0, 0, 0], 2, 12);
        var recurrent = new FloatTensor([1, 0, 0, 1, 2, 1, 0, 1, 2, 0, 1, 0, 1, 1, 0, 0, 2, 1, 0, 1, 2, 2, 0, 0, 1, 0, 1, 2, 0, 1, 0, 1, 1, 0, 1, 0], 3, 12);
        var bias = new FloatTensor([3, 1, 0, 1, 1, 0, 0, 1, 0, 2, 0, 0], 12);
        KerasRecurrentLayer layer = KerasRecurrentLayer.FromArrays(settings, kernel, recurrent, bias);
        foreach (BackendUnderTest backend in BackendUnderTest.All)
        {
            foreach (RnnPrecision precision in BackendUnderTest.Precisions)
            {
                using KerasRecurrentStack module = layer.CreateModule(backend.In(precision) with { BatchFirst = true });
                KerasOutputs outputs = module.Forward(new FloatTensor([1, 0], 1, 1, 2));
                Assert.Equal([0f, 4, 0], outputs.Output.ToArray());
                Assert.Equal([0f, 4, 0], outputs.HiddenStates[0].ToArray());
                Assert.Equal([0f, 4, 1], outputs.CellStates![0].ToArray());
            }
        }
    }

    /// <summary>hard_sigmoid is 0.2·x + 0.5 in a Keras 2 file and x/6 + 0.5 in a Keras 3 one: the same arrays give different answers.</summary>
    [Fact]
    public void HardSigmoidFollowsTheFilesKerasVersion()
    {
        KerasLayerFixture[] layers = [Layer("GRU", 3, 4, 50) with { RecurrentActivation = "hard_sigmoid" }];
        KerasModel keras2 = KerasModel.Parse(KerasFiles.LegacyH5(layers, kerasVersion: "2.12.0"));
        KerasModel keras3 = KerasModel.Parse(KerasFiles.LegacyH5(layers, kerasVersion: "3.6.0"));
        Assert.Equal("2.12.0", keras2.KerasVersion);
        Assert.Equal(Activation.HardSigmoid(0.2f, 0.5f), keras2.Layers[0].Weights.Spec.Cell.Forward.Gates);
        Assert.Equal(Activation.HardSigmoid(1f / 6, 0.5f), keras3.Layers[0].Weights.Spec.Cell.Forward.Gates);
        FloatTensor x = Input(3);
        using KerasRecurrentStack two = keras2.CreateModule(new RnnOptions { BatchFirst = true });
        using KerasRecurrentStack three = keras3.CreateModule(new RnnOptions { BatchFirst = true });
        float[] fromTwo = two.Forward(x).Output.ToArray(), fromThree = three.Forward(x).Output.ToArray();
        Assert.NotEqual(fromTwo, fromThree);
        Tolerance.AssertClose([.. KerasReference.Run(layers, AsDouble(x), null, 3).Output.Select(v => (float)v)], fromThree, Tolerance.ParityFloat32, "Keras 3");
    }

    /// <summary>PyTorch's own cells run where Keras's settings are PyTorch's: sigmoid gates and tanh, a GRU with reset_after, relu for SimpleRNN.</summary>
    [Fact]
    public void DefaultSettingsAreThePyTorchCells()
    {
        KerasModel model = KerasModel.Parse(KerasFiles.KerasArchive([Layer("LSTM", 3, 4, 60), Layer("GRU", 4, 4, 61), Layer("SimpleRNN", 4, 4, 62, name: "simple_rnn") with { Activation = "relu" }]));
        Assert.All(model.Layers, layer => Assert.True(layer.Weights.Spec.Cell.IsPyTorch, layer.ToString()));
        Assert.Equal([CellKind.Lstm, CellKind.Gru, CellKind.RnnRelu], model.Layers.Select(layer => layer.Weights.Spec.Kind));
    }

    /// <summary>A layer picked by name runs alone, even in a model with layers this library does not run.</summary>
    [Fact]
    public void ALayerOfAModelWithADenseHeadRunsAloneByName()
    {
        KerasLayerFixture[] layers = [Layer("LSTM", 3, 4, 70) with { ReturnSequences = false }];
        KerasModel model = KerasModel.Parse(KerasFiles.KerasArchive(layers, others: [("Dense", "dense")]));
        Assert.Equal(["'dense' (Dense)"], model.OtherLayers);
        var error = Assert.Throws<FusedRnn.IO.UnsupportedModelException>(() => model.CreateModule());
        Assert.Contains("'dense' (Dense)", error.Message);
        Assert.Contains("'lstm'", error.Message);

        using KerasRecurrentStack stack = model.CreateModule(new RnnOptions { BatchFirst = true }, layer: "lstm");
        FloatTensor x = Input(3);
        Tolerance.AssertClose([.. KerasReference.Run(layers, AsDouble(x), null, 3).Output.Select(v => (float)v)], stack.Forward(x).Output.Span, Tolerance.ParityFloat32, "lstm");
        Assert.Contains("'lstm'", Assert.Throws<ArgumentException>(() => model.CreateModule(layer: "nope")).Message);
    }

    /// <summary>A functional model whose layers form a chain reads as the Sequential one (Keras 3's inbound_nodes).</summary>
    [Fact]
    public void AChainedFunctionalModelReadsAsSequential()
    {
        KerasLayerFixture[] layers = [Layer("GRU", 3, 4, 80), Layer("LSTM", 4, 3, 81) with { ReturnSequences = false }];
        string config = FunctionalConfig(layers, ["input_layer", "gru"], ["input_layer", "gru", "lstm"]);
        KerasModel model = KerasModel.Parse(KerasFiles.Keras3Weights(layers), "functional", config);
        FloatTensor x = Input(3);
        using KerasRecurrentStack stack = model.CreateModule(new RnnOptions { BatchFirst = true });
        Tolerance.AssertClose([.. KerasReference.Run(layers, AsDouble(x), null, 3).Output.Select(v => (float)v)], stack.Forward(x).Output.Span, Tolerance.ParityFloat32, "functional");
    }

    /// <summary>A Keras 3 functional config: layer i takes the output of <paramref name="sources"/>[i] (the input layer first).</summary>
    internal static string FunctionalConfig(IReadOnlyList<KerasLayerFixture> layers, string[] sources, string[] names)
    {
        System.Text.Json.Nodes.JsonObject sequential = KerasFiles.ModelConfig(layers, keras3: true);
        var entries = (System.Text.Json.Nodes.JsonArray)sequential["config"]!["layers"]!;
        for (int index = 0; index < entries.Count; index++)
        {
            var entry = (System.Text.Json.Nodes.JsonObject)entries[index]!;
            entry["name"] = names[index];
            entry["inbound_nodes"] = index == 0 ? new System.Text.Json.Nodes.JsonArray() : System.Text.Json.Nodes.JsonNode.Parse(
                $"[{{\"args\": [{{\"class_name\": \"__keras_tensor__\", \"config\": {{\"shape\": [null, null, 3], \"dtype\": \"float32\", \"keras_history\": [\"{sources[index - 1]}\", 0, 0]}}}}], \"kwargs\": {{\"training\": false}}}}]");
        }

        sequential["class_name"] = "Functional";
        return sequential.ToJsonString();
    }
}
