using FusedRnn.Tests.Support;

namespace FusedRnn.Tests.SequenceModels;

/// <summary>
/// The seed documents' whole models as <see cref="SequenceModel"/>s, on every backend in both precisions, against
/// plain float64 implementations of the documents' own formulas: <c>model_forward</c> (a stacked LSTM whose last step
/// feeds dense layers with sigmoid) and the deeplearning.ai LSTM with a per-step prediction
/// <c>y = softmax(W_y a + b_y)</c>.
/// </summary>
public class SeedModelTests
{
    /// <summary>
    /// Seed 000's <c>model_forward</c>: two LSTM layers of 5 units (gates on <c>concat(a_prev, x)</c>, zero initial
    /// state each), the last step's <c>a</c> through Dense(5 → 3, sigmoid) and Dense(3 → 1, sigmoid).
    /// </summary>
    [Theory]
    [MemberData(nameof(BackendUnderTest.NamesAndPrecisions), MemberType = typeof(BackendUnderTest))]
    public void ModelForwardOfSeed000(string backendName, RnnPrecision precision)
    {
        const int input = 4, hidden = 5, steps = 6, batch = 3;
        var random = new Random(0);
        GateLstm[] layers = [GateLstm.Random(random, input, hidden), GateLstm.Random(random, hidden, hidden)];
        (double[] W, double[] B, int Out)[] dense = [(Uniform(random, 3 * hidden), Uniform(random, 3), 3), (Uniform(random, 3), Uniform(random, 1), 1)];
        double[][][] x = [.. Enumerable.Range(0, steps).Select(_ => Enumerable.Range(0, batch).Select(_ => Uniform(random, input)).ToArray())];

        // The document's arithmetic, in float64.
        double[][][] sequence = x;
        foreach (GateLstm layer in layers) sequence = layer.Run(sequence);
        var expected = new double[batch][];
        for (int b = 0; b < batch; b++)
        {
            double[] a = sequence[steps - 1][b];
            foreach ((double[] w, double[] bias, int outputs) in dense) a = Dense(w, bias, outputs, a, Sigmoid);
            expected[b] = a;
        }

        var parts = new SequenceModelParts(null, [.. layers.Select(layer => layer.Weights())],
            [.. dense.Select(d => new DenseLayer(Tensor(d.W, d.Out, d.W.Length / d.Out), Tensor(d.B, d.Out), DenseActivation.Sigmoid))], HeadSteps.Last);
        using SequenceModel model = SequenceModel.Create(parts, BackendUnderTest.Get(backendName).In(precision));
        FloatTensor y = model.Forward(Tensor([.. x.SelectMany(step => step.SelectMany(row => row))], steps, batch, input));

        Assert.Equal([batch, 1], y.Shape.ToArray());
        AssertClose(expected, y, precision, $"model_forward on {backendName} {precision}");
    }

    /// <summary>Seed 002's <c>lstm_forward</c> with the prediction <c>y⟨t⟩ = softmax(W_y a⟨t⟩ + b_y)</c> at every step (n_a 5, n_y 2).</summary>
    [Theory]
    [MemberData(nameof(BackendUnderTest.NamesAndPrecisions), MemberType = typeof(BackendUnderTest))]
    public void PerStepSoftmaxOfSeed002(string backendName, RnnPrecision precision)
    {
        const int input = 3, hidden = 5, classes = 2, steps = 7, batch = 10;
        var random = new Random(2);
        GateLstm lstm = GateLstm.Random(random, input, hidden);
        double[] wy = Uniform(random, classes * hidden), by = Uniform(random, classes);
        double[][][] x = [.. Enumerable.Range(0, steps).Select(_ => Enumerable.Range(0, batch).Select(_ => Uniform(random, input)).ToArray())];

        double[][][] a = lstm.Run(x);
        double[][][] expected = [.. a.Select(step => step.Select(row => Softmax(Dense(wy, by, classes, row, v => v))).ToArray())];

        var parts = new SequenceModelParts(null, [lstm.Weights()], [new DenseLayer(Tensor(wy, classes, hidden), Tensor(by, classes), DenseActivation.Softmax)]);
        using SequenceModel model = SequenceModel.Create(parts, BackendUnderTest.Get(backendName).In(precision));
        FloatTensor y = model.Forward(Tensor([.. x.SelectMany(step => step.SelectMany(row => row))], steps, batch, input));

        Assert.Equal([steps, batch, classes], y.Shape.ToArray());
        AssertClose([.. expected.SelectMany(step => step)], y, precision, $"softmax per step on {backendName} {precision}");
    }

    /// <summary>Float64 agrees with the float64 reference to 1e-9 (float32 storage of the output is the only rounding left); Float32 as the accuracy contract's cells do.</summary>
    private static void AssertClose(double[][] expected, FloatTensor actual, RnnPrecision precision, string what)
    {
        double tolerance = precision == RnnPrecision.Float64 ? 1e-6 : 2e-5;
        float[] flat = actual.ToArray();
        double[] reference = [.. expected.SelectMany(row => row)];
        Assert.Equal(reference.Length, flat.Length);
        for (int i = 0; i < flat.Length; i++)
        {
            double error = Math.Abs(flat[i] - reference[i]) / Math.Max(1, Math.Abs(reference[i]));
            Assert.True(error <= tolerance, $"{what}: element {i} is {flat[i]}, the reference {reference[i]} (error {error:E2} > {tolerance:E0})");
        }
    }

    private static double[] Uniform(Random random, int count) => [.. Enumerable.Range(0, count).Select(_ => (random.NextDouble() * 2) - 1)];

    private static FloatTensor Tensor(double[] values, params int[] shape) => new([.. values.Select(v => (float)v)], shape);

    private static double Sigmoid(double v) => 1 / (1 + Math.Exp(-v));

    private static double[] Dense(double[] w, double[] b, int outputs, double[] a, Func<double, double> activation)
    {
        var z = new double[outputs];
        for (int j = 0; j < outputs; j++)
        {
            double sum = (float)b[j];
            for (int i = 0; i < a.Length; i++) sum += (double)(float)w[(j * a.Length) + i] * a[i];
            z[j] = activation(sum);
        }

        return z;
    }

    private static double[] Softmax(double[] z)
    {
        double max = z.Max();
        double[] e = [.. z.Select(v => Math.Exp(v - max))];
        return [.. e.Select(v => v / e.Sum())];
    }

    /// <summary>The documents' LSTM cell: Wf, Wi, Wc, Wo <c>[H, H+I]</c> on <c>concat(a_prev, x)</c>, biases bf, bi, bc, bo (float32 values, float64 arithmetic).</summary>
    private sealed record GateLstm(int Input, int Hidden, double[] Wf, double[] Wi, double[] Wc, double[] Wo, double[] Bf, double[] Bi, double[] Bc, double[] Bo)
    {
        public static GateLstm Random(Random random, int input, int hidden)
        {
            double[] W() => Round(Uniform(random, hidden * (hidden + input)));
            double[] B() => Round(Uniform(random, hidden));
            return new GateLstm(input, hidden, W(), W(), W(), W(), B(), B(), B(), B());
        }

        private static double[] Round(double[] values) => [.. values.Select(v => (double)(float)v)];

        public RnnWeights Weights()
        {
            float[] F(double[] values) => [.. values.Select(v => (float)v)];
            return RnnWeights.FromLstmGates(Input, Hidden, F(Wf), F(Wi), F(Wc), F(Wo), F(Bf), F(Bi), F(Bc), F(Bo));
        }

        /// <summary>lstm_forward with a zero initial state: x[t][b] → a[t][b].</summary>
        public double[][][] Run(double[][][] x)
        {
            int batch = x[0].Length;
            var result = new double[x.Length][][];
            for (int b = 0; b < batch; b++)
            {
                var a = new double[Hidden];
                var c = new double[Hidden];
                for (int t = 0; t < x.Length; t++)
                {
                    double[] concat = [.. a, .. x[t][b].Select(v => (double)(float)v)];
                    double[] Gate(double[] w, double[] bias, Func<double, double> f) =>
                        [.. Enumerable.Range(0, Hidden).Select(j => f(bias[j] + Enumerable.Range(0, concat.Length).Sum(i => w[(j * concat.Length) + i] * concat[i])))];
                    double[] ft = Gate(Wf, Bf, Sigmoid), it = Gate(Wi, Bi, Sigmoid), cct = Gate(Wc, Bc, Math.Tanh), ot = Gate(Wo, Bo, Sigmoid);
                    c = [.. Enumerable.Range(0, Hidden).Select(j => (ft[j] * c[j]) + (it[j] * cct[j]))];
                    a = [.. Enumerable.Range(0, Hidden).Select(j => ot[j] * Math.Tanh(c[j]))];
                    (result[t] ??= new double[batch][])[b] = a;
                }
            }

            return result;
        }
    }
}
