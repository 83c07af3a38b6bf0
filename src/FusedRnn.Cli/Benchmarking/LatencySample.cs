using System.Diagnostics;

namespace FusedRnn.Cli.Benchmarking;

/// <summary>The sorted durations of individually timed calls, as <c>fusedrnn demo</c> and <c>fusedrnn bench</c> report them.</summary>
internal sealed class LatencySample
{
    readonly double[] _sortedSeconds;

    LatencySample(double[] sortedSeconds, double totalSeconds)
    {
        _sortedSeconds = sortedSeconds;
        TotalSeconds = totalSeconds;
    }

    /// <summary>Calls timed.</summary>
    public int Count => _sortedSeconds.Length;

    /// <summary>Wall time of the timed phase, timer reads included.</summary>
    public double TotalSeconds { get; }

    /// <summary>The nearest-rank quantile of the call durations, in seconds (0.5: the median).</summary>
    public double QuantileSeconds(double quantile) => _sortedSeconds[Math.Max(0, (int)Math.Ceiling(quantile * Count) - 1)];

    /// <summary>
    /// Warms <paramref name="call"/> up for at least <paramref name="warmUp"/> and <paramref name="minimumCalls"/> calls
    /// and until the JIT is quiet (<see cref="JitWarmup.Run"/>, its defaults), then times each call until
    /// <paramref name="duration"/> has passed and at least <paramref name="minimumCalls"/> calls were made.
    /// <paramref name="phase"/>, when given, hears each phase begin (for a progress display; never while a call is timed).
    /// </summary>
    public static LatencySample Measure(Action call, TimeSpan warmUp, TimeSpan duration, int minimumCalls, Action<string>? phase = null)
    {
        phase?.Invoke("Warming up until the JIT is quiet");
        WarmupReport warmed = JitWarmup.Run(call, minimumCalls, warmUp);

        // Sized from the warm-up rate so that the list rarely grows while calls are being timed.
        double estimatedCalls = warmed.Calls * duration.TotalSeconds / Math.Max(warmed.Elapsed.TotalSeconds, 1e-9);
        var seconds = new List<double>((int)Math.Min(estimatedCalls * 1.25 + minimumCalls, 50_000_000));
        phase?.Invoke($"Timing calls for {duration.TotalSeconds.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture)} s");
        long measureStart = Stopwatch.GetTimestamp();
        while (seconds.Count < minimumCalls || Stopwatch.GetElapsedTime(measureStart) < duration)
        {
            long start = Stopwatch.GetTimestamp();
            call();
            seconds.Add(Stopwatch.GetElapsedTime(start).TotalSeconds);
        }

        double totalSeconds = Stopwatch.GetElapsedTime(measureStart).TotalSeconds;
        double[] sorted = [.. seconds];
        Array.Sort(sorted);
        return new LatencySample(sorted, totalSeconds);
    }
}
