using System.Diagnostics;
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
/// [--seconds 3] [--backend cpu] [--window-us 20] [--threads 1]</c>.
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
        var spec = new RnnSpec(CellKind.Lstm, Size, Size);
        using RecurrentModule module = RecurrentModule.Create(RandomWeights(spec), new RnnOptions { Backend = backend, Threads = threads });
        double peak = PeakFlops();
        double flopsPerStep = 2.0 * 4 * Size * (Size + Size);
        Console.WriteLine(Invariant($"// {spec} on {module.Backend}, {threads} thread(s), window {window.TotalMicroseconds:0} µs; {Environment.ProcessorCount} logical processors"));
        Console.WriteLine(Invariant($"// compute bound: {flopsPerStep / 1e6:F2} MFLOP a step at {peak / 1e9:F1} GFLOP/s (float32 FMA peak, 1 thread) = {peak / flopsPerStep:N0} steps/s"));
        Console.WriteLine("| streams | mode | steps/s | p50 µs | p99 µs | steps/s ÷ compute bound |");
        Console.WriteLine("|---|---|---|---|---|---|");
        foreach (int count in counts)
        {
            foreach ((string mode, Func<RecurrentModule, int, TimeSpan, TimeSpan, Measurement> measure) in new (string, Func<RecurrentModule, int, TimeSpan, TimeSpan, Measurement>)[] { ("batched", Batched), ("alone", Alone) })
            {
                measure(module, count, TimeSpan.FromSeconds(Math.Min(1, seconds)), window);  // warm-up
                Measurement result = measure(module, count, TimeSpan.FromSeconds(seconds), window);
                double rate = result.Steps / result.Elapsed.TotalSeconds;
                Console.WriteLine(Invariant($"| {count} | {mode} | {rate:N0} | {result.Percentile(0.50):F1} | {result.Percentile(0.99):F1} | {rate / (peak / flopsPerStep):F2} |"));
            }
        }

        return 0;
    }

    private sealed record Measurement(long Steps, TimeSpan Elapsed, double[] LatenciesMicroseconds)
    {
        public double Percentile(double fraction)
        {
            if (LatenciesMicroseconds.Length == 0) return double.NaN;
            double[] sorted = [.. LatenciesMicroseconds.Order()];
            return sorted[int.Min(sorted.Length - 1, (int)(fraction * sorted.Length))];
        }
    }

    /// <summary>Every stream an async loop of StepAsync through one batcher.</summary>
    private static Measurement Batched(RecurrentModule module, int count, TimeSpan duration, TimeSpan window)
    {
        using var batcher = new StreamBatcher(module, new StreamBatcherOptions { Capacity = int.Max(count, 1), BatchingWindow = window, Name = "bench" });
        var latencies = new List<double>[count];
        long steps = 0;
        var stopwatch = Stopwatch.StartNew();
        Task[] loops = [.. Enumerable.Range(0, count).Select(s => Task.Run(async () =>
        {
            using RnnStream stream = batcher.Open();
            float[] x = new float[Size], y = new float[Size];
            var mine = latencies[s] = new List<double>(4096);
            while (stopwatch.Elapsed < duration)
            {
                long started = Stopwatch.GetTimestamp();
                await stream.StepAsync(x, y).ConfigureAwait(false);
                mine.Add(Stopwatch.GetElapsedTime(started).TotalMicroseconds);
            }

            Interlocked.Add(ref steps, mine.Count);
        }))];
        Task.WaitAll(loops);
        return new Measurement(steps, stopwatch.Elapsed, [.. latencies.SelectMany(l => l)]);
    }

    /// <summary>One worker per logical processor, each stepping its share of the streams in turn, batch 1, state in place.</summary>
    private static Measurement Alone(RecurrentModule module, int count, TimeSpan duration, TimeSpan window)
    {
        int workers = int.Min(count, Environment.ProcessorCount);
        var latencies = new List<double>[workers];
        long steps = 0;
        var stopwatch = Stopwatch.StartNew();
        Thread[] threads = [.. Enumerable.Range(0, workers).Select(w => new Thread(() =>
        {
            using RnnWorkspace workspace = module.CreateWorkspace();
            int mineCount = (count / workers) + (w < count % workers ? 1 : 0);
            float[][] h = [.. Enumerable.Range(0, mineCount).Select(_ => new float[Size])], c = [.. Enumerable.Range(0, mineCount).Select(_ => new float[Size])];
            float[] x = new float[Size], y = new float[Size];
            var mine = latencies[w] = new List<double>(4096);
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
        return new Measurement(steps, stopwatch.Elapsed, [.. latencies.SelectMany(l => l)]);
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
