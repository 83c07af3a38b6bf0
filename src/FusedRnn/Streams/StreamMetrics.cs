using System.Diagnostics.Metrics;

namespace FusedRnn.Streams;

/// <summary>
/// The instruments of the <c>FusedRnn</c> meter (System.Diagnostics.Metrics; OpenTelemetry exports them with
/// <c>AddMeter("FusedRnn")</c>). Every measurement carries the tags <c>fusedrnn.model</c> (the batcher's
/// <see cref="StreamBatcherOptions.Name"/>) and <c>fusedrnn.backend</c>.
/// </summary>
public static class StreamMetrics
{
    /// <summary>The meter's name.</summary>
    public const string MeterName = "FusedRnn";

    /// <summary>Histogram, seconds: from a step's queueing to its result (the window, the batches ahead of it and its own).</summary>
    public const string StepDuration = "fusedrnn.stream.step.duration";

    /// <summary>Histogram, steps: how many streams each batched call stepped.</summary>
    public const string BatchSize = "fusedrnn.stream.batch.size";

    /// <summary>Histogram, seconds: the batched call alone.</summary>
    public const string BatchDuration = "fusedrnn.stream.batch.duration";

    /// <summary>Up-down counter, streams: streams open.</summary>
    public const string OpenStreams = "fusedrnn.stream.open";

    /// <summary>Up-down counter, steps: steps waiting for a batch (the queue depth).</summary>
    public const string QueuedSteps = "fusedrnn.stream.queued";

    internal static readonly Meter Meter = new(MeterName);

    internal static readonly Histogram<double> StepDurations = Meter.CreateHistogram<double>(StepDuration, "s", "From a stream step's queueing to its result");

    internal static readonly Histogram<int> BatchSizes = Meter.CreateHistogram<int>(BatchSize, "{step}", "Streams stepped by one batched call");

    internal static readonly Histogram<double> BatchDurations = Meter.CreateHistogram<double>(BatchDuration, "s", "One batched call of the backend");

    internal static readonly UpDownCounter<int> OpenStreamCount = Meter.CreateUpDownCounter<int>(OpenStreams, "{stream}", "Streams open");

    internal static readonly UpDownCounter<int> QueuedStepCount = Meter.CreateUpDownCounter<int>(QueuedSteps, "{step}", "Steps waiting for a batch");
}
