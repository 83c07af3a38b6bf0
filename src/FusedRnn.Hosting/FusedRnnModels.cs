using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using FusedRnn.Streams;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace FusedRnn.Hosting;

/// <summary>
/// The host's models by name, each loaded once (by <see cref="FusedRnnStartup"/> before the host reports started, or
/// on first use): the file read, the first backend of its configured order that can run it chosen, and any fallback
/// logged as a warning. Disposed with the host, and its models with it.
/// </summary>
public sealed partial class FusedRnnModels : IDisposable
{
    /// <summary>Counter, fallbacks: a model loaded on a later backend than the first one configured.</summary>
    public const string FallbacksInstrument = "fusedrnn.backend.fallbacks";

    private static readonly Meter Meter = new(StreamMetrics.MeterName);
    private static readonly Counter<long> Fallbacks = Meter.CreateCounter<long>(FallbacksInstrument, "{fallback}", "Models loaded on a later backend than the first configured");

    private readonly FusedRnnOptions _options;
    private readonly ILogger<FusedRnnModels> _logger;
    private readonly IHostEnvironment? _environment;
    private readonly ConcurrentDictionary<string, Lazy<FusedRnnModel>> _models = new(StringComparer.OrdinalIgnoreCase);
    private bool _disposed;

    /// <summary>Creates the registry of the configured models; nothing is loaded yet.</summary>
    /// <param name="options">The models.</param>
    /// <param name="logger">Where the backend each model runs on, and any fallback, is logged.</param>
    /// <param name="environment">Its content root is where relative model paths start; the current directory without it.</param>
    public FusedRnnModels(IOptions<FusedRnnOptions> options, ILogger<FusedRnnModels> logger, IHostEnvironment? environment = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options.Value;
        _logger = logger;
        _environment = environment;
        foreach ((string name, FusedRnnModelOptions settings) in _options.Models)
            _models[name] = new Lazy<FusedRnnModel>(() => Load(name, settings), LazyThreadSafetyMode.ExecutionAndPublication);
    }

    /// <summary>The configured names.</summary>
    public IReadOnlyCollection<string> Names => [.. _options.Models.Keys];

    /// <summary>The model called <paramref name="name"/>, loaded on first use (a load that failed throws again, with its cause).</summary>
    /// <exception cref="UnknownModelException">No model has that name.</exception>
    public FusedRnnModel Get(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        ObjectDisposedException.ThrowIf(_disposed, this);
        return _models.TryGetValue(name, out Lazy<FusedRnnModel>? model) ? model.Value : throw new UnknownModelException(name, _options.Models.Keys);
    }

    /// <summary>The settings of the model called <paramref name="name"/>.</summary>
    internal FusedRnnModelOptions Settings(string name) => _options.Models[name];

    /// <inheritdoc />
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (Lazy<FusedRnnModel> model in _models.Values)
            if (model.IsValueCreated) model.Value.Dispose();
    }

    private FusedRnnModel Load(string name, FusedRnnModelOptions settings)
    {
        Func<RnnOptions, IDisposable> create = ModelFiles.Read(settings, _environment);
        string[] order = settings.BackendOrder;
        var skipped = new List<string>();
        IReadOnlyList<BackendStatus> backends = RnnBackends.Describe();
        foreach (string backend in order)
        {
            BackendStatus status = backends.Single(described => described.Name == backend);
            if (!status.IsAvailable)
            {
                skipped.Add($"{backend}: {status.UnavailableReason}");
                continue;
            }

            IDisposable loaded = create(new RnnOptions { Backend = backend, Precision = settings.Precision, Threads = settings.Threads });
            StreamBatcher batcher;
            try
            {
                batcher = loaded switch
                {
                    SequenceModel model => new StreamBatcher(model, settings.BatcherOptions(name)),
                    _ => new StreamBatcher((RecurrentModule)loaded, settings.BatcherOptions(name)),
                };
            }
            catch
            {
                loaded.Dispose();
                throw;
            }

            var hosted = new FusedRnnModel(name, loaded, batcher, order[0], skipped);
            LogLoaded(name, hosted.Architecture, backend, status.Description ?? backend, settings.Precision);
            if (hosted.IsFallback)
            {
                LogFallback(name, backend, order[0], string.Join("; ", skipped));
                Fallbacks.Add(1, new KeyValuePair<string, object?>("fusedrnn.model", name), new KeyValuePair<string, object?>("fusedrnn.backend", backend));
            }

            return hosted;
        }

        throw new InvalidOperationException($"FusedRnn model '{name}': none of its backends ({settings.Backends}) can run here: {string.Join("; ", skipped)}");
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "FusedRnn model '{Model}': {Network} on {Backend} ({Description}), {Precision}")]
    private partial void LogLoaded(string model, string network, string backend, string description, RnnPrecision precision);

    [LoggerMessage(EventId = 2, Level = LogLevel.Warning, Message = "FusedRnn model '{Model}' runs on the {Backend} backend, not {Requested} as configured first: {Reasons}")]
    private partial void LogFallback(string model, string backend, string requested, string reasons);
}
