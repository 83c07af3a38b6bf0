using FusedRnn.IO;
using FusedRnn.Tests.Support;

namespace FusedRnn.Tests.Keras;

/// <summary>
/// Whole Keras models — Embedding → LSTM (or Bidirectional GRU) → Dense(softmax), as a <c>.keras</c> archive and a
/// legacy <c>.h5</c> — as one <see cref="SequenceModel"/> (<see cref="KerasModel.CreateSequenceModel"/>), against
/// <see cref="KerasReference"/> with the table lookup and the dense layers computed in float64; and the seed document's
/// Sequential of an LSTM and a Dense layer.
/// </summary>
public class KerasSequenceModelTests
{
    private const int Vocabulary = 9, EmbeddingSize = 3, Classes = 4;

    private static (KerasLayerFixture[] Layers, KerasHeadsFixture Heads) Model(bool returnSequences, bool bidirectional = false, string activation = "softmax")
    {
        var random = new Random(17);
        float[] Values(int count) => [.. Enumerable.Range(0, count).Select(_ => (float)(random.NextDouble() - 0.5))];
        KerasLayerFixture recurrent = KerasLayerFixture.Random(bidirectional ? "GRU" : "LSTM", bidirectional ? "bidirectional" : "lstm", EmbeddingSize, 5, seed: 4, bidirectional: bidirectional)
            with { ReturnSequences = returnSequences };
        int features = recurrent.OutputFeatures;
        var heads = new KerasHeadsFixture(new FloatTensor(Values(Vocabulary * EmbeddingSize), Vocabulary, EmbeddingSize),
            [new KerasDenseFixture(new FloatTensor(Values(features * 6), features, 6), new FloatTensor(Values(6), 6), "relu"),
             new KerasDenseFixture(new FloatTensor(Values(6 * Classes), 6, Classes), new FloatTensor(Values(Classes), Classes), activation)]);
        return ([recurrent], heads);
    }

    /// <summary>The reference: the table's rows, KerasReference on them, each Dense layer as x·kernel + bias, then the activation.</summary>
    private static double[] Reference(KerasLayerFixture[] layers, KerasHeadsFixture heads, long[] ids, int batch, int steps, string activation)
    {
        var x = new double[batch, steps, EmbeddingSize];
        for (int b = 0; b < batch; b++)
            for (int t = 0; t < steps; t++)
                for (int e = 0; e < EmbeddingSize; e++) x[b, t, e] = heads.Embedding![(int)ids[(b * steps) + t], e];
        KerasReference.Result recurrent = KerasReference.Run(layers, x, null, kerasMajor: 3);
        int features = recurrent.OutputShape[^1], rows = recurrent.Output.Length / features;
        var result = new List<double>();
        for (int row = 0; row < rows; row++)
        {
            double[] a = recurrent.Output[(row * features)..((row + 1) * features)];
            for (int index = 0; index < heads.Dense.Count; index++)
            {
                KerasDenseFixture dense = heads.Dense[index];
                int units = dense.Kernel.Dim(1);
                double[] z = [.. Enumerable.Range(0, units).Select(j => dense.Bias![j] + Enumerable.Range(0, a.Length).Sum(i => a[i] * dense.Kernel[i, j]))];
                a = index == 0 ? [.. z.Select(v => Math.Max(0, v))] : activation == "softmax" ? Softmax(z) : z;
            }

            result.AddRange(a);
        }

        return [.. result];
    }

    private static double[] Softmax(double[] z)
    {
        double max = z.Max(), sum = z.Sum(v => Math.Exp(v - max));
        return [.. z.Select(v => Math.Exp(v - max) / sum)];
    }

    public static TheoryData<string, bool, bool> Files()
    {
        var data = new TheoryData<string, bool, bool>();
        foreach (string file in new[] { "keras", "h5" })
            foreach (bool returnSequences in new[] { true, false })
                foreach (bool bidirectional in new[] { false, true }) data.Add(file, returnSequences, bidirectional);
        return data;
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void RunsTheWholeModelAsKerasDoes(string file, bool returnSequences, bool bidirectional)
    {
        (KerasLayerFixture[] layers, KerasHeadsFixture heads) = Model(returnSequences, bidirectional);
        byte[] bytes = file == "keras" ? KerasFiles.WholeModelArchive(layers, heads) : KerasFiles.WholeModelLegacyH5(layers, heads);
        KerasModel keras = KerasModel.Parse(bytes, $"model.{file}");
        using SequenceModel model = keras.CreateSequenceModel(new RnnOptions { BatchFirst = true, Precision = RnnPrecision.Float64 });
        const int batch = 3, steps = 5;
        var random = new Random(1);
        long[] ids = [.. Enumerable.Range(0, batch * steps).Select(_ => (long)random.Next(Vocabulary))];

        FloatTensor y = model.ForwardIds(ids, [batch, steps]);

        Assert.Equal(returnSequences ? [batch, steps, Classes] : [batch, Classes], y.Shape.ToArray());
        Assert.Equal(returnSequences ? HeadSteps.Every : HeadSteps.FinalState, model.HeadSteps);
        Tolerance.AssertClose([.. Reference(layers, heads, ids, batch, steps, "softmax").Select(v => (float)v)], y.Span, 1e-6, $"{file}, return_sequences={returnSequences}, bidirectional={bidirectional}");
    }

    /// <summary>
    /// The seed document's model (004): a Keras Sequential of an LSTM of 3 units, activation and recurrent_activation
    /// None, its weights set by hand, and a Dense layer of one unit: the LSTM's h = [0, 4, 0] (c = [0, 4, 1]) through
    /// the Dense kernel [1, 2, 3] and bias 0.5 gives 8.5.
    /// </summary>
    [Fact]
    public void TheSeedDocumentsSequentialOfAnLstmAndADenseLayer()
    {
        var lstm = new KerasLayerFixture("LSTM", "lstm", 2, 3)
        {
            Activation = null,
            RecurrentActivation = null,
            ReturnSequences = false,
            Arrays =
            [[
                [2, 1, 1, 0, 0, 0, 0, 1, 1, 0, 1, 0, 1, 1, 0, 1, 1, 0, 0, 1, 1, 0, 0, 0],
                [1, 0, 0, 1, 2, 1, 0, 1, 2, 0, 1, 0, 1, 1, 0, 0, 2, 1, 0, 1, 2, 2, 0, 0, 1, 0, 1, 2, 0, 1, 0, 1, 1, 0, 1, 0],
                [3, 1, 0, 1, 1, 0, 0, 1, 0, 2, 0, 0],
            ]],
        };
        var heads = new KerasHeadsFixture(null, [new KerasDenseFixture(new FloatTensor([1f, 2, 3], 3, 1), new FloatTensor([0.5f], 1), "linear")]);
        using SequenceModel model = KerasModel.Parse(KerasFiles.WholeModelArchive([lstm], heads), "seed.keras").CreateSequenceModel(new RnnOptions { BatchFirst = true });

        FloatTensor y = model.Forward(new FloatTensor([1f, 0], 1, 1, 2));

        Assert.Equal([1, 1], y.Shape.ToArray());
        Assert.Equal(8.5f, y.Span[0]);
    }

    [Fact]
    public void ModelsAWholeModelDoesNotRunAreRefusedNamingTheLayer()
    {
        (KerasLayerFixture[] layers, KerasHeadsFixture heads) = Model(returnSequences: true);
        UnsupportedModelException Refused(KerasHeadsFixture h, KerasLayerFixture[]? l = null) =>
            Assert.Throws<UnsupportedModelException>(() => KerasModel.Parse(KerasFiles.WholeModelArchive(l ?? layers, h), "bad.keras").CreateSequenceModel());

        Assert.Contains("layer 'embedding' (Embedding) has mask_zero=True", Refused(heads with { MaskZero = true }).Message);
        Assert.Contains("layer 'dense_1' (Dense): activation 'elu' is not one of linear, relu",
            Refused(heads with { Dense = [heads.Dense[0], heads.Dense[1] with { Activation = "elu" }] }).Message);
        Assert.Contains("layer 'lstm' (LSTM): a whole model runs forward layers", Refused(heads, [layers[0] with { GoBackwards = true }]).Message);

        KerasHeadsFixture wrongSize = heads with { Dense = [heads.Dense[1]] };
        var mismatch = Assert.Throws<MalformedFileException>(() => KerasModel.Parse(KerasFiles.WholeModelArchive(layers, wrongSize), "bad.keras").CreateSequenceModel());
        Assert.Contains("layer 'dense': takes 6 features but layer 'lstm' gives 5", mismatch.Message);

        // The recurrent layer still runs alone, and CreateModule still names the layers it does not run.
        KerasModel model = KerasModel.Parse(KerasFiles.WholeModelArchive(layers, heads with { MaskZero = true }), "model.keras");
        Assert.Equal(["'embedding' (Embedding)", "'dense' (Dense)", "'dense_1' (Dense)"], model.OtherLayers);
        using KerasRecurrentStack alone = model.CreateModule(layer: "lstm");
        Assert.Single(alone.Layers);
    }
}
