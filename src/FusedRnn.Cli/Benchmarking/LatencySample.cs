using System.Diagnostics;
using System.Runtime;

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

    /// <summary>How long the JIT must have compiled nothing before timing starts.</summary>
    static readonly TimeSpan JitQuietTime = TimeSpan.FromMilliseconds(250);

    /// <summary>The longest warm-up spent waiting for the JIT to go quiet.</summary>
    static readonly TimeSpan LongestWarmUp = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Calls <paramref name="call"/> untimed for at least <paramref name="warmUp"/> and until the JIT has compiled
    /// nothing for <see cref="JitQuietTime"/> (up to <see cref="LongestWarmUp"/>): tiered compilation recompiles hot
    /// methods in the background a while after their first calls, and a recompilation during timing — or the
    /// background compiler taking a core from a call's worker threads — would land in the tail. Then times each call
    /// until <paramref name="duration"/> has passed and at least <paramref name="minimumCalls"/> calls were made.
    /// <paramref name="phase"/>, when given, hears each phase begin (for a progress display; never while a call is timed).
    /// </summary>
    public static LatencySample Measure(Action call, TimeSpan warmUp, TimeSpan duration, int minimumCalls, Action<string>? phase = null)
    {
        phase?.Invoke("Warming up until the JIT is quiet");
        long warmUpStart = Stopwatch.GetTimestamp();
        int warmUpCalls = 0;
        long compiledMethods = JitInfo.GetCompiledMethodCount(), lastCompilation = warmUpStart;
        for (; warmUpCalls < minimumCalls || Stopwatch.GetElapsedTime(warmUpStart) < warmUp ||
               (Stopwatch.GetElapsedTime(lastCompilation) < JitQuietTime && Stopwatch.GetElapsedTime(warmUpStart) < LongestWarmUp);
             warmUpCalls++)
        {
            call();
            long compiled = JitInfo.GetCompiledMethodCount();
            if (compiled != compiledMethods)
            {
                compiledMethods = compiled;
                lastCompilation = Stopwatch.GetTimestamp();
            }
        }

        // Sized from the warm-up rate so that the list rarely grows while calls are being timed.
        double estimatedCalls = warmUpCalls * duration.TotalSeconds / Math.Max(Stopwatch.GetElapsedTime(warmUpStart).TotalSeconds, 1e-9);
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
