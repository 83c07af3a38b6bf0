using System.IO.Hashing;
using System.Runtime.InteropServices;
using FusedRnn.Backends;

namespace FusedRnn.Streams;

/// <summary>
/// What a <see cref="StreamBatcher"/> steps: one recurrent network, or a whole <see cref="SequenceModel"/> (an
/// embedding, networks each feeding the next, dense heads). Each network is a stage with its own slots and workspace;
/// a batch runs the stages in turn over the same rows.
/// </summary>
internal abstract class StreamPipeline
{
    /// <param name="networks">The recurrent networks, first to last.</param>
    /// <param name="names">What messages call each, or null for one network alone.</param>
    protected StreamPipeline(RecurrentBase[] networks, IReadOnlyList<string>? names)
    {
        Networks = networks;
        SlotBytes = [.. networks.Select((network, index) => StageSlotBytes(network, names?[index]))];
    }

    /// <summary>The recurrent networks, first to last.</summary>
    public RecurrentBase[] Networks { get; }

    /// <summary>Bytes of one stream's slot in each network's state buffer.</summary>
    public int[] SlotBytes { get; }

    public abstract int InputSize { get; }

    public abstract int OutputSize { get; }

    /// <summary>The embedding that turns a step's token id into its vector, or null when a step is a vector.</summary>
    public abstract EmbeddingLayer? Embedding { get; }

    /// <summary>Names the model in snapshots: its architecture and every weight.</summary>
    public abstract ulong Fingerprint { get; }

    public abstract bool IsDisposed { get; }

    public RnnPrecision Precision => Networks[0].Options.Precision;

    public string Backend => Networks[^1].Backend;

    /// <summary>Output floats of stage <paramref name="index"/> per row: each network's, then each head's.</summary>
    public abstract int StageOutputs(int index);

    /// <summary>The dense layers after the last network.</summary>
    public abstract IReadOnlyList<DenseExecutor> Heads { get; }

    private static int StageSlotBytes(RecurrentBase network, string? name)
    {
        try
        {
            return network.LoadedExecutor.SlotBytes;
        }
        catch (NotSupportedException e) when (name is not null)
        {
            throw new NotSupportedException($"{name}: {e.Message}", e);
        }
    }

    /// <summary>One network alone: its h_t is the stream's y_t.</summary>
    public sealed class Network(RecurrentBase network) : StreamPipeline([network], null)
    {
        public override int InputSize => network.Spec.InputSize;

        public override int OutputSize => network.Spec.OutputSize;

        public override EmbeddingLayer? Embedding => null;

        public override ulong Fingerprint => network.WeightsFingerprint;

        public override bool IsDisposed => network.IsDisposed;

        public override IReadOnlyList<DenseExecutor> Heads => [];

        public override int StageOutputs(int index) => network.Spec.OutputSize;
    }

    /// <summary>A whole model: y_t is its heads' output for the step (the last network's h_t without heads).</summary>
    public sealed class Model : StreamPipeline
    {
        private readonly SequenceModel _model;

        public Model(SequenceModel model)
            : base([.. model.Recurrent], model.RecurrentNames)
        {
            _model = model;
            Fingerprint = FingerprintOf(model);
        }

        public override int InputSize => _model.Embedding?.Dimension ?? _model.InputSize;

        public override int OutputSize => _model.OutputSize;

        public override EmbeddingLayer? Embedding => _model.Embedding;

        public override ulong Fingerprint { get; }

        public override bool IsDisposed => _model.IsDisposed;

        public override IReadOnlyList<DenseExecutor> Heads => _model.HeadExecutors;

        public override int StageOutputs(int index) =>
            index < Networks.Length ? Networks[index].Spec.OutputFeatures : _model.Heads[index - Networks.Length].OutputSize;

        private static ulong FingerprintOf(SequenceModel model)
        {
            var hash = new XxHash3();
            if (model.Embedding is { } embedding) Append(hash, embedding.Weight.Span);
            foreach (RecurrentModule network in model.Recurrent) hash.Append(BitConverter.GetBytes(network.WeightsFingerprint));
            foreach (DenseLayer head in model.Heads)
            {
                hash.Append(BitConverter.GetBytes((int)head.Activation));
                Append(hash, head.Weight.Span);
                if (head.Bias is { } bias) Append(hash, bias.Span);
            }

            return hash.GetCurrentHashAsUInt64();
        }

        private static void Append(XxHash3 hash, ReadOnlySpan<float> values)
        {
            hash.Append(BitConverter.GetBytes(values.Length));
            hash.Append(MemoryMarshal.AsBytes(values));
        }
    }
}
