using FusedRnn.Streams;
using FusedRnn.Tests.Support;

namespace FusedRnn.Tests.Streams;

/// <summary>
/// Streams through whole models (an embedding, networks each feeding the next, dense heads) on every backend and
/// precision: a stream's y_t is the whole-sequence call's heads output at step t, bit for bit, through token ids or
/// vectors, batched with other streams; snapshots carry every network's state; misuse is refused by name.
/// </summary>
public class SequenceModelStreamTests
{
    private const int Vocabulary = 50, Embedding = 12, Classes = 5;

    private static SequenceModel Model(RnnOptions options, bool withEmbedding, bool bidirectionalSecond = false)
    {
        var random = new Random(7);
        FloatTensor Tensor(params int[] shape) => new(RandomNetworks.Uniform(random, shape.Aggregate(1, (a, b) => a * b), 0.5f), shape);
        var lstm = new RnnSpec(CellKind.Lstm, Embedding, 24, NumLayers: 2);
        var gru = new RnnSpec(CellKind.Gru, 24, 16, Bidirectional: bidirectionalSecond);
        var parts = new SequenceModelParts(
            withEmbedding ? new EmbeddingLayer(Tensor(Vocabulary, Embedding)) : null,
            [RandomNetworks.Create(lstm, 11), RandomNetworks.Create(gru, 13)],
            [new DenseLayer(Tensor(20, gru.OutputFeatures), Tensor(20), DenseActivation.Tanh), new DenseLayer(Tensor(Classes, 20), Tensor(Classes), DenseActivation.Softmax)]);
        return SequenceModel.Create(parts, options);
    }

    public static TheoryData<string, RnnPrecision> BackendsAndPrecisions() => BackendUnderTest.NamesAndPrecisions();

    [Theory]
    [MemberData(nameof(BackendsAndPrecisions))]
    public async Task TokenStreamsEqualTheWholeSequenceBitForBit(string backendName, RnnPrecision precision)
    {
        using SequenceModel model = Model(BackendUnderTest.Get(backendName).In(precision), withEmbedding: true);
        const int seqLen = 9, streams = 6;
        var random = new Random(17);
        long[] ids = [.. Enumerable.Range(0, seqLen * streams).Select(_ => (long)random.Next(Vocabulary))];
        FloatTensor whole = model.ForwardIds(ids, [seqLen, streams]);
        using var batcher = new StreamBatcher(model, new StreamBatcherOptions { BatchingWindow = TimeSpan.FromMilliseconds(1) });
        Assert.True(batcher.TakesIds);
        Assert.Equal(Classes, batcher.OutputSize);
        RnnStream[] open = [.. Enumerable.Range(0, streams).Select(_ => batcher.Open())];
        await Task.WhenAll(Enumerable.Range(0, streams).Select(s => Task.Run(async () =>
        {
            using RnnStream stream = open[s];
            var y = new float[Classes];
            for (int t = 0; t < seqLen; t++)
            {
                await stream.StepIdAsync(ids[(t * streams) + s], y);
                Assert.Equal(whole.Span.Slice(((t * streams) + s) * Classes, Classes).ToArray(), y);
            }
        })));
    }

    [Theory]
    [MemberData(nameof(BackendsAndPrecisions))]
    public void VectorStreamsEqualTheWholeSequenceAndSnapshotsCarryEveryNetwork(string backendName, RnnPrecision precision)
    {
        using SequenceModel model = Model(BackendUnderTest.Get(backendName).In(precision), withEmbedding: false);
        const int seqLen = 7;
        FloatTensor x = RandomNetworks.FloatTensor(new Random(19), seqLen, 1, Embedding);
        FloatTensor whole = model.Forward(x);
        using var batcher = new StreamBatcher(model);
        using RnnStream stream = batcher.Open();
        Assert.False(batcher.TakesIds);
        var y = new float[Classes];
        byte[]? snapshot = null;
        for (int t = 0; t < seqLen; t++)
        {
            if (t == 3) snapshot = stream.Snapshot();
            stream.Step(x.Span.Slice(t * Embedding, Embedding), y);
            Assert.Equal(whole.Span.Slice(t * Classes, Classes).ToArray(), y);
        }

        using RnnStream restored = batcher.Open();
        restored.Restore(snapshot);
        for (int t = 3; t < seqLen; t++)
        {
            restored.Step(x.Span.Slice(t * Embedding, Embedding), y);
            Assert.Equal(whole.Span.Slice(t * Classes, Classes).ToArray(), y);
        }
    }

    /// <summary>
    /// A batch whose second network fails (here it was disposed inside the model) gives the error and leaves the state
    /// of the first as it was too: retrying the step later gives the result it would have given.
    /// </summary>
    [Theory]
    [MemberData(nameof(BackendsAndPrecisions))]
    public void AFailedStageLeavesEveryNetworksStateAsItWas(string backendName, RnnPrecision precision)
    {
        using SequenceModel model = Model(BackendUnderTest.Get(backendName).In(precision), withEmbedding: false);
        using var batcher = new StreamBatcher(model);
        using RnnStream stream = batcher.Open();
        FloatTensor x = RandomNetworks.FloatTensor(new Random(23), 3, 1, Embedding);
        var y = new float[Classes];
        stream.Step(x.Span[..Embedding], y);
        stream.Step(x.Span.Slice(Embedding, Embedding), y);
        byte[] before = stream.Snapshot();

        model.Recurrent[1].Dispose();
        var failure = Assert.Throws<InvalidOperationException>(() => stream.Step(x.Span.Slice(2 * Embedding, Embedding), y));

        Assert.IsType<ObjectDisposedException>(failure.InnerException);
        Assert.Equal(2, stream.Steps);
        Assert.Equal(before, stream.Snapshot());
    }

    [Fact]
    public void MisusedModelStreamsAreRefusedByName()
    {
        using SequenceModel tokens = Model(new RnnOptions(), withEmbedding: true);
        using var batcher = new StreamBatcher(tokens);
        using RnnStream stream = batcher.Open();
        Assert.Contains("step it with token ids (StepId)", Assert.Throws<InvalidOperationException>(() => stream.Step(new float[Embedding], new float[Classes])).Message);
        var outside = Assert.Throws<ArgumentOutOfRangeException>(() => stream.StepId(Vocabulary, new float[Classes]));
        Assert.Contains($"token id {Vocabulary} is outside the vocabulary of embedding (0..{Vocabulary - 1})", outside.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => stream.StepId(-1, new float[Classes]));
        Assert.Throws<ShapeMismatchException>(() => stream.StepId(3, new float[Classes + 1]));
        Assert.Equal(0, stream.Steps);
        stream.StepId(3, new float[Classes]);
        Assert.Equal(1, stream.Steps);

        using SequenceModel vectors = Model(new RnnOptions(), withEmbedding: false);
        using var vectorBatcher = new StreamBatcher(vectors);
        using RnnStream vectorStream = vectorBatcher.Open();
        Assert.Contains("has no embedding", Assert.Throws<InvalidOperationException>(() => vectorStream.StepId(1, new float[Classes])).Message);
        Assert.Contains("another network", Assert.Throws<InvalidSnapshotException>(() => vectorStream.Restore(stream.Snapshot())).Message);

        using SequenceModel bidirectional = Model(new RnnOptions(), withEmbedding: false, bidirectionalSecond: true);
        Assert.Contains("recurrent[1]: a bidirectional network cannot be stepped", Assert.Throws<NotSupportedException>(() => new StreamBatcher(bidirectional)).Message);
        Assert.Throws<ArgumentNullException>(() => new StreamBatcher((SequenceModel)null!));
    }
}
