using FusedRnn.Streams;

namespace FusedRnn.Hosting;

/// <summary>
/// A named model as the host loaded it: its network on the backend that could run it, and the batcher its streams
/// step through. Resolve it from DI by name (<c>[FromKeyedServices("speech")] FusedRnnModel</c>) or through
/// <see cref="FusedRnnModels"/>. Disposed with the host.
/// </summary>
public sealed class FusedRnnModel : IDisposable
{
    internal FusedRnnModel(string name, RecurrentModule network, StreamBatcher batcher, string requestedBackend, IReadOnlyList<string> skipped)
    {
        Name = name;
        Network = network;
        Batcher = batcher;
        RequestedBackend = requestedBackend;
        SkippedBackends = skipped;
    }

    /// <summary>The model's name in configuration.</summary>
    public string Name { get; }

    /// <summary>The network, on <see cref="Backend"/>.</summary>
    public RecurrentModule Network { get; }

    /// <summary>Where its streams are batched.</summary>
    public StreamBatcher Batcher { get; }

    /// <summary>The backend running it.</summary>
    public string Backend => Network.Backend;

    /// <summary>The first backend of the configured order.</summary>
    public string RequestedBackend { get; }

    /// <summary>Why each backend before <see cref="Backend"/> in the configured order could not run it (empty when the first did).</summary>
    public IReadOnlyList<string> SkippedBackends { get; }

    /// <summary>Whether it runs on a later backend than the first one configured.</summary>
    public bool IsFallback => SkippedBackends.Count > 0;

    /// <summary>Opens a stream at the zero state (<see cref="StreamBatcher.Open"/>).</summary>
    public RnnStream OpenStream() => Batcher.Open();

    /// <inheritdoc />
    public void Dispose()
    {
        Batcher.Dispose();
        Network.Dispose();
    }
}
