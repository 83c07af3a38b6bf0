using FusedRnn.Streams;

namespace FusedRnn.Hosting;

/// <summary>
/// A named model as the host loaded it: a recurrent network (<see cref="Network"/>) or a whole model
/// (<see cref="SequenceModel"/>) on the backend that could run it, and the batcher its streams step through. Resolve it
/// from DI by name (<c>[FromKeyedServices("speech")] FusedRnnModel</c>) or through <see cref="FusedRnnModels"/>.
/// Disposed with the host.
/// </summary>
public sealed class FusedRnnModel : IDisposable
{
    private readonly IDisposable _loaded;

    internal FusedRnnModel(string name, IDisposable loaded, StreamBatcher batcher, string requestedBackend, IReadOnlyList<string> skipped)
    {
        Name = name;
        _loaded = loaded;
        Batcher = batcher;
        RequestedBackend = requestedBackend;
        SkippedBackends = skipped;
    }

    /// <summary>The model's name in configuration.</summary>
    public string Name { get; }

    /// <summary>The network, when the file holds a network alone; else null.</summary>
    public RecurrentModule? Network => _loaded as RecurrentModule;

    /// <summary>The whole model (embedding, networks, dense heads), when the file holds one; else null.</summary>
    public SequenceModel? SequenceModel => _loaded as SequenceModel;

    /// <summary>Where its streams are batched.</summary>
    public StreamBatcher Batcher { get; }

    /// <summary>The backend running it.</summary>
    public string Backend => Network?.Backend ?? SequenceModel!.Recurrent[^1].Backend;

    /// <summary>What its kernels compute in.</summary>
    public RnnPrecision Precision => (Network?.Options ?? SequenceModel!.Options).Precision;

    /// <summary>What it is: the network's spec, or the whole model's parts.</summary>
    public string Architecture => Network?.Spec.ToString() ?? SequenceModel!.ToString();

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
        _loaded.Dispose();
    }
}
