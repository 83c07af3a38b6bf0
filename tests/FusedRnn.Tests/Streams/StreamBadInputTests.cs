using System.Buffers.Binary;
using System.IO.Hashing;
using FusedRnn.Streams;
using FusedRnn.Tests.Support;

namespace FusedRnn.Tests.Streams;

/// <summary>
/// Every misuse of a stream or batcher gets a typed error naming what is wrong, changes nothing, and leaves the other
/// streams stepping as before.
/// </summary>
public class StreamBadInputTests
{
    private static readonly RnnSpec Spec = new(CellKind.Lstm, 4, 6);

    private static RecurrentModule Module(RnnPrecision precision = RnnPrecision.Float32, int seed = 71) =>
        RecurrentModule.Create(RandomNetworks.Create(Spec, seed), new RnnOptions { Precision = precision });

    /// <summary>
    /// Options under which a step waits for the other open streams to step too: its window is longer than any test
    /// runs, so the step is still in flight however slowly the test's next statements run.
    /// </summary>
    private static readonly StreamBatcherOptions Waiting = new() { BatchingWindow = TimeSpan.FromSeconds(30) };

    [Fact]
    public async Task StepsOfTheWrongSizeAreRefused()
    {
        using RecurrentModule module = Module();
        using var batcher = new StreamBatcher(module);
        using RnnStream stream = batcher.Open();
        Assert.Contains("input", Assert.Throws<ShapeMismatchException>(() => stream.Step(new float[3], new float[6])).Message);
        Assert.Equal("output", Assert.Throws<ShapeMismatchException>(() => stream.Step(new float[4], new float[5])).ParamName);
        Assert.Equal("input", (await Assert.ThrowsAsync<ShapeMismatchException>(async () => await stream.StepAsync(new float[5], new float[6]))).ParamName);
        Assert.Equal(0, stream.Steps);
        stream.Step(new float[4], new float[6]);
        Assert.Equal(1, stream.Steps);
    }

    [Fact]
    public async Task DisposedStreamsBatchersAndNetworksAreRefused()
    {
        RecurrentModule module = Module();
        var batcher = new StreamBatcher(module);
        RnnStream stream = batcher.Open();
        RnnStream other = batcher.Open();
        stream.Dispose();
        stream.Dispose();
        Assert.True(stream.IsDisposed);
        Assert.Throws<ObjectDisposedException>(() => stream.Step(new float[4], new float[6]));
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await stream.StepAsync(new float[4], new float[6]));
        Assert.Throws<ObjectDisposedException>(stream.Reset);
        Assert.Throws<ObjectDisposedException>(() => stream.Snapshot());
        Assert.Equal(1, batcher.OpenStreams);

        module.Dispose();
        Assert.Contains("network was disposed", Assert.Throws<ObjectDisposedException>(() => other.Step(new float[4], new float[6])).Message);
        batcher.Dispose();
        Assert.Throws<ObjectDisposedException>(() => other.Step(new float[4], new float[6]));
        Assert.Throws<ObjectDisposedException>(() => batcher.Open());
        Assert.Equal(0, other.Steps);
    }

    [Fact]
    public async Task AStepInFlightBlocksAnotherStepResetSnapshotAndRestore()
    {
        using RecurrentModule module = Module();
        using var batcher = new StreamBatcher(module, Waiting);
        using RnnStream first = batcher.Open();
        using RnnStream second = batcher.Open();
        byte[] fresh = first.Snapshot();
        var output = new float[6];
        // first's step leads a batch that waits for second.
        Task inFlight = Task.Run(() => first.Step(new float[] { 1, 2, 3, 4 }, output));
        SpinWait.SpinUntil(() => batcher.QueuedSteps == 1);
        Assert.Contains("already has a step in flight", Assert.Throws<InvalidOperationException>(() => first.Step(new float[4], new float[6])).Message);
        Assert.Contains("step in flight", Assert.Throws<InvalidOperationException>(first.Reset).Message);
        Assert.Contains("step in flight", Assert.Throws<InvalidOperationException>(() => first.Snapshot()).Message);
        Assert.Contains("step in flight", Assert.Throws<InvalidOperationException>(() => first.Restore(fresh)).Message);
        Assert.Equal(1, batcher.QueuedSteps);

        second.Step(new float[4], new float[6]);
        await inFlight;
        Assert.Equal(1, first.Steps);
        Assert.Equal(1, second.Steps);
    }

    [Fact]
    public async Task AFullQueueRefusesSynchronousStepsAndMakesAsynchronousOnesWait()
    {
        using RecurrentModule module = Module();
        using var batcher = new StreamBatcher(module, Waiting with { QueueLimit = 1 });
        using RnnStream first = batcher.Open();
        using RnnStream second = batcher.Open();
        using RnnStream third = batcher.Open();
        Task firstStep = Task.Run(() => first.Step(new float[4], new float[6]));
        SpinWait.SpinUntil(() => batcher.QueuedSteps == 1);

        var full = Assert.Throws<StreamLimitExceededException>(() => second.Step(new float[4], new float[6]));
        Assert.Equal("QueueLimit", full.Limit);
        Assert.Equal(1, full.Value);
        Assert.Equal(0, second.Steps);
        // An asynchronous step waits for room: it is still waiting when cancelled, and nothing changed.
        using var cancel = new CancellationTokenSource();
        Task waiting = second.StepAsync(new float[4], new float[6], cancel.Token).AsTask();
        await Task.Delay(50);
        Assert.False(waiting.IsCompleted);
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
        Assert.Equal(0, second.Steps);

        // The room comes back when first's batch runs (it stops waiting once third is gone and every open stream has joined).
        third.Dispose();
        second.Dispose();
        await firstStep;
        Assert.Equal(1, first.Steps);
    }

    [Fact]
    public async Task CancellingAQueuedStepWithdrawsItAndLeavesTheOthersRunning()
    {
        using RecurrentModule module = Module();
        using var batcher = new StreamBatcher(module, Waiting);
        using RnnStream leader = batcher.Open();
        using RnnStream cancelled = batcher.Open();
        RnnStream absent = batcher.Open();
        var leaderOutput = new float[6];
        Task leaderStep = Task.Run(() => leader.Step(new float[] { 1, 1, 1, 1 }, leaderOutput));
        SpinWait.SpinUntil(() => batcher.QueuedSteps == 1);

        using var cancel = new CancellationTokenSource();
        ValueTask step = cancelled.StepAsync(new float[] { 2, 2, 2, 2 }, new float[6], cancel.Token);
        SpinWait.SpinUntil(() => batcher.QueuedSteps == 2);
        await cancel.CancelAsync();
        var error = await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await step);
        Assert.Contains("before it joined a batch", error.Message);
        Assert.Equal(0, cancelled.Steps);
        Assert.Equal(1, batcher.QueuedSteps);

        absent.Dispose();  // now every open stream but the cancelled one has a step waiting: still waiting for it
        cancelled.Step(new float[] { 2, 2, 2, 2 }, new float[6]);
        await leaderStep;
        Assert.Equal(1, leader.Steps);
        Assert.Equal(1, cancelled.Steps);
        using var alone = new StreamBatcher(module);
        using RnnStream reference = alone.Open();
        var expected = new float[6];
        reference.Step(new float[] { 1, 1, 1, 1 }, expected);
        Assert.Equal(expected, leaderOutput);
    }

    [Fact]
    public void EveryStateSlotTakenRefusesAnotherStream()
    {
        using RecurrentModule module = Module();
        using var batcher = new StreamBatcher(module, new StreamBatcherOptions { Capacity = 2 });
        using RnnStream first = batcher.Open();
        RnnStream second = batcher.Open();
        var limit = Assert.Throws<StreamLimitExceededException>(() => batcher.Open());
        Assert.Equal("Capacity", limit.Limit);
        Assert.Contains("all 2 stream slots are in use", limit.Message);
        second.Step(new float[] { 1, 2, 3, 4 }, new float[6]);
        second.Dispose();
        // The freed slot starts the next stream at the zero state, not at the old stream's.
        using RnnStream third = batcher.Open();
        var fromThird = new float[6];
        var fromFirst = new float[6];
        third.Step(new float[] { 1, 2, 3, 4 }, fromThird);
        first.Step(new float[] { 1, 2, 3, 4 }, fromFirst);
        Assert.Equal(fromFirst, fromThird);
    }

    [Fact]
    public void ABidirectionalNetworkAndOptionsOutOfRangeAreRefused()
    {
        using RecurrentModule bidirectional = RecurrentModule.Create(RandomNetworks.Create(Spec with { Bidirectional = true }, 73));
        Assert.Contains("bidirectional", Assert.Throws<NotSupportedException>(() => new StreamBatcher(bidirectional)).Message);
        using RecurrentModule module = Module();
        Assert.Throws<ArgumentNullException>(() => new StreamBatcher((RecurrentBase)null!));
        Assert.Contains("Capacity", Assert.Throws<ArgumentOutOfRangeException>(() => new StreamBatcher(module, new StreamBatcherOptions { Capacity = 0 })).Message);
        Assert.Contains("MaxBatch", Assert.Throws<ArgumentOutOfRangeException>(() => new StreamBatcher(module, new StreamBatcherOptions { MaxBatch = -1 })).Message);
        Assert.Contains("QueueLimit", Assert.Throws<ArgumentOutOfRangeException>(() => new StreamBatcher(module, new StreamBatcherOptions { QueueLimit = -1 })).Message);
        Assert.Contains("BatchingWindow", Assert.Throws<ArgumentOutOfRangeException>(() => new StreamBatcher(module, new StreamBatcherOptions { BatchingWindow = TimeSpan.FromMinutes(2) })).Message);
        Assert.Contains("BatchingWindow", Assert.Throws<ArgumentOutOfRangeException>(() => new StreamBatcher(module, new StreamBatcherOptions { BatchingWindow = TimeSpan.FromTicks(-1) })).Message);
        Assert.Contains("Name", Assert.Throws<ArgumentException>(() => new StreamBatcher(module, new StreamBatcherOptions { Name = " " })).Message);
        using RecurrentModule large = RecurrentModule.Create(RandomNetworks.Create(new RnnSpec(CellKind.Lstm, 4, 600), 79));
        Assert.Contains("more than one array holds", Assert.Throws<ArgumentOutOfRangeException>(() => new StreamBatcher(large, new StreamBatcherOptions { Capacity = StreamBatcherOptions.MaxCount })).Message);
    }

    [Fact]
    public void SnapshotsOfAnotherNetworkPrecisionOrVersionAndCorruptOnesAreRefused()
    {
        using RecurrentModule module = Module();
        using var batcher = new StreamBatcher(module);
        using RnnStream stream = batcher.Open();
        stream.Step(new float[] { 1, 2, 3, 4 }, new float[6]);
        byte[] snapshot = stream.Snapshot();
        stream.Step(new float[] { 1, 2, 3, 4 }, new float[6]);
        byte[] before = stream.Snapshot();

        using RecurrentModule otherWeights = Module(seed: 83);
        using var otherBatcher = new StreamBatcher(otherWeights);
        using RnnStream otherStream = otherBatcher.Open();
        Assert.Contains("another network", Refused(otherStream, snapshot));
        using RecurrentModule float64 = Module(RnnPrecision.Float64);
        using var float64Batcher = new StreamBatcher(float64);
        using RnnStream float64Stream = float64Batcher.Open();
        Assert.Contains("Float32 stream; this stream's network computes in Float64", Refused(float64Stream, snapshot));

        Assert.Contains("not a FusedRnn stream snapshot", Refused(stream, [.. "not a snapshot at all, just bytes"u8]));
        Assert.Contains("not a FusedRnn stream snapshot", Refused(stream, []));
        Assert.Contains("truncated or padded", Refused(stream, snapshot[..^1]));
        Assert.Contains("truncated or padded", Refused(stream, [.. snapshot, 0]));
        byte[] corrupt = (byte[])snapshot.Clone();
        corrupt[40] ^= 1;
        Assert.Contains("corrupt", Refused(stream, corrupt));
        byte[] newer = (byte[])snapshot.Clone();
        BinaryPrimitives.WriteUInt16LittleEndian(newer.AsSpan(8), 2);
        BinaryPrimitives.WriteUInt32LittleEndian(newer.AsSpan(newer.Length - 4), Crc32.HashToUInt32(newer.AsSpan(0, newer.Length - 4)));
        Assert.Contains("format version 2", Refused(stream, newer));
        // Nothing was changed by the refusals.
        Assert.Equal(before, stream.Snapshot());
        Assert.Equal(2, stream.Steps);
        stream.Restore(snapshot);
        Assert.Equal(1, stream.Steps);
    }

    private static string Refused(RnnStream stream, byte[] snapshot)
    {
        var error = Assert.Throws<InvalidSnapshotException>(() => stream.Restore(snapshot));
        Assert.Equal("snapshot", error.ParamName);
        return error.Message;
    }
}
