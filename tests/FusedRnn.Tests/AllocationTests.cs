using FusedRnn.Backends;
using FusedRnn.Tests.Support;

namespace FusedRnn.Tests;

/// <summary>
/// The caller-owned-output overloads allocate nothing once the workspace has grown. Warm-up runs long enough for
/// tiered compilation to settle, and the class runs alone so nothing else shares the thread's counter.
/// </summary>
[Collection(nameof(AllocationTests))]
[CollectionDefinition(nameof(AllocationTests), DisableParallelization = true)]
public class AllocationTests
{
    private const int WarmUpCalls = 200;

    public static TheoryData<string> BackendNames() => BackendUnderTest.Names;

    [Theory]
    [MemberData(nameof(BackendNames))]
    public void SequenceForwardAllocatesNothingAfterWarmUp(string backendName)
    {
        var spec = new RnnSpec(CellKind.Lstm, 6, 9, NumLayers: 3, Bidirectional: true, ProjSize: 5);
        using var lstm = new Lstm(RandomNetworks.Create(spec, 3), BackendUnderTest.Get(backendName).Options);
        using RnnWorkspace workspace = lstm.CreateWorkspace();
        const int seqLen = 7, batch = 5;
        var x = new float[seqLen * batch * 6];
        var y = new float[seqLen * batch * spec.OutputFeatures];
        var hn = new float[spec.LayerDirectionCount * batch * 5];
        var cn = new float[spec.LayerDirectionCount * batch * 9];
        int[] lengths = [7, 2, 5, 7, 1];
        x.AsSpan().Fill(0.25f);

        for (int i = 0; i < WarmUpCalls; i++) lstm.Forward(x, seqLen, batch, y, hn, cn, workspace, hn, cn, lengths);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 20; i++) lstm.Forward(x, seqLen, batch, y, hn, cn, workspace, hn, cn, lengths);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, allocated);
        Assert.Contains(y, v => v != 0);
    }

    public static TheoryData<string, RnnPrecision> BackendsAndPrecisions() => BackendUnderTest.NamesAndPrecisions();

    /// <summary>A stream's steps, synchronous and asynchronous (which completes at once when it leads its own batch).</summary>
    [Theory]
    [MemberData(nameof(BackendsAndPrecisions))]
    public void StreamStepsAllocateNothingAfterWarmUp(string backendName, RnnPrecision precision)
    {
        var spec = new RnnSpec(CellKind.Lstm, 8, 32, NumLayers: 2);
        using RecurrentModule module = RecurrentModule.Create(RandomNetworks.Create(spec, 5), BackendUnderTest.Get(backendName).In(precision));
        using var batcher = new FusedRnn.Streams.StreamBatcher(module);
        using FusedRnn.Streams.RnnStream stream = batcher.Open();
        float[] x = new float[8], y = new float[32];
        x.AsSpan().Fill(0.5f);
        void Steps(int count)
        {
            for (int i = 0; i < count; i++)
            {
                stream.Step(x, y);
                ValueTask step = stream.StepAsync(x, y);
                Assert.True(step.IsCompletedSuccessfully);
                step.GetAwaiter().GetResult();
            }
        }

        Steps(WarmUpCalls);
        long before = GC.GetAllocatedBytesForCurrentThread();
        Steps(50);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, allocated);
        Assert.Contains(y, v => v != 0);
    }

    [Theory]
    [MemberData(nameof(BackendNames))]
    public void CellStepAllocatesNothingAfterWarmUp(string backendName)
    {
        using var cell = new GruCell(RandomNetworks.Create(new RnnSpec(CellKind.Gru, 4, 33), 4), BackendUnderTest.Get(backendName).Options);
        using RnnWorkspace workspace = cell.CreateWorkspace();
        var x = new float[2 * 4];
        var h = new float[2 * 33];
        x.AsSpan().Fill(0.5f);

        for (int i = 0; i < WarmUpCalls; i++) cell.Step(x, 2, h, default, h, default, workspace);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 50; i++) cell.Step(x, 2, h, default, h, default, workspace);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, allocated);
        Assert.Contains(h, v => v != 0);
    }

    /// <summary>A whole model's stream whose 2000-way softmax head is split between two threads.</summary>
    [Theory]
    [MemberData(nameof(BackendUnderTest.NamesAndPrecisions), MemberType = typeof(BackendUnderTest))]
    public void AThreadedHeadStepsWithoutAllocatingAfterWarmUp(string backendName, RnnPrecision precision)
    {
        var (parts, _) = SequenceModels.SequenceModelHeadTests.Parts();
        RnnOptions options = BackendUnderTest.Get(backendName).In(precision) with { Threads = 2, OversubscribeThreads = true };
        using SequenceModel model = SequenceModel.Create(parts, options);
        using SequenceModelState state = model.CreateState(1);
        long[] id = [5];
        var y = new float[SequenceModels.SequenceModelHeadTests.Classes];

        for (int i = 0; i < WarmUpCalls; i++) model.StepIds(id, state, y);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 20; i++) model.StepIds(id, state, y);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, allocated);
        Assert.Equal(1, y.Sum(), 4);
    }
}
