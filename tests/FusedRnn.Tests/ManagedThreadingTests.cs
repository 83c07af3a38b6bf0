using System.Runtime.CompilerServices;
using FusedRnn.Backends;
using FusedRnn.Backends.Managed;
using FusedRnn.Tests.Support;

namespace FusedRnn.Tests;

/// <summary>
/// The managed backend's worker threads: any thread count gives the single-threaded result bit for bit, in both
/// precisions, on both ways of splitting a call; the workers are the process pool's, shared by every workspace, and hold
/// no workspace between calls.
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
        var team = new WorkerTeam(new WorkerPool(1));
        Assert.False(team.Congested());
        // Participant 1 arrives 20 ms late at every barrier, as if it had lost its core: participant 0 spends half of
        // the call waiting.
        void Late(int participant)
        {
            for (int barrier = 0; barrier < 2; barrier++)
            {
                if (participant == 1) Thread.Sleep(20);
                team.SignalAndWait();
            }
        }

        void RunOnTwo(Action<int> job)
        {
            Assert.Equal(2, team.Hire(2));
            team.Run(job);
        }

        RunOnTwo(Late);
        Assert.True(team.Congested());
        Assert.False(team.Congested()); // one call alone after the first congested call
        RunOnTwo(Late);
        Assert.True(team.Congested());
        Assert.True(team.Congested());
        Assert.False(team.Congested()); // two after the second
        // A call without waits ends the stretch: the next congested call is followed by one call alone.
        RunOnTwo(_ => { });
        Assert.False(team.Congested());
        RunOnTwo(Late);
        Assert.True(team.Congested());
        Assert.False(team.Congested());
    }

    [Fact]
    public void TeamsHireOnlyIdleWorkersOfTheirPool()
    {
        var pool = new WorkerPool(3);
        WorkerTeam first = new(pool), second = new(pool), third = new(pool);
        Assert.Equal(0, pool.Started); // workers start on demand
        Assert.Equal(3, first.Hire(3));
        Assert.Equal(2, second.Hire(4)); // one worker left idle
        Assert.Equal(1, third.Hire(2)); // none idle: the caller alone
        Assert.Equal(3, pool.Started);
        first.Dismiss();
        Assert.Equal(3, third.Hire(3));
        int ran = 0;
        third.Run(_ =>
        {
            Interlocked.Increment(ref ran);
            third.SignalAndWait();
        });
        Assert.Equal(3, ran);
        Assert.Equal(3, first.Hire(3)); // Run gave its workers back
        Assert.Equal(3, pool.Started); // and none more were started
        // Beyond the limit: the worker it gave back, and two more started.
        Assert.Equal(4, second.Hire(4, beyondPoolLimit: true));
        Assert.Equal(5, pool.Started);
        first.Dismiss();
        second.Dismiss();
    }

    [Fact]
    public void AFailedParticipantFailsTheCallAndTheWorkersGoBack()
    {
        var pool = new WorkerPool(1);
        var team = new WorkerTeam(pool);
        Assert.Equal(2, team.Hire(2));
        var failure = Assert.Throws<InvalidOperationException>(() => team.Run(participant =>
        {
            if (participant == 1) throw new ArithmeticException("worker");
            team.SignalAndWait();
        }));
        Assert.IsType<ArithmeticException>(failure.InnerException);
        Assert.Equal(2, new WorkerTeam(pool).Hire(2)); // the worker is idle again
    }

    /// <summary>A workspace dropped without being disposed is collected: the workers keep nothing of it between calls.</summary>
    [Fact]
    public void TheWorkersHoldNoWorkspaceBetweenCalls()
    {
        using RecurrentModule module = RecurrentModule.Create(RandomNetworks.Create(new RnnSpec(CellKind.Gru, 8, 32), 2), Options(2));
        WeakReference dropped = RunAndForget(module);

        for (int attempt = 0; attempt < 10 && dropped.IsAlive; attempt++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }

        Assert.False(dropped.IsAlive, "the workspace is still referenced");
    }

    /// <summary>Not inlined, so no reference to the workspace is left on the test's stack.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static WeakReference RunAndForget(RecurrentModule module)
    {
        RnnWorkspace workspace = SplitAsPlanned(module.CreateWorkspace());
        RunRowSplit(module, workspace);
        Assert.Equal(2, ((ManagedWorkspace)workspace).Call.Participants);
        return new WeakReference(workspace);
    }

    /// <summary>A call big enough in batch to be split by rows.</summary>
    internal static void RunRowSplit(RecurrentModule module, RnnWorkspace workspace)
    {
        const int seqLen = 3, batch = 16;
        var x = new float[seqLen * batch * module.Spec.InputSize];
        var y = new float[seqLen * batch * module.Spec.OutputFeatures];
        var hn = new float[batch * module.Spec.OutputSize];
        module.Forward(x, seqLen, batch, y, hn, default, workspace);
    }

    /// <summary>
    /// <paramref name="workspace"/>, set to split every call as planned even when its workers find the cores busy or the
    /// pool's workers hired (a test runner's other tests keep them busy, and more threads than cores always do), so that
    /// tests can check the split.
    /// </summary>
    internal static RnnWorkspace SplitAsPlanned(RnnWorkspace workspace)
    {
        ((ManagedWorkspace)workspace).SplitsAsPlanned = true;
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

/// <summary>
/// The process's worker pool across workspaces and models: alone in the process, since other tests hire its workers
/// (and those that check a split start workers beyond its limit).
/// </summary>
[Collection(nameof(WorkerPoolTests))]
[CollectionDefinition(nameof(WorkerPoolTests), DisableParallelization = true)]
public class WorkerPoolTests
{
    /// <summary>
    /// In this collection because the split it checks hires two of the pool's workers, which a test running alongside
    /// may hold.
    /// </summary>
    [Fact]
    public void ACallAfterCongestedOnesRunsAloneWithTheSameResult()
    {
        var spec = new RnnSpec(CellKind.Lstm, 24, 256);
        using RecurrentModule module = RecurrentModule.Create(RandomNetworks.Create(spec, 3), ManagedThreadingTests.Options(2));
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

        Assert.Equal(2, team.Hire(2, beyondPoolLimit: true));
        team.Run(_ => { });
        Assert.Equal(2, team.Hire(2, beyondPoolLimit: true));
        team.Run(participant =>
        {
            if (participant == 1) Thread.Sleep(20);
            team.SignalAndWait();
        });
        module.Forward(x, seqLen, batch, y, hn, cn, workspace);

        Assert.Equal(1, ws.Call.Participants);
        Assert.True(splitY.AsSpan().SequenceEqual(y), "y differs from the split call's");
        module.Forward(x, seqLen, batch, y, hn, cn, workspace);
        Assert.Equal(2, ws.Call.Participants); // the stretch after one congested call is one call long
    }

    /// <summary>
    /// 16 workspaces of 4 models, each wanting 2 participants, all calling at once from their own threads: the calls
    /// hire the pool's workers, so the pool starts none beyond its limit (one fewer than the thread limit), where one
    /// team per workspace would have started 16.
    /// </summary>
    [Fact]
    public void ConcurrentWorkspacesOfManyModelsShareThePoolsWorkers()
    {
        var modules = new List<RecurrentModule>();
        try
        {
            for (int i = 0; i < 4; i++)
            {
                modules.Add(RecurrentModule.Create(RandomNetworks.Create(new RnnSpec(CellKind.Gru, 8, 32), i), ManagedThreadingTests.Options(2)));
            }

            int before = WorkerPool.Process.Started;
            using var start = new Barrier(16);
            var stillHired = new int[16];
            var failures = new Exception?[16];
            Thread[] callers = [.. Enumerable.Range(0, 16).Select(index => new Thread(() =>
            {
                try
                {
                    RecurrentModule module = modules[index % 4];
                    using RnnWorkspace workspace = module.CreateWorkspace();
                    start.SignalAndWait();
                    for (int call = 0; call < 20; call++) ManagedThreadingTests.RunRowSplit(module, workspace);
                    stillHired[index] = ((ManagedWorkspace)workspace).Team?.HiredThreads.Count() ?? 0;
                }
                catch (Exception e)
                {
                    failures[index] = e;
                }
            }))];
            foreach (Thread caller in callers) caller.Start();
            foreach (Thread caller in callers) caller.Join();

            Assert.All(failures, failure => Assert.Null(failure));
            Assert.All(stillHired, count => Assert.Equal(0, count)); // every call gave its workers back
            Assert.Equal(int.Max(0, ManagedBackend.ThreadLimit - 1), WorkerPool.Process.Limit);
            Assert.InRange(WorkerPool.Process.Started, before, int.Max(before, WorkerPool.Process.Limit));
        }
        finally
        {
            foreach (RecurrentModule module in modules) module.Dispose();
        }
    }
}
