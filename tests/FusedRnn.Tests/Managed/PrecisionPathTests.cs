using FusedRnn.Backends;
using FusedRnn.Backends.Managed;

namespace FusedRnn.Tests.Managed;

/// <summary>
/// What holds for both managed precisions: the precision picks the element type; at the native rule's splits (both
/// of them, which the call really takes) results do not depend on the thread count, and at every vector width a
/// row's result does not depend on the other rows of its batch — bit for bit. (StreamingTests holds Float32 single
/// steps to the whole sequence.)
/// </summary>
public class PrecisionPathTests
{
    public static TheoryData<RnnPrecision, SimdLevel> Paths()
    {
        var data = new TheoryData<RnnPrecision, SimdLevel>();
        foreach (RnnPrecision precision in Enum.GetValues<RnnPrecision>())
        {
            foreach (SimdLevel level in Enum.GetValues<SimdLevel>().Where(level => level <= ManagedBackend.DefaultLevel))
                data.Add(precision, level);
        }

        return data;
    }

    [Theory]
    [InlineData(RnnPrecision.Float32, typeof(float))]
    [InlineData(RnnPrecision.Float64, typeof(double))]
    public void ThePrecisionPicksTheElementType(RnnPrecision precision, Type element)
    {
        RnnWeights weights = Network(new RnnSpec(CellKind.Gru, 3, 5), 1);
        using RnnExecutor executor = ManagedBackend.Instance.Load(weights, new RnnOptions { Backend = RnnBackends.Managed, Precision = precision });
        using RnnWorkspace workspace = executor.CreateWorkspace();
        Assert.Equal(typeof(ManagedWorkspace<>).MakeGenericType(element), workspace.GetType());
    }

    /// <summary>A network and call shape, and the split it gets at more than one thread under the native rule.</summary>
    public sealed record SplitCase(string Name, RnnSpec Spec, int SeqLen, int Batch, bool Lengths, bool SplitRows)
    {
        public override string ToString() => Name;
    }

    private static readonly SplitCase[] SplitCases =
    [
        new("lstm units", new RnnSpec(CellKind.Lstm, 24, 256), 5, 1, Lengths: false, SplitRows: false),
        new("bigru units, lengths", new RnnSpec(CellKind.Gru, 17, 200, Bidirectional: true), 4, 2, Lengths: true, SplitRows: false),
        new("gru rows", new RnnSpec(CellKind.Gru, 16, 48), 5, 12, Lengths: false, SplitRows: true),
        new("bilstm projection rows, lengths", new RnnSpec(CellKind.Lstm, 11, 40, NumLayers: 2, Bidirectional: true, ProjSize: 13), 6, 16, Lengths: true, SplitRows: true),
    ];

    public static TheoryData<RnnPrecision, SimdLevel, SplitCase> SplitPaths()
    {
        var data = new TheoryData<RnnPrecision, SimdLevel, SplitCase>();
        foreach (RnnPrecision precision in Enum.GetValues<RnnPrecision>())
        {
            foreach (SimdLevel level in new[] { SimdLevel.Scalar, ManagedBackend.DefaultLevel }.Distinct())
            {
                foreach (SplitCase c in SplitCases) data.Add(precision, level, c);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(SplitPaths))]
    public void AnyThreadCountGivesTheSingleThreadedResultExactly(RnnPrecision precision, SimdLevel level, SplitCase c)
    {
        RnnWeights weights = Network(c.Spec, 7);
        var random = new Random(11);
        float[] x = Uniform(random, c.SeqLen * c.Batch * c.Spec.InputSize, 1f);
        int[] lengths = c.Lengths ? [.. Enumerable.Range(0, c.Batch).Select(b => b == 1 ? c.SeqLen : random.Next(1, c.SeqLen + 1))] : [];

        (float[] Y, float[] Hn, float[] Cn) expected = Run(weights, Options(precision, level, 1), x, lengths, c, expectedParticipants: 1, expectedRowSplit: false);
        foreach (int threads in new[] { 2, 3 })
        {
            var actual = Run(weights, Options(precision, level, threads), x, lengths, c, threads, c.SplitRows);
            Assert.Equal(expected.Y, actual.Y);
            Assert.Equal(expected.Hn, actual.Hn);
            Assert.Equal(expected.Cn, actual.Cn);
        }
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void ARowsResultDoesNotDependOnTheOtherRowsOfItsBatch(RnnPrecision precision, SimdLevel level)
    {
        const int seqLen = 5, batch = 6;
        var spec = new RnnSpec(CellKind.Lstm, 9, 21, Bidirectional: true);
        RnnWeights weights = Network(spec, 8);
        float[] x = Uniform(new Random(9), seqLen * batch * spec.InputSize, 1f);
        int[] lengths = [3, 5, 1, 4, 5, 2];
        RnnOptions options = Options(precision, level, 1) with { BatchFirst = true };
        using RecurrentModule module = RecurrentModule.Create(weights, options);
        using RnnWorkspace workspace = module.CreateWorkspace();
        var y = new float[batch * seqLen * spec.OutputFeatures];
        var hn = new float[spec.LayerDirectionCount * batch * spec.OutputSize];
        var cn = new float[spec.LayerDirectionCount * batch * spec.HiddenSize];
        module.Forward(x, seqLen, batch, y, hn, cn, workspace, lengths: lengths);

        for (int b = 0; b < batch; b++)
        {
            var yAlone = new float[seqLen * spec.OutputFeatures];
            var hnAlone = new float[spec.LayerDirectionCount * spec.OutputSize];
            var cnAlone = new float[spec.LayerDirectionCount * spec.HiddenSize];
            module.Forward(x.AsSpan(b * seqLen * spec.InputSize, seqLen * spec.InputSize), seqLen, 1, yAlone, hnAlone, cnAlone, workspace, lengths: [lengths[b]]);
            Assert.True(y.AsSpan(b * yAlone.Length, yAlone.Length).SequenceEqual(yAlone), $"y of row {b}");
            for (int state = 0; state < spec.LayerDirectionCount; state++)
            {
                Assert.True(hn.AsSpan(((state * batch) + b) * spec.OutputSize, spec.OutputSize).SequenceEqual(hnAlone.AsSpan(state * spec.OutputSize, spec.OutputSize)), $"h_n of row {b}");
                Assert.True(cn.AsSpan(((state * batch) + b) * spec.HiddenSize, spec.HiddenSize).SequenceEqual(cnAlone.AsSpan(state * spec.HiddenSize, spec.HiddenSize)), $"c_n of row {b}");
            }
        }
    }

    private static (float[] Y, float[] Hn, float[] Cn) Run(
        RnnWeights weights, RnnOptions options, float[] x, int[] lengths, SplitCase c, int expectedParticipants, bool expectedRowSplit)
    {
        RnnSpec spec = c.Spec;
        using RecurrentModule module = RecurrentModule.Create(weights, options with { BatchFirst = true });
        using RnnWorkspace workspace = ManagedThreadingTests.SplitAsPlanned(module.CreateWorkspace());
        var y = new float[c.SeqLen * c.Batch * spec.OutputFeatures];
        var hn = new float[spec.LayerDirectionCount * c.Batch * spec.OutputSize];
        var cn = new float[spec.Kind == CellKind.Lstm ? spec.LayerDirectionCount * c.Batch * spec.HiddenSize : 0];
        // Twice: the second call runs on workers that already exist and on a workspace that has grown.
        for (int call = 0; call < 2; call++) module.Forward(x, c.SeqLen, c.Batch, y, hn, cn, workspace, lengths: lengths);
        CallShape shape = ((ManagedWorkspace)workspace).Call;
        Assert.Equal((expectedParticipants, expectedRowSplit), (shape.Participants, shape.SplitRows));
        Assert.Contains(y, v => v != 0);
        return (y, hn, cn);
    }

    // More participants than this machine's processors, so that a 2-core machine still tests 3-way splits.
    private static RnnOptions Options(RnnPrecision precision, SimdLevel level, int threads) => new()
    {
        Backend = RnnBackends.Managed, Precision = precision, ManagedSimdLevel = level, Threads = threads, OversubscribeThreads = true,
    };

    /// <summary>Weights uniform in ±1/√H, PyTorch's initialization.</summary>
    internal static RnnWeights Network(RnnSpec spec, int seed)
    {
        var random = new Random(seed);
        float scale = 1f / MathF.Sqrt(spec.HiddenSize);
        var layers = new List<LayerWeights>();
        for (int layer = 0; layer < spec.NumLayers; layer++)
        {
            for (int direction = 0; direction < spec.Directions; direction++)
            {
                float[]? Make(WeightRole role) => WeightShapes.IsPresent(spec, role)
                    ? Uniform(random, (int)FloatTensor.ElementCount(WeightShapes.Expected(spec, role, layer)), scale)
                    : null;
                layers.Add(new LayerWeights(Make(WeightRole.WeightIh)!, Make(WeightRole.WeightHh)!, Make(WeightRole.BiasIh), Make(WeightRole.BiasHh), Make(WeightRole.WeightHr)));
            }
        }

        return new RnnWeights(spec, layers);
    }

    internal static float[] Uniform(Random random, int count, float scale)
    {
        var values = new float[count];
        for (int i = 0; i < count; i++) values[i] = (float)((random.NextDouble() * 2 - 1) * scale);
        return values;
    }
}
