using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using FusedRnn.Streams;
using FusedRnn.Tests.Support;

namespace FusedRnn.Tests.Streams;

/// <summary>
/// Streams on every backend and precision: a stream stepped T times gives the whole-sequence call's y bit for bit
/// (in Float64 too: its state stays double between steps), alone or batched with any other streams under heavy
/// concurrency, and a snapshot restored anywhere (another stream, another backend) carries on exactly.
/// </summary>
public class StreamBatcherTests
{
    private static readonly Dictionary<string, RnnSpec> Networks = new()
    {
        ["lstm-2-layers"] = new RnnSpec(CellKind.Lstm, 7, 33, NumLayers: 2),
        ["lstm-projection"] = new RnnSpec(CellKind.Lstm, 9, 40, NumLayers: 2, ProjSize: 11),
        ["gru"] = new RnnSpec(CellKind.Gru, 13, 130),
        ["rnn-relu"] = new RnnSpec(CellKind.RnnRelu, 6, 17, Bias: false),
    };

    public static TheoryData<string, RnnPrecision, string> BackendsPrecisionsAndNetworks()
    {
        var data = new TheoryData<string, RnnPrecision, string>();
        foreach (BackendUnderTest backend in BackendUnderTest.All)
            foreach (RnnPrecision precision in BackendUnderTest.Precisions)
                foreach (string network in Networks.Keys) data.Add(backend.Name, precision, network);
        return data;
    }

    public static TheoryData<string, RnnPrecision> BackendsAndPrecisions() => BackendUnderTest.NamesAndPrecisions();

    [Theory]
    [MemberData(nameof(BackendsPrecisionsAndNetworks))]
    public void StreamsSteppedInTurnEqualTheWholeSequenceBitForBit(string backendName, RnnPrecision precision, string network)
    {
        RnnSpec spec = Networks[network];
        using RecurrentModule module = RecurrentModule.Create(RandomNetworks.Create(spec, 41), BackendUnderTest.Get(backendName).In(precision));
        Sequences sequences = Sequences.For(module, streams: 3, seqLen: 9, seed: 43);
        using var batcher = new StreamBatcher(module);
        RnnStream[] streams = [batcher.Open(), batcher.Open(), batcher.Open()];
        var output = new float[spec.OutputSize];
        // Stream s takes its steps at its own pace: s + 1 steps per round.
        int[] taken = new int[streams.Length];
        while (taken.Any(t => t < sequences.SeqLen))
        {
            for (int s = 0; s < streams.Length; s++)
            {
                for (int k = 0; k <= s && taken[s] < sequences.SeqLen; k++, taken[s]++)
                {
                    streams[s].Step(sequences.Input(taken[s], s), output);
                    sequences.AssertStep(output, taken[s], s, $"{backendName}, {precision}, {network}");
                }
            }
        }

        Assert.All(streams, stream => Assert.Equal(sequences.SeqLen, stream.Steps));
    }

    [Theory]
    [MemberData(nameof(BackendsAndPrecisions))]
    public async Task ConcurrentStreamsBatchedTogetherGiveTheirOwnSequencesBitForBit(string backendName, RnnPrecision precision)
    {
        var spec = new RnnSpec(CellKind.Lstm, 16, 64, NumLayers: 2);
        using RecurrentModule module = RecurrentModule.Create(RandomNetworks.Create(spec, 47), BackendUnderTest.Get(backendName).In(precision));
        const int streamCount = 48;
        Sequences sequences = Sequences.For(module, streamCount, seqLen: 30, seed: 53);
        using var batches = new BatchSizes();
        string name = $"concurrency-{backendName}-{precision}";
        using var batcher = new StreamBatcher(module, new StreamBatcherOptions { BatchingWindow = TimeSpan.FromMilliseconds(1), MaxBatch = 16, Name = name });
        var failures = new ConcurrentQueue<string>();
        RnnStream[] streams = [.. Enumerable.Range(0, streamCount).Select(_ => batcher.Open())];
        // Even streams step asynchronously on the pool, odd ones synchronously on threads of their own.
        await Task.WhenAll(Enumerable.Range(0, streamCount).Select(s => s % 2 == 0
            ? Task.Run(async () =>
            {
                using RnnStream stream = streams[s];
                var output = new float[spec.OutputSize];
                for (int t = 0; t < sequences.SeqLen; t++)
                {
                    await stream.StepAsync(sequences.Input(t, s).ToArray(), output);
                    if (!sequences.Matches(output, t, s)) failures.Enqueue($"stream {s}, step {t}");
                }
            })
            : Task.Factory.StartNew(() =>
            {
                using RnnStream stream = streams[s];
                var output = new float[spec.OutputSize];
                for (int t = 0; t < sequences.SeqLen; t++)
                {
                    stream.Step(sequences.Input(t, s), output);
                    if (!sequences.Matches(output, t, s)) failures.Enqueue($"stream {s}, step {t}");
                }
            }, TaskCreationOptions.LongRunning)));

        Assert.Empty(failures);
        Assert.Equal(0, batcher.OpenStreams);
        Assert.Equal(streamCount * sequences.SeqLen, batches.Steps(name));
        Assert.True(batches.Largest(name) > 1, "no two streams ever shared a batch, so the test proves nothing about batching");
    }

    [Theory]
    [MemberData(nameof(BackendsAndPrecisions))]
    public void ASnapshotRestoredOnEveryBackendCarriesOnExactly(string backendName, RnnPrecision precision)
    {
        RnnSpec spec = Networks["lstm-projection"];
        RnnWeights weights = RandomNetworks.Create(spec, 59);
        using RecurrentModule module = RecurrentModule.Create(weights, BackendUnderTest.Get(backendName).In(precision));
        Sequences sequences = Sequences.For(module, streams: 1, seqLen: 8, seed: 61);
        using var batcher = new StreamBatcher(module);
        using RnnStream stream = batcher.Open();
        var output = new float[spec.OutputSize];
        for (int t = 0; t < 5; t++) stream.Step(sequences.Input(t, 0), output);
        byte[] snapshot = stream.Snapshot();

        // The same backend carries on bit for bit; another reads the same slot layout and lands within the parity
        // tolerance of this backend's sequence (a misread state would be far off).
        foreach (BackendUnderTest other in BackendUnderTest.All)
        {
            using RecurrentModule otherModule = RecurrentModule.Create(weights, other.In(precision));
            using var otherBatcher = new StreamBatcher(otherModule);
            using RnnStream restored = otherBatcher.Open();
            restored.Restore(snapshot);
            Assert.Equal(5, restored.Steps);
            for (int t = 5; t < sequences.SeqLen; t++)
            {
                restored.Step(sequences.Input(t, 0), output);
                string where = $"restored from {backendName} on {other.Name}, {precision}";
                if (other.Name == backendName) sequences.AssertStep(output, t, 0, where);
                else Tolerance.AssertClose(sequences.Output(t, 0), output, Tolerance.ParityFor(precision), where);
            }
        }

        stream.Reset();
        Assert.Equal(0, stream.Steps);
        stream.Step(sequences.Input(0, 0), output);
        sequences.AssertStep(output, 0, 0, $"{backendName}, {precision}, after Reset");
    }

    /// <summary>
    /// The streams' inputs and the whole-sequence call's y for them: x <c>[T, S, I]</c>, each stream a batch row
    /// from the zero state.
    /// </summary>
    private sealed class Sequences
    {
        private readonly FloatTensor _input;
        private readonly FloatTensor _output;
        private readonly int _streams, _inputSize, _outputSize;

        private Sequences(FloatTensor input, FloatTensor output, int streams, int seqLen, int inputSize, int outputSize)
        {
            (_input, _output, _streams, SeqLen, _inputSize, _outputSize) = (input, output, streams, seqLen, inputSize, outputSize);
        }

        public int SeqLen { get; }

        public static Sequences For(RecurrentModule module, int streams, int seqLen, int seed)
        {
            FloatTensor x = RandomNetworks.FloatTensor(new Random(seed), seqLen, streams, module.Spec.InputSize);
            return new Sequences(x, module.Forward(x).Output, streams, seqLen, module.Spec.InputSize, module.Spec.OutputSize);
        }

        public ReadOnlySpan<float> Input(int step, int stream) => _input.Span.Slice(((step * _streams) + stream) * _inputSize, _inputSize);

        public ReadOnlySpan<float> Output(int step, int stream) => _output.Span.Slice(((step * _streams) + stream) * _outputSize, _outputSize);

        public bool Matches(ReadOnlySpan<float> output, int step, int stream) =>
            MemoryMarshalBits(output).SequenceEqual(MemoryMarshalBits(Output(step, stream)));

        public void AssertStep(ReadOnlySpan<float> output, int step, int stream, string where) =>
            Assert.True(Matches(output, step, stream), $"{where}: stream {stream}'s y at step {step} differs from the whole sequence's");

        private static ReadOnlySpan<int> MemoryMarshalBits(ReadOnlySpan<float> values) => System.Runtime.InteropServices.MemoryMarshal.Cast<float, int>(values);
    }

    /// <summary>Listens to <see cref="StreamMetrics.BatchSize"/>, per batcher name.</summary>
    private sealed class BatchSizes : IDisposable
    {
        private readonly MeterListener _listener = new();
        private readonly ConcurrentDictionary<string, (long Steps, int Largest)> _sizes = new();

        public BatchSizes()
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == StreamMetrics.MeterName && instrument.Name == StreamMetrics.BatchSize) listener.EnableMeasurementEvents(instrument);
            };
            _listener.SetMeasurementEventCallback<int>((_, size, tags, _) =>
            {
                string name = "";
                foreach (KeyValuePair<string, object?> tag in tags)
                    if (tag.Key == "fusedrnn.model") name = (string)tag.Value!;
                _sizes.AddOrUpdate(name, (size, size), (_, seen) => (seen.Steps + size, int.Max(seen.Largest, size)));
            });
            _listener.Start();
        }

        public long Steps(string name) => _sizes.TryGetValue(name, out var seen) ? seen.Steps : 0;

        public int Largest(string name) => _sizes.TryGetValue(name, out var seen) ? seen.Largest : 0;

        public void Dispose() => _listener.Dispose();
    }
}
