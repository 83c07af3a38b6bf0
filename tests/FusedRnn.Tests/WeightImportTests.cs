using FusedRnn.Tests.Support;

namespace FusedRnn.Tests;

/// <summary>The importers other than .safetensors: the per-gate form and PyTorch state_dict arrays.</summary>
public class WeightImportTests
{
    private static readonly RnnOptions Managed = new() { Backend = RnnBackends.Managed };

    /// <summary>Gate <paramref name="gate"/> of a PyTorch cell as one <c>[H, H+I]</c> matrix over <c>concat(h, x)</c>.</summary>
    private static float[] GateMatrix(LayerWeights weights, int gate, int hidden, int input)
    {
        var matrix = new float[hidden * (hidden + input)];
        for (int row = 0; row < hidden; row++)
        {
            weights.WeightHh.AsSpan((gate * hidden + row) * hidden, hidden).CopyTo(matrix.AsSpan(row * (hidden + input)));
            weights.WeightIh.AsSpan((gate * hidden + row) * input, input).CopyTo(matrix.AsSpan(row * (hidden + input) + hidden));
        }

        return matrix;
    }

    private static float[] GateBias(LayerWeights weights, int gate, int hidden) =>
        [.. Enumerable.Range(0, hidden).Select(u => weights.BiasIh![gate * hidden + u] + weights.BiasHh![gate * hidden + u])];

    [Fact]
    public void LstmGateFormReproducesThePyTorchCell()
    {
        var reference = new ReferenceCase("lstmcell_steps");
        RnnWeights pytorch = reference.Weights;
        int hidden = pytorch.Spec.HiddenSize, input = pytorch.Spec.InputSize;
        LayerWeights w = pytorch[0, 0];
        // PyTorch's order is i, f, g, o; the per-gate form names them Wf, Wi, Wc, Wo.
        RnnWeights fromGates = RnnWeights.FromLstmGates(input, hidden,
            wf: GateMatrix(w, 1, hidden, input), wi: GateMatrix(w, 0, hidden, input), wc: GateMatrix(w, 2, hidden, input), wo: GateMatrix(w, 3, hidden, input),
            bf: GateBias(w, 1, hidden), bi: GateBias(w, 0, hidden), bc: GateBias(w, 2, hidden), bo: GateBias(w, 3, hidden));

        using var cell = new LstmCell(fromGates, Managed);
        FloatTensor x = reference.Get("x");
        int batch = x.Dim(1);
        CellOutput step = cell.Forward(new FloatTensor(x.Memory[..(batch * input)], batch, input), reference.Get("h0"), reference.Get("c0"));
        Tolerance.AssertClose(reference.Get("h").Span[..(batch * hidden)], step.Hidden.Span, Tolerance.Reference, "h after one step");
        Tolerance.AssertClose(reference.Get("c").Span[..(batch * hidden)], step.Cell!.Span, Tolerance.Reference, "c after one step");
    }

    [Fact]
    public void GruGateFormSplitsHiddenAndInputColumns()
    {
        var random = new Random(11);
        const int hidden = 4, input = 3;
        float[][] gates = [.. Enumerable.Range(0, 3).Select(_ => RandomNetworks.Uniform(random, hidden * (hidden + input), 0.5f))];
        float[][] biases = [.. Enumerable.Range(0, 3).Select(_ => RandomNetworks.Uniform(random, hidden, 0.5f))];
        RnnWeights weights = RnnWeights.FromGruGates(input, hidden, gates[0], gates[1], gates[2], biases[0], biases[1], biases[2]);

        Assert.Equal(new RnnSpec(CellKind.Gru, input, hidden) { Cell = new CellVariant { ResetPlacement = GruResetPlacement.BeforeProduct } }, weights.Spec);
        LayerWeights layer = weights[0, 0];
        for (int gate = 0; gate < 3; gate++)
        {
            float sign = gate == 1 ? -1 : 1; // z is stored negated (see FromGruGates)
            for (int row = 0; row < hidden; row++)
            {
                int stacked = gate * hidden + row;
                Assert.Equal(gates[gate].AsSpan(row * (hidden + input), hidden).ToArray().Select(w => sign * w), layer.WeightHh.AsSpan(stacked * hidden, hidden).ToArray());
                Assert.Equal(gates[gate].AsSpan(row * (hidden + input) + hidden, input).ToArray().Select(w => sign * w), layer.WeightIh.AsSpan(stacked * input, input).ToArray());
                Assert.Equal(sign * biases[gate][row], layer.BiasIh![stacked]);
                Assert.Equal(0f, layer.BiasHh![stacked]);
            }
        }
    }

    /// <summary>
    /// The seed documents' numpy gru_cell, transcribed in double: <c>r = σ(W_r [a, x] + b_r)</c>,
    /// <c>z = σ(W_z [a, x] + b_z)</c>, <c>ã = tanh(W_a [r ⊙ a, x] + b_a)</c>, <c>a' = (1 − z) ⊙ a + z ⊙ ã</c>.
    /// </summary>
    private static double[] SeedGruCell(double[] a, double[] x, float[][] gates, float[][] biases)
    {
        int hidden = a.Length;
        double Sigmoid(double v) => 1 / (1 + Math.Exp(-v));
        double Dot(float[] matrix, int row, double[] first, double[] second)
        {
            double sum = 0;
            int width = first.Length + second.Length;
            for (int k = 0; k < first.Length; k++) sum += matrix[row * width + k] * first[k];
            for (int k = 0; k < second.Length; k++) sum += matrix[row * width + first.Length + k] * second[k];
            return sum;
        }

        double[] r = [.. Enumerable.Range(0, hidden).Select(j => Sigmoid(Dot(gates[0], j, a, x) + biases[0][j]))];
        double[] z = [.. Enumerable.Range(0, hidden).Select(j => Sigmoid(Dot(gates[1], j, a, x) + biases[1][j]))];
        double[] resetA = [.. Enumerable.Range(0, hidden).Select(j => r[j] * a[j])];
        return [.. Enumerable.Range(0, hidden).Select(j => (1 - z[j]) * a[j] + z[j] * Math.Tanh(Dot(gates[2], j, resetA, x) + biases[2][j]))];
    }

    public static TheoryData<string> BackendNames()
    {
        var data = new TheoryData<string>();
        foreach (BackendUnderTest backend in BackendUnderTest.All) data.Add(backend.Name);
        return data;
    }

    [Theory]
    [MemberData(nameof(BackendNames))]
    public void GruGateFormComputesTheSeedCell(string backendName)
    {
        var random = new Random(12);
        const int hidden = 5, input = 3, steps = 6;
        float[][] gates = [.. Enumerable.Range(0, 3).Select(_ => RandomNetworks.Uniform(random, hidden * (hidden + input), 0.6f))];
        float[][] biases = [.. Enumerable.Range(0, 3).Select(_ => RandomNetworks.Uniform(random, hidden, 0.6f))];
        float[] xs = RandomNetworks.Uniform(random, steps * input, 1f);
        float[] h0 = RandomNetworks.Uniform(random, hidden, 0.5f);
        RnnWeights weights = RnnWeights.FromGruGates(input, hidden, gates[0], gates[1], gates[2], biases[0], biases[1], biases[2]);

        foreach (RnnPrecision precision in BackendUnderTest.Precisions)
        {
            using var cell = new GruCell(weights, BackendUnderTest.Get(backendName).Options with { Precision = precision });
            double[] a = [.. h0.Select(v => (double)v)];
            var h = new FloatTensor(h0, 1, hidden);
            for (int step = 0; step < steps; step++)
            {
                float[] x = xs.AsSpan(step * input, input).ToArray();
                a = SeedGruCell(a, [.. x.Select(v => (double)v)], gates, biases);
                h = cell.Forward(new FloatTensor(x, 1, input), h).Hidden;
                // A float32 state carried between steps: within a few float32 ulps of the double transcription.
                Tolerance.AssertClose([.. a.Select(v => (float)v)], h.Span, Tolerance.ParityFloat32, $"h after step {step} ({precision})");
            }
        }
    }

    [Fact]
    public void GateFormWithoutBiasesHasNoBias()
    {
        float[] Matrix() => new float[2 * 5];
        RnnWeights weights = RnnWeights.FromLstmGates(3, 2, Matrix(), Matrix(), Matrix(), Matrix());
        Assert.False(weights.Spec.Bias);
        Assert.Null(weights[0, 0].BiasIh);
    }

    [Fact]
    public void GateFormChecksSizes()
    {
        var e = Assert.Throws<InvalidWeightsException>(() => RnnWeights.FromGruGates(3, 2, new float[10], new float[9], new float[10]));
        Assert.Equal("W_z", e.ParamName);
        Assert.Contains("[2, 5]", e.Message);
        e = Assert.Throws<InvalidWeightsException>(() => RnnWeights.FromGruGates(3, 2, new float[10], new float[10], new float[10], br: new float[2]));
        Assert.Equal("b_z", e.ParamName);
    }

    [Fact]
    public void StateDictRoundTripsThroughToStateDict()
    {
        var spec = new RnnSpec(CellKind.Lstm, 5, 6, NumLayers: 2, Bidirectional: true, ProjSize: 3);
        RnnWeights original = RandomNetworks.Create(spec, 2);
        RnnWeights copy = RnnWeights.FromStateDict(original.ToStateDict("lstm.").ToDictionary(p => p.Key, p => p.Value));
        Assert.Equal(spec, copy.Spec);
        for (int i = 0; i < spec.LayerDirectionCount; i++) Assert.Equal(original.Layers[i], copy.Layers[i]);
    }

    [Fact]
    public void UnbatchedInputEqualsABatchOfOne()
    {
        var random = new Random(3);
        var spec = new RnnSpec(CellKind.Gru, 4, 5, NumLayers: 2, Bidirectional: true);
        using var gru = new Gru(RandomNetworks.Create(spec, 3), Managed);
        FloatTensor x = RandomNetworks.FloatTensor(random, 6, 4);
        SequenceOutput unbatched = gru.Forward(x);
        SequenceOutput batched = gru.Forward(new FloatTensor(x.ToArray(), 6, 1, 4));
        Assert.True(unbatched.Output.HasShape(6, 10));
        Assert.True(unbatched.HiddenState.HasShape(4, 5));
        Assert.Equal(batched.Output.ToArray(), unbatched.Output.ToArray());
        Assert.Equal(batched.HiddenState.ToArray(), unbatched.HiddenState.ToArray());
    }
}
