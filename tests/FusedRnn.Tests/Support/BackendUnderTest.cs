using FusedRnn.Backends.Managed;

namespace FusedRnn.Tests.Support;

/// <summary>
/// One way of running the library that the shared suites cover: every backend available here, and the managed
/// backend at every vector width this machine can execute. A new backend is proven by adding it to <see cref="All"/>.
/// Suites whose answer depends on the arithmetic run every backend in each of <see cref="Precisions"/> (options from
/// <see cref="In"/>): adding a backend or a precision is still one line.
/// </summary>
public sealed record BackendUnderTest(string Name, RnnOptions Options)
{
    public static IReadOnlyList<BackendUnderTest> All { get; } = Discover();

    /// <summary>Every <see cref="RnnPrecision"/>: float32 (the default) and the exact float64.</summary>
    public static IReadOnlyList<RnnPrecision> Precisions { get; } = Enum.GetValues<RnnPrecision>();

    public static TheoryData<string> Names => [.. All.Select(b => b.Name)];

    /// <summary>Every backend in each of <see cref="Precisions"/>: (backend name, precision).</summary>
    public static TheoryData<string, RnnPrecision> NamesAndPrecisions()
    {
        var data = new TheoryData<string, RnnPrecision>();
        foreach (BackendUnderTest backend in All)
            foreach (RnnPrecision precision in Precisions) data.Add(backend.Name, precision);
        return data;
    }

    public static BackendUnderTest Get(string name) => All.Single(b => b.Name == name);

    /// <summary>This backend's options computing in <paramref name="precision"/>.</summary>
    public RnnOptions In(RnnPrecision precision) => Options with { Precision = precision };

    public RnnOptions With(bool batchFirst) => Options with { BatchFirst = batchFirst };

    public override string ToString() => Name;

    private static List<BackendUnderTest> Discover()
    {
        var all = new List<BackendUnderTest>();
        foreach (SimdLevel level in Enum.GetValues<SimdLevel>().Where(l => l <= ManagedBackend.DefaultLevel))
            all.Add(new($"managed-{level.ToString().ToLowerInvariant()}", new RnnOptions { Backend = RnnBackends.Managed, ManagedSimdLevel = level }));
        foreach (BackendStatus status in RnnBackends.Describe().Where(s => s.IsAvailable && s.Name != RnnBackends.Managed))
            all.Add(new(status.Name, new RnnOptions { Backend = status.Name }));
        return all;
    }
}
