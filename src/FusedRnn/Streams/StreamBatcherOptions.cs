namespace FusedRnn.Streams;

/// <summary>How a <see cref="StreamBatcher"/> gathers the steps of its streams into batched calls.</summary>
public sealed record StreamBatcherOptions
{
    /// <summary>The options a batcher gets when given none.</summary>
    public static StreamBatcherOptions Default { get; } = new();

    /// <summary>What the batcher's metrics call its network (the <c>fusedrnn.model</c> tag of <see cref="StreamMetrics"/>). Default <c>default</c>.</summary>
    public string Name { get; init; } = "default";

    /// <summary>The most streams open at once: one state slot each, allocated when the batcher is created. Default 1024.</summary>
    public int Capacity { get; init; } = 1024;

    /// <summary>
    /// How long the first step of a batch waits for other streams' steps to join it. It stops waiting as soon as
    /// every open stream has a step waiting, or the batch is full, so a lone stream never waits. Zero runs each batch
    /// with whatever is waiting when it starts. Default 20 µs.
    /// </summary>
    public TimeSpan BatchingWindow { get; init; } = TimeSpan.FromMicroseconds(20);

    /// <summary>The most streams one batched call steps. Default 256.</summary>
    public int MaxBatch { get; init; } = 256;

    /// <summary>
    /// The most steps waiting for a batch. When it is reached, <see cref="RnnStream.Step"/> throws
    /// <see cref="StreamLimitExceededException"/> and <see cref="RnnStream.StepAsync"/> waits for room. 0 (the
    /// default) means <see cref="Capacity"/>, which every open stream's one step fits in.
    /// </summary>
    public int QueueLimit { get; init; }

    /// <summary>The largest <see cref="Capacity"/>, <see cref="MaxBatch"/> and <see cref="QueueLimit"/>.</summary>
    public const int MaxCount = 1 << 20;

    /// <summary>The longest <see cref="BatchingWindow"/>.</summary>
    public static TimeSpan MaxBatchingWindow { get; } = TimeSpan.FromMinutes(1);

    /// <summary>The queue's bound in effect: <see cref="QueueLimit"/>, or <see cref="Capacity"/> when that is 0.</summary>
    public int EffectiveQueueLimit => QueueLimit == 0 ? Capacity : QueueLimit;

    /// <summary>
    /// Throws <see cref="ArgumentOutOfRangeException"/> (an <see cref="ArgumentException"/> for <see cref="Name"/>)
    /// naming the first option out of range, with <paramref name="paramName"/> as its parameter; the batcher calls it.
    /// </summary>
    public void Validate(string? paramName = null)
    {
        if (string.IsNullOrWhiteSpace(Name))
            throw new ArgumentException($"{nameof(Name)} must be a non-empty name", paramName);
        if (Capacity is < 1 or > MaxCount)
            throw new ArgumentOutOfRangeException(paramName, Capacity, $"{nameof(Capacity)} must be in 1..{MaxCount}");
        if (MaxBatch is < 1 or > MaxCount)
            throw new ArgumentOutOfRangeException(paramName, MaxBatch, $"{nameof(MaxBatch)} must be in 1..{MaxCount}");
        if (QueueLimit is < 0 or > MaxCount)
            throw new ArgumentOutOfRangeException(paramName, QueueLimit, $"{nameof(QueueLimit)} must be in 0..{MaxCount} (0: {nameof(Capacity)})");
        if (BatchingWindow < TimeSpan.Zero || BatchingWindow > MaxBatchingWindow)
            throw new ArgumentOutOfRangeException(paramName, BatchingWindow, $"{nameof(BatchingWindow)} must be in 0..{MaxBatchingWindow.TotalSeconds:0} s");
    }
}
