using System.Numerics;

namespace FusedRnn.Tests.Support;

/// <summary>
/// One random network with one random input, from a seed: the cases <see cref="ParityTests"/> runs on every backend
/// and <see cref="Tolerance.ParityFloat32"/> is derived from; the variant suites draw theirs with <see cref="Draw"/> too
/// (<see cref="CellVariantCases"/>, <see cref="OnnxCases"/>).
/// </summary>
public sealed record ParityCase(string Name, RnnSpec Spec, int Seed, int SeqLen, int Batch, bool BatchFirst, bool InitialState, int[]? Lengths)
{
    /// <summary>
    /// Networks that vary every feature at once: all four cell kinds, sizes 1–300, 1–3 layers, both directions,
    /// projection, bias or none, initial state or none, variable lengths, both data layouts.
    /// </summary>
    public static IReadOnlyList<ParityCase> Random { get; } = [.. Enumerable.Range(1, 24).Select(seed => Draw($"random-{seed}", seed, maxSize: 300))];

    /// <summary>
    /// Small networks with big batches, which threaded backends share by batch rows rather than hidden units (the
    /// random cases' batches of 1–5 never are): every feature the row split has to carry — both layouts, lengths,
    /// reverse directions, stacked layers, a projection, a last partial row group.
    /// </summary>
    public static IReadOnlyList<ParityCase> RowSplit { get; } =
    [
        WithLengths(new ParityCase("lstm-bidirectional-batch-first-packed", new RnnSpec(CellKind.Lstm, 12, 32, 2, true), 101, 5, 48, true, true, null)),
        WithLengths(new ParityCase("gru-time-major-packed", new RnnSpec(CellKind.Gru, 7, 24), 102, 6, 64, false, false, null)),
        new ParityCase("lstm-projection", new RnnSpec(CellKind.Lstm, 10, 40, 2, ProjSize: 12), 103, 4, 40, false, true, null),
        new ParityCase("rnn-relu-bidirectional-partial-group", new RnnSpec(CellKind.RnnRelu, 5, 64, 1, true), 104, 3, 33, false, true, null),
    ];

    public static IEnumerable<ParityCase> All => Random.Concat(RowSplit);

    public static ParityCase Get(string name) => All.Single(c => c.Name == name);

    /// <summary>The case through <see cref="ReferenceRnn"/> in double, rounded to float32 (computed once).</summary>
    public SequenceOutput Reference => ReferenceCache.Get(this);

    public SequenceOutput Run(RnnOptions options)
    {
        (RnnWeights weights, FloatTensor x, FloatTensor? h0, FloatTensor? c0) = Inputs();
        using RecurrentModule module = RecurrentModule.Create(weights, options with { BatchFirst = BatchFirst });
        return module.Forward(x, h0, c0, Lengths);
    }

    public ReferenceOutput<T> RunReference<T>()
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        (RnnWeights weights, FloatTensor x, FloatTensor? h0, FloatTensor? c0) = Inputs();
        return ReferenceRnn.Forward<T>(weights, x, h0, c0, Lengths, BatchFirst);
    }

    public override string ToString() =>
        $"{Name} (seed {Seed}): {Spec}, T={SeqLen} B={Batch} batch_first={BatchFirst} h0={InitialState} lengths=[{(Lengths is null ? "" : string.Join(",", Lengths))}]";

    /// <summary>
    /// A random network and input from <paramref name="seed"/>: all four cell kinds, log-uniform sizes in
    /// 1..<paramref name="maxSize"/> (mostly small, fast and edge-heavy; sometimes several vector blocks and tails), 1–3
    /// layers, both directions, projection, bias or none, initial state or none, variable lengths, both data layouts;
    /// then the cell, PyTorch's unless <paramref name="cell"/> draws another for the spec. A given
    /// <paramref name="kind"/> replaces the drawn one, the other draws unchanged.
    /// </summary>
    public static ParityCase Draw(string name, int seed, int maxSize, Func<System.Random, RnnSpec, CellVariant>? cell = null, CellKind? kind = null)
    {
        var random = new System.Random(seed);
        CellKind drawn = Enum.GetValues<CellKind>()[random.Next(4)], cellKind = kind ?? drawn;
        int Size() => (int)Math.Round(Math.Exp(random.NextDouble() * Math.Log(maxSize)));
        int hidden = Size();
        bool project = cellKind == CellKind.Lstm && hidden > 1 && random.Next(3) == 0;
        var spec = new RnnSpec(cellKind, Size(), hidden, random.Next(1, 4), random.Next(2) == 0, random.Next(4) != 0,
            project ? random.Next(1, hidden) : 0);
        int seqLen = random.Next(1, 7), batch = random.Next(1, 6);
        var test = new ParityCase(name, spec, seed, seqLen, batch, random.Next(2) == 0, random.Next(2) == 0,
            random.Next(2) == 0 ? RandomNetworks.Lengths(random, batch, seqLen) : null);
        return cell is null ? test : test with { Spec = spec with { Cell = cell(random, spec) } };
    }

    /// <summary>The case's weights (<see cref="RandomNetworks.Create"/> from its seed) and inputs (zeros where <see cref="InitialState"/> is false: null).</summary>
    public (RnnWeights Weights, FloatTensor X, FloatTensor? H0, FloatTensor? C0) Inputs()
    {
        var random = new Random(Seed);
        RnnWeights weights = RandomNetworks.Create(Spec, Seed);
        FloatTensor x = BatchFirst
            ? RandomNetworks.FloatTensor(random, Batch, SeqLen, Spec.InputSize)
            : RandomNetworks.FloatTensor(random, SeqLen, Batch, Spec.InputSize);
        FloatTensor? h0 = InitialState ? RandomNetworks.FloatTensor(random, Spec.LayerDirectionCount, Batch, Spec.OutputSize) : null;
        FloatTensor? c0 = InitialState && Spec.Kind == CellKind.Lstm
            ? RandomNetworks.FloatTensor(random, Spec.LayerDirectionCount, Batch, Spec.HiddenSize)
            : null;
        return (weights, x, h0, c0);
    }

    private static ParityCase WithLengths(ParityCase test) =>
        test with { Lengths = RandomNetworks.Lengths(new Random(test.Seed), test.Batch, test.SeqLen) };

    private static class ReferenceCache
    {
        private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, Lazy<SequenceOutput>> Computed = new();

        public static SequenceOutput Get(ParityCase test) =>
            Computed.GetOrAdd(test.Name, _ => new Lazy<SequenceOutput>(() => test.RunReference<double>().ToSequenceOutput())).Value;
    }
}
