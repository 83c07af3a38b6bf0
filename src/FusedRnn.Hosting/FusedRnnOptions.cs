namespace FusedRnn.Hosting;

/// <summary>
/// The models a host serves, by name: the <c>FusedRnn</c> section of configuration (<c>FusedRnn:Models:NAME:Path</c>
/// and so on), or what <see cref="FusedRnnServiceCollectionExtensions.AddFusedRnn(Microsoft.Extensions.DependencyInjection.IServiceCollection, Action{FusedRnnOptions})"/>'s
/// delegate sets.
/// </summary>
public sealed class FusedRnnOptions
{
    /// <summary>The models by name (names compare ignoring case).</summary>
    public Dictionary<string, FusedRnnModelOptions> Models { get; } = new(StringComparer.OrdinalIgnoreCase);
}

/// <summary>One named model: a recurrent network file, where it runs, and how its streams are batched.</summary>
public sealed class FusedRnnModelOptions
{
    /// <summary>
    /// The model: a PyTorch state_dict (<c>.safetensors</c>: one nn.LSTM/GRU/RNN or cell, or a whole model with
    /// <see cref="Description"/>), an ONNX model whose recurrent nodes run forward (<c>.onnx</c>, a stack or a whole
    /// model with an embedding and dense layers), or a Keras model (<c>.keras</c>, <c>.h5</c>: one recurrent layer, or a
    /// whole model). Streams step one time step at a time, so every network must be unidirectional. A relative path
    /// starts at the host's content root.
    /// </summary>
    public string? Path { get; set; }

    /// <summary>
    /// For a <c>.safetensors</c> whole model: the JSON description of its layers (README, "Whole sequence models"), so
    /// that a stream's output is its heads'. Null for a network alone.
    /// </summary>
    public string? Description { get; set; }

    /// <summary>The state_dict prefix of the module in a <c>.safetensors</c> file (e.g. <c>rnn.</c>); null finds it.</summary>
    public string? Prefix { get; set; }

    /// <summary>An Elman RNN's nonlinearity (a state_dict cannot tell): <c>Tanh</c> (default) or <c>Relu</c>.</summary>
    public RnnNonlinearity Nonlinearity { get; set; } = RnnNonlinearity.Tanh;

    /// <summary>
    /// The backends to try, in order, comma-separated (<c>cuda, cpu, managed</c>): the first that can run here is used,
    /// and settling for a later one is logged as a warning. Default <c>cpu, managed</c>.
    /// </summary>
    public string Backends { get; set; } = "cpu, managed";

    /// <summary>What the kernels compute in: <c>Float32</c> (default) or <c>Float64</c>, the exact mode.</summary>
    public RnnPrecision Precision { get; set; } = RnnPrecision.Float32;

    /// <summary>Threads per batched call (<see cref="RnnOptions.Threads"/>): 0 the backend's default. Default 1.</summary>
    public int Threads { get; set; } = 1;

    /// <summary>The most streams open at once (<see cref="Streams.StreamBatcherOptions.Capacity"/>).</summary>
    public int Capacity { get; set; } = Streams.StreamBatcherOptions.Default.Capacity;

    /// <summary>How long a batch waits for company (<see cref="Streams.StreamBatcherOptions.BatchingWindow"/>).</summary>
    public TimeSpan BatchingWindow { get; set; } = Streams.StreamBatcherOptions.Default.BatchingWindow;

    /// <summary>The most streams one batched call steps (<see cref="Streams.StreamBatcherOptions.MaxBatch"/>).</summary>
    public int MaxBatch { get; set; } = Streams.StreamBatcherOptions.Default.MaxBatch;

    /// <summary>The most steps waiting for a batch, 0 for <see cref="Capacity"/> (<see cref="Streams.StreamBatcherOptions.QueueLimit"/>).</summary>
    public int QueueLimit { get; set; }

    /// <summary>Whether the host steps the model until the JIT is quiet before it reports started (<see cref="JitWarmup"/>). Default true.</summary>
    public bool WarmUp { get; set; } = true;

    /// <summary>The backend names of <see cref="Backends"/>, trimmed and lower-cased.</summary>
    internal string[] BackendOrder => [.. Backends.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Select(name => name.ToLowerInvariant())];

    internal Streams.StreamBatcherOptions BatcherOptions(string name) => new()
    {
        Name = name,
        Capacity = Capacity,
        BatchingWindow = BatchingWindow,
        MaxBatch = MaxBatch,
        QueueLimit = QueueLimit,
    };
}
