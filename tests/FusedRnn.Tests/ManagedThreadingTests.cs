using System.Runtime.CompilerServices;
using FusedRnn.Backends;
using FusedRnn.Backends.Managed;
using FusedRnn.Tests.Support;

namespace FusedRnn.Tests;

/// <summary>
/// The managed backend's worker threads: any thread count gives the single-threaded result bit for bit, in both
/// precisions, on both ways of splitting a call, and a workspace's workers end when it is disposed or collected.
/// (<see cref="ThreadCountTests"/> holds every backend to the same, without looking inside the workspace.)
/// </summary>
public class ManagedThreadingTests
{
    /// <summary>A network and call shape, and the split it must get at more than one thread.</summary>
    public sealed record Case(string Name, RnnSpec Spec, int SeqLen, int Batch, bool Lengths, bool SplitRows)
    {
        public override string ToString() => Name;
    }

    public static TheoryData<Case, int, RnnPrecision> Cases()
    {
        var data = new TheoryData<Case, int, RnnPrecision>();
        foreach (Case c in Shapes)
            foreach (int threads in new[] { 2, 3 })
                foreach (RnnPrecision precision in BackendUnderTest.Precisions) data.Add(c, threads, precision);
        return data;
    }

    /// <summary>
    /// Call shapes that split at 2 and 3 threads, on hidden units or on rows, by the rule both backends share (CallPlan,
    /// native sharing_for): a step of at least 32K multiply-adds, rows split when each participant gets a group of 4 and
    /// the weights fit every core's cache or units cannot be split (a projection mixes them).
    /// </summary>
    internal static IReadOnlyList<Case> Shapes { get; } =
    [
        new("lstm hidden split", new RnnSpec(CellKind.Lstm, 24, 256), 5, 1, Lengths: false, SplitRows: false),
        new("gru hidden split, 2 layers", new RnnSpec(CellKind.Gru, 17, 200, NumLayers: 2), 4, 2, Lengths: true, SplitRows: false),
        new("rnn hidden split, bidirectional", new RnnSpec(CellKind.RnnTanh, 9, 300, Bidirectional: true), 3, 3, Lengths: true, SplitRows: false),
        new("lstm projection, row split", new RnnSpec(CellKind.Lstm, 12, 208, NumLayers: 2, ProjSize: 150), 4, 12, Lengths: true, SplitRows: true),
        new("bilstm row split", new RnnSpec(CellKind.Lstm, 11, 40, NumLayers: 3, Bidirectional: true, ProjSize: 13), 6, 16, Lengths: true, SplitRows: true),
        new("gru row split", new RnnSpec(CellKind.Gru, 16, 48), 7, 12, Lengths: false, SplitRows: true),
    ];

    [Theory]
    [MemberData(nameof(Cases))]
    public void AnyThreadCountGivesTheSingleThreadedResultExactly(Case c, int threads, RnnPrecision precision)
    {
        RnnWeights weights = RandomNetworks.Create(c.Spec, 7);
        var random = new Random(11);
        FloatTensor x = RandomNetworks.FloatTensor(random, c.Batch, c.SeqLen, c.Spec.InputSize);
        FloatTensor h0 = RandomNetworks.FloatTensor(random, c.Spec.LayerDirectionCount, c.Batch, c.Spec.OutputSize);
        int[]? lengths = c.Lengths ? RandomNetworks.Lengths(random, c.Batch, c.SeqLen) : null;

        SequenceOutput expected = Run(weights, Options(1) with { Precision = precision }, x, h0, lengths, c, expectThreaded: false);
        SequenceOutput actual = Run(weights, Options(threads) with { Precision = precision }, x, h0, lengths, c, expectThreaded: true);

        Assert.True(expected.Output.Span.SequenceEqual(actual.Output.Span), "y differs");
        Assert.True(expected.HiddenState.Span.SequenceEqual(actual.HiddenState.Span), "h_n differs");
        Assert.True(expected.CellState is null || expected.CellState.Span.SequenceEqual(actual.CellState!.Span), "c_n differs");
        Assert.Contains(actual.Output.ToArray(), v => v != 0);
    }

    private static SequenceOutput Run(RnnWeights weights, RnnOptions options, FloatTensor x, FloatTensor h0, int[]? lengths, Case c, bool expectThreaded)
    {
        using RecurrentModule module = RecurrentModule.Create(weights, options with { BatchFirst = true });
        using RnnWorkspace workspace = SplitAsPlanned(module.CreateWorkspace());
        RnnSpec spec = c.Spec;
        var y = new float[c.SeqLen * c.Batch * spec.OutputFeatures];
        var hn = new float[spec.LayerDirectionCount * c.Batch * spec.OutputSize];
        var cn = new float[spec.Kind == CellKind.Lstm ? spec.LayerDirectionCount * c.Batch * spec.HiddenSize : 0];
        // Twice: the second call runs on workers that already exist and on a workspace that has grown.
        for (int call = 0; call < 2; call++) module.Forward(x.Span, c.SeqLen, c.Batch, y, hn, cn, workspace, h0.Span, default, lengths);

        CallShape shape = ((ManagedWorkspace)workspace).Call;
        Assert.Equal(expectThreaded ? options.Threads : 1, shape.Participants);
        if (expectThreaded) Assert.Equal(c.SplitRows, shape.SplitRows);
        return new SequenceOutput(
            new FloatTensor(y, c.Batch, c.SeqLen, spec.OutputFeatures),
            new FloatTensor(hn, spec.LayerDirectionCount, c.Batch, spec.OutputSize),
            cn.Length == 0 ? null : new FloatTensor(cn, spec.LayerDirectionCount, c.Batch, spec.HiddenSize));
    }

    [Fact]
    public void TinyProblemsRunOnTheCallersThreadAlone()
    {
        using var cell = new LstmCell(RandomNetworks.Create(new RnnSpec(CellKind.Lstm, 64, 64), 1), Options(2));
        using RnnWorkspace workspace = cell.CreateWorkspace();
        var x = new float[64];
        var h = new float[64];
        var c = new float[64];
        cell.Step(x, 1, h, c, h, c, workspace);

        Assert.Equal(1, ((ManagedWorkspace)workspace).Call.Participants);
        Assert.Null(((ManagedWorkspace)workspace).Team);
    }

    [Fact]
    public void BlockedBarriersAdviseRunningAloneForADoublingStretch()
    {
        var team = new WorkerTeam(2);
        try
        {
            Assert.False(team.Congested());
            // Participant 1 arrives 20 ms late at every barrier, as if it had lost its core: participant 0 spends half
            // of the call waiting.
            void Late(int participant)
            {
                for (int barrier = 0; barrier < 2; barrier++)
                {
                    if (participant == 1) Thread.Sleep(20);
                    team.SignalAndWait();
                }
            }

            team.Run(Late, 2);
            Assert.True(team.Congested());
            Assert.False(team.Congested()); // one call alone after the first congested call
            team.Run(Late, 2);
            Assert.True(team.Congested());
            Assert.True(team.Congested());
            Assert.False(team.Congested()); // two after the second
            // A call without waits ends the stretch: the next congested call is followed by one call alone.
            team.Run(_ => { }, 2);
            Assert.False(team.Congested());
            team.Run(Late, 2);
            Assert.True(team.Congested());
            Assert.False(team.Congested());
        }
        finally
        {
            team.Stop();
        }
    }

    [Fact]
    public void ACallAfterCongestedOnesRunsAloneWithTheSameResult()
    {
        var spec = new RnnSpec(CellKind.Lstm, 24, 256);
        using RecurrentModule module = RecurrentModule.Create(RandomNetworks.Create(spec, 3), Options(2));
        using RnnWorkspace workspace = module.CreateWorkspace();
        const int seqLen = 4, batch = 1;
        float[] x = RandomNetworks.FloatTensor(new Random(4), seqLen, batch, spec.InputSize).ToArray();
        var y = new float[seqLen * batch * spec.OutputFeatures];
        var hn = new float[batch * spec.OutputSize];
        var cn = new float[batch * spec.HiddenSize];
        module.Forward(x, seqLen, batch, y, hn, cn, workspace);
        float[] splitY = [.. y];

        // A call without waits (whatever this machine's load did to the first), then one whose second participant
        // keeps losing its core.
        var ws = (ManagedWorkspace)workspace;
        WorkerTeam team = ws.Team ?? throw new InvalidOperationException("no workers were started");
        while (team.Congested())
        {
        }

        team.Run(_ => { }, 2);
        team.Run(participant =>
        {
            if (participant == 1) Thread.Sleep(20);
            team.SignalAndWait();
        }, 2);
        module.Forward(x, seqLen, batch, y, hn, cn, workspace);

        Assert.Equal(1, ws.Call.Participants);
        Assert.True(splitY.AsSpan().SequenceEqual(y), "y differs from the split call's");
        module.Forward(x, seqLen, batch, y, hn, cn, workspace);
        Assert.Equal(2, ws.Call.Participants); // the stretch after one congested call is one call long
    }

    [Fact]
    public void DisposingAWorkspaceEndsItsWorkers()
    {
        using RecurrentModule module = RecurrentModule.Create(RandomNetworks.Create(new RnnSpec(CellKind.Gru, 8, 32), 2), Options(3));
        RnnWorkspace workspace = module.CreateWorkspace();
        IReadOnlyList<Thread> workers = RunRowSplit(module, workspace);

        workspace.Dispose();

        Assert.Equal(2, workers.Count);
        Assert.All(workers, worker => Assert.True(worker.Join(TimeSpan.FromSeconds(10)), $"{worker.Name} still runs"));
    }

    [Fact]
    public void CollectingAnUndisposedWorkspaceEndsItsWorkers()
    {
        using RecurrentModule module = RecurrentModule.Create(RandomNetworks.Create(new RnnSpec(CellKind.Gru, 8, 32), 2), Options(2));
        IReadOnlyList<Thread> workers = RunAndForget(module);

        GC.Collect();
        GC.WaitForPendingFinalizers();

        Assert.Single(workers);
        Assert.All(workers, worker => Assert.True(worker.Join(TimeSpan.FromSeconds(10)), $"{worker.Name} still runs"));
    }

    /// <summary>Not inlined, so no reference to the workspace is left on the test's stack.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static IReadOnlyList<Thread> RunAndForget(RecurrentModule module) => RunRowSplit(module, module.CreateWorkspace());

    /// <summary>A call big enough in batch to be split by rows; returns the workers it started.</summary>
    private static IReadOnlyList<Thread> RunRowSplit(RecurrentModule module, RnnWorkspace workspace)
    {
        const int seqLen = 3, batch = 16;
        var x = new float[seqLen * batch * module.Spec.InputSize];
        var y = new float[seqLen * batch * module.Spec.OutputFeatures];
        var hn = new float[batch * module.Spec.OutputSize];
        module.Forward(x, seqLen, batch, y, hn, default, workspace);
        WorkerTeam team = ((ManagedWorkspace)workspace).Team ?? throw new InvalidOperationException("no workers were started");
        Assert.All(team.Workers, worker => Assert.True(worker.IsAlive));
        return [.. team.Workers];
    }

    /// <summary>
    /// <paramref name="workspace"/>, set to split every call as planned even when its workers find the cores busy (a
    /// test runner's other tests keep them busy, and more threads than cores always do), so that tests can check the split.
    /// </summary>
    internal static RnnWorkspace SplitAsPlanned(RnnWorkspace workspace)
    {
        ((ManagedWorkspace)workspace).FollowsCongestionAdvice = false;
        return workspace;
    }

    // More participants than this machine's processors, so that a 2-core machine still tests 3- and 4-way splits.
    internal static RnnOptions Options(int threads) => new() { Backend = RnnBackends.Managed, Threads = threads, OversubscribeThreads = true };
}

/// <summary>Threaded calls allocate nothing in steady state, on any thread (the workers included).</summary>
[Collection(nameof(AllocationTests))]
public class ManagedThreadingAllocationTests
{
    [Theory]
    [InlineData(1, 200)] // hidden units split
    [InlineData(8, 32)] // rows split
    public void ThreadedCallsAllocateNothingAfterWarmUp(int batch, int hidden)
    {
        var spec = new RnnSpec(CellKind.Lstm, 16, hidden, NumLayers: 2, Bidirectional: true);
        using var lstm = new Lstm(RandomNetworks.Create(spec, 5), ManagedThreadingTests.Options(2));
        using RnnWorkspace workspace = ManagedThreadingTests.SplitAsPlanned(lstm.CreateWorkspace());
        const int seqLen = 4;
        var x = new float[seqLen * batch * spec.InputSize];
        var y = new float[seqLen * batch * spec.OutputFeatures];
        var hn = new float[spec.LayerDirectionCount * batch * spec.OutputSize];
        var cn = new float[spec.LayerDirectionCount * batch * spec.HiddenSize];
        x.AsSpan().Fill(0.25f);

        for (int i = 0; i < 200; i++) lstm.Forward(x, seqLen, batch, y, hn, cn, workspace, hn, cn);
        // The counter is process-wide: the runner's own threads allocate now and then, so the least of a few windows
        // counts. A call that allocated would show in every window.
        long least = long.MaxValue;
        for (int window = 0; window < 5; window++)
        {
            long before = GC.GetTotalAllocatedBytes(precise: true);
            for (int i = 0; i < 50; i++) lstm.Forward(x, seqLen, batch, y, hn, cn, workspace, hn, cn);
            least = long.Min(least, GC.GetTotalAllocatedBytes(precise: true) - before);
        }

        Assert.Equal(2, ((ManagedWorkspace)workspace).Call.Participants);
        Assert.Equal(0, least);
    }
}
