using FusedRnn.Tests.Support;

namespace FusedRnn.Tests;

/// <summary>
/// Identities PyTorch's semantics imply, checked on random configurations of every cell kind: they catch what a
/// handful of reference vectors can miss (direction handling, layer wiring, per-row state, masking).
/// </summary>
public class PropertyTests
{
    public static TheoryData<CellKind, int> KindsAndSeeds()
    {
        var data = new TheoryData<CellKind, int>();
        foreach (CellKind kind in Enum.GetValues<CellKind>())
            for (int seed = 1; seed <= 4; seed++) data.Add(kind, seed);
        return data;
    }

    private static readonly RnnOptions Managed = new() { Backend = RnnBackends.Managed };

    [Theory]
    [MemberData(nameof(KindsAndSeeds))]
    public void MultiLayerEqualsChainedSingleLayers(CellKind kind, int seed)
    {
        var random = new Random(seed);
        RnnSpec spec = RandomNetworks.Spec(random, kind) with { NumLayers = 3 };
        RnnWeights weights = RandomNetworks.Create(spec, seed);
        int seqLen = random.Next(1, 9), batch = random.Next(1, 5);
        FloatTensor x = RandomNetworks.FloatTensor(random, seqLen, batch, spec.InputSize);
        FloatTensor h0 = RandomNetworks.FloatTensor(random, spec.LayerDirectionCount, batch, spec.OutputSize);
        FloatTensor? c0 = kind == CellKind.Lstm ? RandomNetworks.FloatTensor(random, spec.LayerDirectionCount, batch, spec.HiddenSize) : null;
        using RecurrentModule whole = RecurrentModule.Create(weights, Managed);
        SequenceOutput expected = whole.Forward(x, h0, c0);

        FloatTensor layerInput = x;
        for (int layer = 0; layer < spec.NumLayers; layer++)
        {
            RnnSpec single = spec with { InputSize = spec.LayerInputSize(layer), NumLayers = 1 };
            var singleWeights = new RnnWeights(single, [.. weights.Layers.Skip(layer * spec.Directions).Take(spec.Directions)]);
            using RecurrentModule module = RecurrentModule.Create(singleWeights, Managed);
            SequenceOutput result = module.Forward(layerInput, StateSlice(h0, layer, spec.Directions), c0 is null ? null : StateSlice(c0, layer, spec.Directions));
            Tolerance.AssertClose(StateSlice(expected.HiddenState, layer, spec.Directions).Span, result.HiddenState.Span, Tolerance.Parity, $"h_n of layer {layer}");
            if (c0 is not null) Tolerance.AssertClose(StateSlice(expected.CellState!, layer, spec.Directions).Span, result.CellState!.Span, Tolerance.Parity, $"c_n of layer {layer}");
            layerInput = result.Output;
        }

        Tolerance.AssertClose(expected.Output, layerInput, Tolerance.Parity, "y");
    }

    [Theory]
    [MemberData(nameof(KindsAndSeeds))]
    public void BidirectionalEqualsForwardPlusReversedPass(CellKind kind, int seed)
    {
        var random = new Random(seed);
        RnnSpec spec = RandomNetworks.Spec(random, kind) with { NumLayers = 1, Bidirectional = true };
        RnnWeights weights = RandomNetworks.Create(spec, seed);
        int seqLen = random.Next(1, 9), batch = random.Next(1, 6), features = spec.OutputSize;
        FloatTensor x = RandomNetworks.FloatTensor(random, seqLen, batch, spec.InputSize);
        int[] lengths = RandomNetworks.Lengths(random, batch, seqLen);
        using RecurrentModule bidirectional = RecurrentModule.Create(weights, Managed);
        SequenceOutput both = bidirectional.Forward(x, lengths: lengths);

        RnnSpec oneWay = spec with { Bidirectional = false };
        using RecurrentModule forward = RecurrentModule.Create(new RnnWeights(oneWay, [weights[0, 0]]), Managed);
        using RecurrentModule backward = RecurrentModule.Create(new RnnWeights(oneWay, [weights[0, 1]]), Managed);
        SequenceOutput forwardResult = forward.Forward(x, lengths: lengths);
        // Each row reversed within its own length: the reverse direction starts at the row's last valid step.
        var reversed = FloatTensor.Zeros(seqLen, batch, spec.InputSize);
        for (int b = 0; b < batch; b++)
            for (int t = 0; t < lengths[b]; t++)
                x.Span.Slice((t * batch + b) * spec.InputSize, spec.InputSize).CopyTo(reversed.Span.Slice(((lengths[b] - 1 - t) * batch + b) * spec.InputSize));
        SequenceOutput backwardResult = backward.Forward(reversed, lengths: lengths);

        for (int b = 0; b < batch; b++)
        {
            for (int t = 0; t < seqLen; t++)
            {
                ReadOnlySpan<float> row = both.Output.Span.Slice((t * batch + b) * 2 * features, 2 * features);
                Tolerance.AssertClose(forwardResult.Output.Span.Slice((t * batch + b) * features, features), row[..features], Tolerance.Parity, $"forward half, t={t} b={b}");
                ReadOnlySpan<float> expectedBackward = t < lengths[b]
                    ? backwardResult.Output.Span.Slice(((lengths[b] - 1 - t) * batch + b) * features, features)
                    : new float[features];
                Tolerance.AssertClose(expectedBackward, row[features..], Tolerance.Parity, $"reverse half, t={t} b={b}");
            }
        }

        Tolerance.AssertClose(forwardResult.HiddenState.Span, both.HiddenState.Span[..(batch * features)], Tolerance.Parity, "h_n forward");
        Tolerance.AssertClose(backwardResult.HiddenState.Span, both.HiddenState.Span[(batch * features)..], Tolerance.Parity, "h_n reverse");
    }

    [Theory]
    [MemberData(nameof(KindsAndSeeds))]
    public void SequenceEqualsCellSteps(CellKind kind, int seed)
    {
        var random = new Random(seed);
        RnnSpec spec = RandomNetworks.Spec(random, kind) with { NumLayers = 1, Bidirectional = false, ProjSize = 0 };
        RnnWeights weights = RandomNetworks.Create(spec, seed);
        int seqLen = random.Next(1, 9), batch = random.Next(1, 6), hidden = spec.HiddenSize;
        FloatTensor x = RandomNetworks.FloatTensor(random, seqLen, batch, spec.InputSize);
        FloatTensor h = RandomNetworks.FloatTensor(random, batch, hidden);
        FloatTensor? c = kind == CellKind.Lstm ? RandomNetworks.FloatTensor(random, batch, hidden) : null;
        using RecurrentModule module = RecurrentModule.Create(weights, Managed);
        SequenceOutput sequence = module.Forward(x, new FloatTensor(h.ToArray(), 1, batch, hidden), c is null ? null : new FloatTensor(c.ToArray(), 1, batch, hidden));

        using RecurrentCell cell = kind switch
        {
            CellKind.Lstm => new LstmCell(weights, Managed),
            CellKind.Gru => new GruCell(weights, Managed),
            _ => new RnnCell(weights, Managed),
        };
        for (int t = 0; t < seqLen; t++)
        {
            (h, c) = cell.Forward(new FloatTensor(x.Memory.Slice(t * batch * spec.InputSize, batch * spec.InputSize), batch, spec.InputSize), h, c);
            Tolerance.AssertClose(sequence.Output.Span.Slice(t * batch * hidden, batch * hidden), h.Span, Tolerance.Parity, $"h at step {t}");
        }

        Tolerance.AssertClose(sequence.HiddenState.Span, h.Span, Tolerance.Parity, "h_n");
        if (c is not null) Tolerance.AssertClose(sequence.CellState!.Span, c.Span, Tolerance.Parity, "c_n");
    }

    [Theory]
    [MemberData(nameof(KindsAndSeeds))]
    public void BatchRowsAreIndependent(CellKind kind, int seed)
    {
        var random = new Random(seed);
        RnnSpec spec = RandomNetworks.Spec(random, kind);
        RnnWeights weights = RandomNetworks.Create(spec, seed);
        int seqLen = random.Next(1, 7), batch = random.Next(2, 7), ld = spec.LayerDirectionCount, features = spec.OutputFeatures;
        FloatTensor x = RandomNetworks.FloatTensor(random, batch, seqLen, spec.InputSize);
        FloatTensor h0 = RandomNetworks.FloatTensor(random, ld, batch, spec.OutputSize);
        int[] lengths = RandomNetworks.Lengths(random, batch, seqLen);
        using RecurrentModule module = RecurrentModule.Create(weights, Managed with { BatchFirst = true });
        SequenceOutput all = module.Forward(x, h0, lengths: lengths);

        for (int b = 0; b < batch; b++)
        {
            var row = new FloatTensor(x.Memory.Slice(b * seqLen * spec.InputSize, seqLen * spec.InputSize).ToArray(), 1, seqLen, spec.InputSize);
            var rowH0 = FloatTensor.Zeros(ld, 1, spec.OutputSize);
            for (int s = 0; s < ld; s++) h0.Span.Slice((s * batch + b) * spec.OutputSize, spec.OutputSize).CopyTo(rowH0.Span.Slice(s * spec.OutputSize));
            SequenceOutput single = module.Forward(row, rowH0, lengths: [lengths[b]]);
            Tolerance.AssertClose(all.Output.Span.Slice(b * seqLen * features, seqLen * features), single.Output.Span, Tolerance.Parity, $"y of row {b}");
            for (int s = 0; s < ld; s++)
                Tolerance.AssertClose(all.HiddenState.Span.Slice((s * batch + b) * spec.OutputSize, spec.OutputSize), single.HiddenState.Span.Slice(s * spec.OutputSize, spec.OutputSize), Tolerance.Parity, $"h_n[{s}] of row {b}");
        }
    }

    [Theory]
    [MemberData(nameof(KindsAndSeeds))]
    public void FullLengthsEqualTheUnpaddedResult(CellKind kind, int seed)
    {
        var random = new Random(seed);
        RnnSpec spec = RandomNetworks.Spec(random, kind);
        RnnWeights weights = RandomNetworks.Create(spec, seed);
        int seqLen = random.Next(1, 7), batch = random.Next(1, 6);
        FloatTensor x = RandomNetworks.FloatTensor(random, seqLen, batch, spec.InputSize);
        using RecurrentModule module = RecurrentModule.Create(weights, Managed);
        SequenceOutput unpadded = module.Forward(x);
        SequenceOutput withLengths = module.Forward(x, lengths: [.. Enumerable.Repeat(seqLen, batch)]);
        Assert.Equal(unpadded.Output.ToArray(), withLengths.Output.ToArray());
        Assert.Equal(unpadded.HiddenState.ToArray(), withLengths.HiddenState.ToArray());
    }

    /// <summary>The two (layer, direction) states of one layer: <c>[D, B, F]</c> out of <c>[L·D, B, F]</c>.</summary>
    private static FloatTensor StateSlice(FloatTensor state, int layer, int directions)
    {
        int perLayer = directions * state.Dim(1) * state.Dim(2);
        return new FloatTensor(state.Memory.Slice(layer * perLayer, perLayer).ToArray(), directions, state.Dim(1), state.Dim(2));
    }
}
