using FusedRnn.Backends.Managed;
using FusedRnn.Tests.Support;

namespace FusedRnn.Tests;

/// <summary>
/// Every backend against the plainest one (the managed backend's scalar kernels) on random networks that vary every
/// feature at once: all four cell kinds, sizes 1–300, 1–3 layers, both directions, projection, bias or none,
/// initial state or none, variable lengths, both data layouts. Backends agree within
/// <see cref="Tolerance.Parity"/>; the reference cases (<see cref="ReferenceTests"/>) hold each to PyTorch.
/// </summary>
public class ParityTests
{
    private const int ConfigurationsPerBackend = 24;

    public static TheoryData<string, int> BackendsAndSeeds()
    {
        var data = new TheoryData<string, int>();
        foreach (BackendUnderTest backend in BackendUnderTest.All.Where(b => b.Name != Reference.Name))
            for (int seed = 1; seed <= ConfigurationsPerBackend; seed++) data.Add(backend.Name, seed);
        return data;
    }

    private static BackendUnderTest Reference => BackendUnderTest.Get($"managed-{SimdLevel.Scalar.ToString().ToLowerInvariant()}");

    [Theory]
    [MemberData(nameof(BackendsAndSeeds))]
    public void AgreesWithTheScalarManagedBackend(string backendName, int seed) =>
        AssertAgreesWithReference(RandomCase.Create(seed), backendName, "a random network");

    /// <summary>
    /// Small networks with big batches, which threaded backends share by batch rows rather than hidden units (the
    /// random cases' batches of 1–5 never are): every feature the row split has to carry — both layouts, lengths,
    /// reverse directions, stacked layers, a projection, a last partial row group.
    /// </summary>
    public static TheoryData<string, string> BackendsAndRowSplitCases()
    {
        var data = new TheoryData<string, string>();
        foreach (BackendUnderTest backend in BackendUnderTest.All.Where(b => b.Name != Reference.Name))
            foreach (string name in RowSplitCases.Keys) data.Add(backend.Name, name);
        return data;
    }

    private static readonly Dictionary<string, RandomCase> RowSplitCases = new()
    {
        ["lstm-bidirectional-batch-first-packed"] = WithLengths(new RandomCase(new RnnSpec(CellKind.Lstm, 12, 32, 2, true), 101, 5, 48, true, true, null)),
        ["gru-time-major-packed"] = WithLengths(new RandomCase(new RnnSpec(CellKind.Gru, 7, 24), 102, 6, 64, false, false, null)),
        ["lstm-projection"] = new RandomCase(new RnnSpec(CellKind.Lstm, 10, 40, 2, ProjSize: 12), 103, 4, 40, false, true, null),
        ["rnn-relu-bidirectional-partial-group"] = new RandomCase(new RnnSpec(CellKind.RnnRelu, 5, 64, 1, true), 104, 3, 33, false, true, null),
    };

    private static RandomCase WithLengths(RandomCase test) =>
        test with { Lengths = RandomNetworks.Lengths(new Random(test.Seed), test.Batch, test.SeqLen) };

    [Theory]
    [MemberData(nameof(BackendsAndRowSplitCases))]
    public void AgreesWithTheScalarManagedBackendOnBigBatches(string backendName, string caseName) =>
        AssertAgreesWithReference(RowSplitCases[caseName], backendName, caseName);

    private static void AssertAgreesWithReference(RandomCase test, string backendName, string caseName)
    {
        SequenceOutput expected = test.Run(Reference);
        SequenceOutput actual = test.Run(BackendUnderTest.Get(backendName));

        string where = $"{backendName} on {caseName} ({test})";
        Tolerance.AssertClose(expected.Output, actual.Output, Tolerance.Parity, $"y, {where}");
        Tolerance.AssertClose(expected.HiddenState, actual.HiddenState, Tolerance.Parity, $"h_n, {where}");
        if (expected.CellState is not null) Tolerance.AssertClose(expected.CellState, actual.CellState!, Tolerance.Parity, $"c_n, {where}");
    }

    /// <summary>One random network with one random input.</summary>
    private sealed record RandomCase(RnnSpec Spec, int Seed, int SeqLen, int Batch, bool BatchFirst, bool InitialState, int[]? Lengths)
    {
        public static RandomCase Create(int seed)
        {
            var random = new Random(seed);
            CellKind kind = Enum.GetValues<CellKind>()[random.Next(4)];
            // Log-uniform sizes: mostly small (fast, edge-heavy), sometimes up to 300 (several vector blocks and tails).
            int Size() => (int)Math.Round(Math.Exp(random.NextDouble() * Math.Log(300)));
            int hidden = Size();
            bool project = kind == CellKind.Lstm && hidden > 1 && random.Next(3) == 0;
            var spec = new RnnSpec(kind, Size(), hidden, random.Next(1, 4), random.Next(2) == 0, random.Next(4) != 0,
                project ? random.Next(1, hidden) : 0);
            int seqLen = random.Next(1, 7), batch = random.Next(1, 6);
            return new RandomCase(spec, seed, seqLen, batch, random.Next(2) == 0, random.Next(2) == 0,
                random.Next(2) == 0 ? RandomNetworks.Lengths(random, batch, seqLen) : null);
        }

        public SequenceOutput Run(BackendUnderTest backend)
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
            using RecurrentModule module = RecurrentModule.Create(weights, backend.With(BatchFirst));
            return module.Forward(x, h0, c0, Lengths);
        }

        public override string ToString() =>
            $"seed {Seed}: {Spec}, T={SeqLen} B={Batch} batch_first={BatchFirst} h0={InitialState} lengths=[{(Lengths is null ? "" : string.Join(",", Lengths))}]";
    }
}
