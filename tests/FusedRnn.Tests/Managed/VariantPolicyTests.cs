using FusedRnn.Backends.Managed;
using FusedRnn.Tests.Support;

namespace FusedRnn.Tests.Managed;

/// <summary>
/// The managed variant policies (every cell but PyTorch's) keep the managed backend's guarantees: any thread count
/// gives the single-threaded result bit for bit, on either split (the GRU with the reset before the product only
/// ever splits rows), and a row's result does not depend on the other rows of its batch.
/// </summary>
public class VariantPolicyTests
{
    /// <summary>A variant network and call shape, and the split it must get at more than one thread.</summary>
    public sealed record Case(string Name, RnnSpec Spec, int SeqLen, int Batch, bool SplitRows)
    {
        public override string ToString() => Name;
    }

    private static readonly CellVariant ResetBefore = new()
    {
        ResetPlacement = GruResetPlacement.BeforeProduct,
        Clip = 3,
        Forward = new CellActivations(Candidate: Activation.Softplus),
        Reverse = new CellActivations(Gates: Activation.HardSigmoid(), Candidate: Activation.ScaledTanh(0.8f, 1.3f)),
    };

    private static readonly CellVariant PeepholeLstm = new()
    {
        Peepholes = true,
        CoupledInputForget = true,
        Clip = 2.5f,
        Forward = new CellActivations(Output: Activation.Elu(0.7f), Candidate: Activation.Softsign),
    };

    private static readonly CellVariant ThresholdedRnn = new() { Forward = new CellActivations(Gates: Activation.ThresholdedRelu(0.1f)) };

    internal static IReadOnlyList<Case> Shapes { get; } =
    [
        new("gru reset before, row split", new RnnSpec(CellKind.Gru, 7, 40, NumLayers: 2, Bidirectional: true) { Cell = ResetBefore }, 5, 13, SplitRows: true),
        new("gru reset before, too few rows to split", new RnnSpec(CellKind.Gru, 7, 300) { Cell = ResetBefore with { Reverse = new() } }, 3, 2, SplitRows: false),
        new("lstm peepholes, hidden split", new RnnSpec(CellKind.Lstm, 9, 256) { Cell = PeepholeLstm }, 4, 2, SplitRows: false),
        new("lstm peepholes, row split", new RnnSpec(CellKind.Lstm, 9, 24, NumLayers: 2) { Cell = PeepholeLstm }, 4, 16, SplitRows: true),
        new("rnn thresholded relu, hidden split", new RnnSpec(CellKind.RnnTanh, 5, 300) { Cell = ThresholdedRnn }, 3, 3, SplitRows: false),
    ];

    public static TheoryData<Case, RnnPrecision> Cases()
    {
        var data = new TheoryData<Case, RnnPrecision>();
        foreach (Case c in Shapes)
            foreach (RnnPrecision precision in BackendUnderTest.Precisions) data.Add(c, precision);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void AnyThreadCountGivesTheSingleThreadedResultExactly(Case c, RnnPrecision precision)
    {
        RnnWeights weights = RandomNetworks.Create(c.Spec, 5);
        var random = new Random(3);
        float[] x = RandomNetworks.FloatTensor(random, c.Batch, c.SeqLen, c.Spec.InputSize).ToArray();
        int[] lengths = RandomNetworks.Lengths(random, c.Batch, c.SeqLen);

        (float[] expectedY, float[] expectedHn, CallShape single) = Run(weights, precision, threads: 1, x, c.SeqLen, c.Batch, lengths);
        (float[] actualY, float[] actualHn, CallShape threaded) = Run(weights, precision, threads: 3, x, c.SeqLen, c.Batch, lengths);

        Assert.Equal(1, single.Participants);
        // Too few rows for the reset before the product: it stays on one thread rather than split units.
        Assert.Equal(c.SplitRows || c.Spec.Cell.ResetPlacement == GruResetPlacement.AfterProduct ? 3 : 1, threaded.Participants);
        Assert.Equal(c.SplitRows, threaded.SplitRows);
        Assert.True(expectedY.AsSpan().SequenceEqual(actualY), "y differs");
        Assert.True(expectedHn.AsSpan().SequenceEqual(actualHn), "h_n differs");
        Assert.Contains(actualY, v => v != 0);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void ARowsResultDoesNotDependOnTheOtherRows(Case c, RnnPrecision precision)
    {
        RnnWeights weights = RandomNetworks.Create(c.Spec, 9);
        var random = new Random(4);
        float[] x = RandomNetworks.FloatTensor(random, c.Batch, c.SeqLen, c.Spec.InputSize).ToArray();
        int[] lengths = RandomNetworks.Lengths(random, c.Batch, c.SeqLen);
        (float[] y, float[] hn, _) = Run(weights, precision, threads: 1, x, c.SeqLen, c.Batch, lengths);

        int inputRow = c.SeqLen * c.Spec.InputSize, outputRow = c.SeqLen * c.Spec.OutputFeatures, state = c.Spec.OutputSize;
        for (int b = 0; b < c.Batch; b++)
        {
            (float[] aloneY, float[] aloneHn, _) = Run(weights, precision, threads: 1, x.AsSpan(b * inputRow, inputRow).ToArray(), c.SeqLen, 1, [lengths[b]]);
            Assert.True(aloneY.AsSpan().SequenceEqual(y.AsSpan(b * outputRow, outputRow)), $"y of row {b} differs");
            for (int layerDirection = 0; layerDirection < c.Spec.LayerDirectionCount; layerDirection++)
            {
                Assert.True(aloneHn.AsSpan(layerDirection * state, state).SequenceEqual(hn.AsSpan(((layerDirection * c.Batch) + b) * state, state)),
                    $"h_n of row {b}, layer-direction {layerDirection} differs");
            }
        }
    }

    private static (float[] Y, float[] Hn, CallShape Call) Run(RnnWeights weights, RnnPrecision precision, int threads, float[] x, int seqLen, int batch, int[] lengths)
    {
        var options = new RnnOptions { Backend = RnnBackends.Managed, Threads = threads, OversubscribeThreads = true, Precision = precision, BatchFirst = true };
        using RecurrentModule module = RecurrentModule.Create(weights, options);
        using RnnWorkspace workspace = ManagedThreadingTests.SplitAsPlanned(module.CreateWorkspace()); // 3 participants even on 2 cores
        RnnSpec spec = weights.Spec;
        var y = new float[seqLen * batch * spec.OutputFeatures];
        var hn = new float[spec.LayerDirectionCount * batch * spec.OutputSize];
        var cn = new float[spec.Kind == CellKind.Lstm ? spec.LayerDirectionCount * batch * spec.HiddenSize : 0];
        module.Forward(x, seqLen, batch, y, hn, cn, workspace, default, default, lengths);
        return (y, hn, ((ManagedWorkspace)workspace).Call);
    }
}
