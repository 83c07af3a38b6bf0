using FusedRnn.Backends;
using FusedRnn.Backends.Managed;
using FusedRnn.Tests.Support;

namespace FusedRnn.Tests.SequenceModels;

/// <summary>
/// Heads large enough to split between threads (a 2000-way softmax after a tanh layer): on every backend and in both
/// precisions they equal a float64 transcription of the layers on the network's own output, give the single-threaded
/// result bit for bit with 2 and 3 threads (AllocationTests steps them without allocating).
/// </summary>
public class SequenceModelHeadTests
{
    internal const int Vocabulary = 50, Features = 16, Hidden = 32, Middle = 64, Classes = 2000;

    public static TheoryData<string, RnnPrecision, int> BackendsPrecisionsAndThreads()
    {
        var data = new TheoryData<string, RnnPrecision, int>();
        foreach (BackendUnderTest backend in BackendUnderTest.All)
            foreach (RnnPrecision precision in BackendUnderTest.Precisions)
                foreach (int threads in new[] { 2, 3 }) data.Add(backend.Name, precision, threads);
        return data;
    }

    internal static (SequenceModelParts Parts, DenseLayer[] Heads) Parts()
    {
        var random = new Random(21);
        FloatTensor Matrix(int rows, int columns) => new(RandomNetworks.Uniform(random, rows * columns, 1 / MathF.Sqrt(columns)), rows, columns);
        FloatTensor Vector(int length) => new(RandomNetworks.Uniform(random, length, 0.5f), length);
        DenseLayer[] heads =
        [
            new DenseLayer(Matrix(Middle, Hidden), Vector(Middle), DenseActivation.Tanh, "fc"),
            new DenseLayer(Matrix(Classes, Middle), Vector(Classes), DenseActivation.Softmax, "out"),
        ];
        var embedding = new EmbeddingLayer(Matrix(Vocabulary, Features));
        RnnWeights lstm = RandomNetworks.Create(new RnnSpec(CellKind.Lstm, Features, Hidden), seed: 4);
        return (new SequenceModelParts(embedding, [lstm], heads), heads);
    }

    private static long[] Ids(int count) => [.. Enumerable.Range(0, count).Select(i => (long)((i * 7) + 3) % Vocabulary)];

    [Theory]
    [MemberData(nameof(BackendUnderTest.NamesAndPrecisions), MemberType = typeof(BackendUnderTest))]
    public void HeadsAreTheFloat64FormulasOnTheNetworksOutput(string backendName, RnnPrecision precision)
    {
        var (parts, heads) = Parts();
        RnnOptions options = BackendUnderTest.Get(backendName).In(precision) with { Threads = 2 };
        using SequenceModel model = SequenceModel.Create(parts, options);
        const int steps = 3, batch = 2;
        long[] ids = Ids(steps * batch);

        FloatTensor y = model.ForwardIds(ids, [steps, batch]);

        var x = new float[ids.Length * Features];
        parts.Embedding!.Lookup(ids, x);
        using RecurrentModule lstm = RecurrentModule.Create(parts.Recurrent[0], options);
        float[] features = lstm.Forward(new FloatTensor(x, steps, batch, Features)).Output.ToArray();
        double tolerance = precision == RnnPrecision.Float64 ? 1e-6 : 1e-5;
        for (int row = 0; row < steps * batch; row++)
        {
            double[] a = [.. features.AsSpan(row * Hidden, Hidden).ToArray().Select(v => (double)v)];
            a = [.. Dense(heads[0], a).Select(Math.Tanh)];
            a = Dense(heads[1], a);
            double max = a.Max(), sum = a.Sum(v => Math.Exp(v - max));
            for (int j = 0; j < Classes; j++)
            {
                double expected = Math.Exp(a[j] - max) / sum, actual = y.Span[(row * Classes) + j];
                Assert.True(Math.Abs(actual - expected) <= tolerance * Math.Max(1, Math.Abs(expected)), $"row {row} class {j}: {actual} against {expected} ({backendName} {precision})");
            }
        }
    }

    private static double[] Dense(DenseLayer layer, double[] a)
    {
        ReadOnlySpan<float> weight = layer.Weight.Span, bias = layer.Bias!.Span;
        var result = new double[layer.OutputSize];
        for (int j = 0; j < result.Length; j++)
        {
            double sum = bias[j];
            for (int i = 0; i < a.Length; i++) sum += weight[(j * a.Length) + i] * a[i];
            result[j] = sum;
        }

        return result;
    }

    [Theory]
    [MemberData(nameof(BackendsPrecisionsAndThreads))]
    public void AnyThreadCountGivesTheSingleThreadedResultExactly(string backendName, RnnPrecision precision, int threads)
    {
        var (parts, _) = Parts();
        // OversubscribeThreads lets the managed backend run more participants than this machine has processors.
        RnnOptions options = BackendUnderTest.Get(backendName).In(precision) with { OversubscribeThreads = true };
        const int steps = 3, batch = 2;
        long[] ids = Ids(steps * batch);

        (float[] Whole, float[] Steps) Run(int threadCount)
        {
            using SequenceModel model = SequenceModel.Create(parts, options with { Threads = threadCount });
            using SequenceModelState state = model.CreateState(batch);
            var stepped = new float[steps * batch * Classes];
            for (int t = 0; t < steps; t++) model.StepIds(ids.AsSpan(t * batch, batch), state, stepped.AsSpan(t * batch * Classes, batch * Classes));
            return (model.ForwardIds(ids, [steps, batch]).ToArray(), stepped);
        }

        var expected = Run(1);
        var actual = Run(threads);
        string where = $"{backendName} in {precision}, {threads} threads";
        Assert.True(expected.Whole.AsSpan().SequenceEqual(actual.Whole), $"the whole sequence differs from one thread's, {where}");
        Assert.True(expected.Steps.AsSpan().SequenceEqual(actual.Steps), $"the steps differ from one thread's, {where}");
        Assert.Contains(actual.Whole, v => v != 0);
    }

    /// <summary>The managed backend's threads really split a large head (its workers ran the call), with one thread's result.</summary>
    [Theory]
    [InlineData(RnnPrecision.Float32)]
    [InlineData(RnnPrecision.Float64)]
    public void TheManagedBackendSplitsALargeHeadBetweenItsThreads(RnnPrecision precision)
    {
        var (parts, heads) = Parts();
        var options = new RnnOptions { Backend = "managed", Threads = 2, OversubscribeThreads = true, Precision = precision };
        using RecurrentModule module = RecurrentModule.Create(parts.Recurrent[0], options);
        using RnnWorkspace workspace = module.CreateWorkspace();
        var managed = (ManagedWorkspace)workspace;
        managed.SplitsAsPlanned = true;
        float[] x = RandomNetworks.Uniform(new Random(3), 2 * Middle, 1);
        var split = new float[2 * Classes];
        var alone = new float[2 * Classes];

        using (DenseExecutor head = module.LoadDense(heads[1])) head.Apply(x, 2, split, workspace);
        using (var single = new ManagedDenseExecutor(heads[1], precision, threads: 1)) single.Apply(x, 2, alone, workspace);

        Assert.NotNull(managed.Dense);
        Assert.NotNull(managed.Team);
        Assert.Equal(alone, split);
        Assert.Equal(1, split.AsSpan(0, Classes).ToArray().Sum(), 4);
    }
}
