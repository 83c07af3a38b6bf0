using System.Diagnostics;
using System.Runtime;

namespace FusedRnn;

/// <summary>What <see cref="JitWarmup.Run"/> did.</summary>
/// <param name="Calls">How many times it made the call.</param>
/// <param name="Elapsed">How long it took.</param>
/// <param name="JitQuiet">Whether the JIT had compiled nothing for the quiet time when it stopped (false: it stopped at the longest warm-up).</param>
public readonly record struct WarmupReport(int Calls, TimeSpan Elapsed, bool JitQuiet);

/// <summary>
/// Warming a call up before it is served or timed. Tiered compilation recompiles hot methods in the background a while
/// after their first calls (and the background compiler takes a core from a call's worker threads); a latency-sensitive
/// service that starts serving at once, or a benchmark that starts timing, finds those recompilations in its tail.
/// <see cref="Run"/> makes the call until the JIT has been quiet for a while.
/// </summary>
public static class JitWarmup
{
    /// <summary>How long the JIT must have compiled nothing, by default: 250 ms.</summary>
    public static TimeSpan DefaultQuietTime { get; } = TimeSpan.FromMilliseconds(250);

    /// <summary>The longest warm-up, by default: 5 s.</summary>
    public static TimeSpan DefaultLongest { get; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Makes <paramref name="call"/> at least <paramref name="minimumCalls"/> times and for at least
    /// <paramref name="minimumTime"/>, and then until the JIT has compiled no method for <paramref name="quietTime"/>
    /// (<see cref="DefaultQuietTime"/> when null), but for no longer than <paramref name="longest"/>
    /// (<see cref="DefaultLongest"/> when null) once the minimums are met.
    /// </summary>
    /// <exception cref="ArgumentNullException"><paramref name="call"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A count or time is negative.</exception>
    public static WarmupReport Run(Action call, int minimumCalls = 1, TimeSpan minimumTime = default, TimeSpan? quietTime = null, TimeSpan? longest = null)
    {
        ArgumentNullException.ThrowIfNull(call);
        ArgumentOutOfRangeException.ThrowIfNegative(minimumCalls);
        ArgumentOutOfRangeException.ThrowIfLessThan(minimumTime, TimeSpan.Zero);
        TimeSpan quiet = quietTime ?? DefaultQuietTime, limit = longest ?? DefaultLongest;
        ArgumentOutOfRangeException.ThrowIfLessThan(quiet, TimeSpan.Zero, nameof(quietTime));
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, TimeSpan.Zero, nameof(longest));

        long start = Stopwatch.GetTimestamp(), lastCompilation = start;
        long compiledMethods = JitInfo.GetCompiledMethodCount();
        int calls = 0;
        while (calls < minimumCalls || Stopwatch.GetElapsedTime(start) < minimumTime ||
               (Stopwatch.GetElapsedTime(lastCompilation) < quiet && Stopwatch.GetElapsedTime(start) < limit))
        {
            call();
            calls++;
            long compiled = JitInfo.GetCompiledMethodCount();
            if (compiled != compiledMethods)
            {
                compiledMethods = compiled;
                lastCompilation = Stopwatch.GetTimestamp();
            }
        }

        return new WarmupReport(calls, Stopwatch.GetElapsedTime(start), Stopwatch.GetElapsedTime(lastCompilation) >= quiet);
    }
}
