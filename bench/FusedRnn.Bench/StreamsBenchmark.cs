using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using FusedRnn.Streams;

namespace FusedRnn.Bench;

/// <summary>
/// Concurrent streams on lstm-step-b1-h256's network (one LSTM layer, 256 inputs, 256 units): N streams each step as
/// fast as they can for a fixed time, batched through a <see cref="StreamBatcher"/> (each an async loop of
/// <see cref="RnnStream.StepAsync"/>), and alone (the streams shared round-robin by one worker per thread, each step a
/// batch-1 call carrying its own state). Reports steps/s, the p50/p99 step latency, and steps/s against the compute
/// bound: 2 FLOPs per multiply-add of a step (4·H·(I + H)) at the FMA peak <see cref="PeakFmaBenchmarks"/> measures on
/// one thread. <c>dotnet run -c Release --project bench/FusedRnn.Bench -- streams [--streams 1,16,256,4096]
/// [--seconds 3] [--backend cpu] [--window-us 20] [--max-batch 256|streams] [--threads 1]</c>.
/// </summary>
internal static class StreamsBenchmark
{
    private const int Size = 256;

    public static int Run(string[] args)
    {
        int[] counts = [.. Option(args, "--streams", "1,16,256,4096").Split(',').Select(c => int.Parse(c, CultureInfo.InvariantCulture))];
        double seconds = double.Parse(Option(args, "--seconds", "3"), CultureInfo.InvariantCulture);
        string backend = Option(args, "--backend", RnnBackends.Cpu);
        int threads = int.Parse(Option(args, "--threads", "1"), CultureInfo.InvariantCulture);
        var window = TimeSpan.FromMicroseconds(double.Parse(Option(args, "--window-us", "20"), CultureInfo.InvariantCulture));
        // A number, or "streams": as many as there are streams, so that every waiting step joins the next batch.
        string maxBatch = Option(args, "--max-batch", StreamBatcherOptions.Default.MaxBatch.ToString(CultureInfo.InvariantCulture));
        var spec = new RnnSpec(CellKind.Lstm, Size, Size);
        using RecurrentModule module = RecurrentModule.Create(RandomWeights(spec), new RnnOptions { Backend = backend, Threads = threads });
        double peak = PeakFlops();
        double flopsPerStep = 2.0 * 4 * Size * (Size + Size);
        Console.WriteLine(Invariant($"// {spec} on {module.Backend}, {threads} thread(s), window {window.TotalMicroseconds:0} µs, max batch {maxBatch}; {Environment.ProcessorCount} logical processors"));
        Console.WriteLine(Invariant($"// compute bound: {flopsPerStep / 1e6:F2} MFLOP a step at {peak / 1e9:F1} GFLOP/s (float32 FMA peak, 1 thread) = {peak / flopsPerStep:N0} steps/s"));
        Console.WriteLine("// p50/p99: each step as its caller saw it (StepAsync's await included); batched calls and the batcher's step.duration (queued to result) from the FusedRnn meter; p99 target: window + 2 × median call");
        Console.WriteLine("| streams | mode | steps/s | p50 µs | p99 µs | steps/s ÷ compute bound | mean batch | median call µs | calls' share of the run | step.duration p99 µs | within target |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|---|---|---|");
        foreach (int count in counts)
        {
            var batcherOptions = new StreamBatcherOptions
            {
                Capacity = int.Max(count, 1),
                BatchingWindow = window,
                MaxBatch = maxBatch == "streams" ? int.Max(count, 1) : int.Parse(maxBatch, CultureInfo.InvariantCulture),
                Name = "bench",
            };
            foreach ((string mode, Func<RecurrentModule, int, TimeSpan, StreamBatcherOptions, Measurement> measure) in new (string, Func<RecurrentModule, int, TimeSpan, StreamBatcherOptions, Measurement>)[] { ("batched", Batched), ("alone", Alone) })
            {
                measure(module, count, TimeSpan.FromSeconds(Math.Min(1, seconds)), batcherOptions);  // warm-up
                Measurement result = measure(module, count, TimeSpan.FromSeconds(seconds), batcherOptions);
                double rate = result.Steps / result.Elapsed.TotalSeconds;
                string calls = "| | | | |";
                if (result.Calls is { Durations.Count: > 0 } batches)
                {
                    double medianCall = Median(batches.Durations) * 1e6;
                    double busy = batches.Durations.Sum() / result.Elapsed.TotalSeconds;
                    double stepP99 = batches.StepDurations.Percentile(0.99);
                    bool withinTarget = stepP99 <= window.TotalMicroseconds + (2 * medianCall);
                    calls = Invariant($"{(double)batches.Steps / batches.Durations.Count:F1} | {medianCall:F1} | {busy:F2} | {stepP99:F1} | {(withinTarget ? "yes" : "no")} |");
                }

                Console.WriteLine(Invariant($"| {count} | {mode} | {rate:N0} | {result.Percentile(0.50):F1} | {result.Percentile(0.99):F1} | {rate / (peak / flopsPerStep):F2} | {calls}"));
            }
        }

        return 0;
    }

    /// <summary>The batched calls of a run, as the batcher's meter reports them.</summary>
    private sealed class BatchCalls
    {
        public List<double> Durations { get; } = new(1 << 16);

        public LatencyHistogram StepDurations { get; } = new();

        public long Steps { get; set; }
    }

    private static double Median(List<double> values)
    {
        double[] sorted = [.. values.Order()];
        return sorted[sorted.Length / 2];
    }

    /// <summary>
    /// Step latencies in logarithmic buckets, 32 an octave (a bucket is 2.2% wide): recording allocates nothing, so
    /// thousands of streams measure themselves without adding garbage collections to what they measure.
    /// </summary>
    private sealed class LatencyHistogram
    {
        private const int PerOctave = 32;
        private readonly long[] _counts = new long[40 * PerOctave];

        public long Count { get; private set; }

        public void Add(double microseconds)
        {
            int bucket = microseconds <= 1 ? 0 : int.Min(_counts.Length - 1, (int)(Math.Log2(microseconds) * PerOctave));
            _counts[bucket]++;
            Count++;
        }

        public static LatencyHistogram Merge(IEnumerable<LatencyHistogram> parts)
        {
            var merged = new LatencyHistogram();
            foreach (LatencyHistogram part in parts)
            {
                for (int i = 0; i < merged._counts.Length; i++) merged._counts[i] += part._counts[i];
                merged.Count += part.Count;
            }

            return merged;
        }

        /// <summary>The upper edge of the bucket that holds the <paramref name="fraction"/> quantile.</summary>
        public double Percentile(double fraction)
        {
            if (Count == 0) return double.NaN;
            long rank = (long)(fraction * Count), seen = 0;
            for (int i = 0; i < _counts.Length; i++)
            {
                seen += _counts[i];
                if (seen > rank) return Math.Pow(2, (i + 1.0) / PerOctave);
            }

            return double.PositiveInfinity;
        }
    }

    private sealed record Measurement(long Steps, TimeSpan Elapsed, LatencyHistogram Latencies, BatchCalls? Calls = null)
    {
        public double Percentile(double fraction) => Latencies.Percentile(fraction);
    }

    /// <summary>Every stream an async loop of StepAsync through one batcher.</summary>
    private static Measurement Batched(RecurrentModule module, int count, TimeSpan duration, StreamBatcherOptions options)
    {
        using var batcher = new StreamBatcher(module, options);
        // Only the leader of a batch records these, one batch at a time: no locking needed.
        var calls = new BatchCalls();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == StreamMetrics.MeterName && instrument.Name is StreamMetrics.BatchSize or StreamMetrics.BatchDuration or StreamMetrics.StepDuration)
                l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<double>((instrument, seconds, _, _) =>
        {
            if (instrument.Name == StreamMetrics.StepDuration) calls.StepDurations.Add(seconds * 1e6);
            else calls.Durations.Add(seconds);
        });
        listener.SetMeasurementEventCallback<int>((_, size, _, _) => calls.Steps += size);
        listener.Start();
        var latencies = new LatencyHistogram[count];
        long steps = 0;
        var stopwatch = Stopwatch.StartNew();
        Task[] loops = [.. Enumerable.Range(0, count).Select(s => Task.Run(async () =>
        {
            using RnnStream stream = batcher.Open();
            float[] x = new float[Size], y = new float[Size];
            var mine = latencies[s] = new LatencyHistogram();
            while (stopwatch.Elapsed < duration)
            {
                long started = Stopwatch.GetTimestamp();
                await stream.StepAsync(x, y).ConfigureAwait(false);
                mine.Add(Stopwatch.GetElapsedTime(started).TotalMicroseconds);
            }

            Interlocked.Add(ref steps, mine.Count);
        }))];
        Task.WaitAll(loops);
        TimeSpan elapsed = stopwatch.Elapsed;
        listener.Dispose();
        return new Measurement(steps, elapsed, LatencyHistogram.Merge(latencies), calls);
    }

    /// <summary>One worker per logical processor, each stepping its share of the streams in turn, batch 1, state in place.</summary>
    private static Measurement Alone(RecurrentModule module, int count, TimeSpan duration, StreamBatcherOptions options)
    {
        int workers = int.Min(count, Environment.ProcessorCount);
        var latencies = new LatencyHistogram[workers];
        long steps = 0;
        var stopwatch = Stopwatch.StartNew();
        Thread[] threads = [.. Enumerable.Range(0, workers).Select(w => new Thread(() =>
        {
            using RnnWorkspace workspace = module.CreateWorkspace();
            int mineCount = (count / workers) + (w < count % workers ? 1 : 0);
            float[][] h = [.. Enumerable.Range(0, mineCount).Select(_ => new float[Size])], c = [.. Enumerable.Range(0, mineCount).Select(_ => new float[Size])];
            float[] x = new float[Size], y = new float[Size];
            var mine = latencies[w] = new LatencyHistogram();
            for (int turn = 0; stopwatch.Elapsed < duration; turn = (turn + 1) % mineCount)
            {
                long started = Stopwatch.GetTimestamp();
                module.Forward(x, 1, 1, y, h[turn], c[turn], workspace, h[turn], c[turn]);
                // A stream's step waits for every stream before it in its worker's turn.
                mine.Add(Stopwatch.GetElapsedTime(started).TotalMicroseconds * mineCount);
            }

            Interlocked.Add(ref steps, mine.Count);
        }))];
        foreach (Thread thread in threads) thread.Start();
        foreach (Thread thread in threads) thread.Join();
        return new Measurement(steps, stopwatch.Elapsed, LatencyHistogram.Merge(latencies));
    }

    private static double PeakFlops()
    {
        var peak = new PeakFmaBenchmarks { Precision = RnnPrecision.Float32, Threads = 1 };
        peak.Setup();
        peak.PeakFma();
        long started = Stopwatch.GetTimestamp();
        peak.PeakFma();
        return PeakFmaBenchmarks.FlopsPerInvocation(1) / Stopwatch.GetElapsedTime(started).TotalSeconds;
    }

    private static RnnWeights RandomWeights(RnnSpec spec)
    {
        var random = new Random(1);
        float[] Values(int n) => [.. Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() - 0.5) / 16)];
        return new RnnWeights(spec, [new LayerWeights(Values(4 * Size * Size), Values(4 * Size * Size), Values(4 * Size), Values(4 * Size))]);
    }

    private static string Option(string[] args, string name, string fallback)
    {
        int at = Array.IndexOf(args, name);
        return at >= 0 && at + 1 < args.Length ? args[at + 1] : fallback;
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
