using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using FusedRnn.Hosting;
using FusedRnn.Streams;
using FusedRnn.Tests.Cli;
using FusedRnn.Tests.Support;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace FusedRnn.Tests.Hosting;

/// <summary>
/// <c>AddFusedRnn</c> in a real host: models from configuration or a delegate, validated and warmed before the host
/// reports started, resolved by name, their streams giving what the library gives called directly, fallbacks logged
/// and counted, health per model, everything disposed with the host.
/// </summary>
public class HostingTests
{
    private static string LargeLstm => TestData.PyTorch("lstm_large");

    private static Dictionary<string, string?> Model(string name, string path, string backends = "cpu, managed", params (string Key, string Value)[] more)
    {
        var settings = new Dictionary<string, string?>
        {
            [$"FusedRnn:Models:{name}:Path"] = path,
            [$"FusedRnn:Models:{name}:Prefix"] = "rnn.",
            [$"FusedRnn:Models:{name}:Backends"] = backends,
        };
        foreach ((string key, string value) in more) settings[$"FusedRnn:Models:{name}:{key}"] = value;
        return settings;
    }

    private static IHost Build(Dictionary<string, string?> settings, LogSink? logs = null)
    {
        HostApplicationBuilder builder = Host.CreateApplicationBuilder();
        builder.Configuration.Sources.Clear();
        builder.Configuration.AddInMemoryCollection(settings);
        builder.Logging.ClearProviders();
        if (logs is not null) builder.Logging.AddProvider(logs);
        builder.Services.AddFusedRnn(builder.Configuration.GetSection("FusedRnn"));
        return builder.Build();
    }

    [Fact]
    public async Task ConfiguredModelsLoadWarmUpAndStepAsTheLibraryDoes()
    {
        var logs = new LogSink();
        Dictionary<string, string?> settings = Model("speech", LargeLstm, more: [("Precision", "Float64"), ("BatchingWindow", "00:00:00.00005")]);
        foreach ((string key, string? value) in Model("keys", TestData.PyTorch("gru_basic"), "managed")) settings[key] = value;
        using IHost host = Build(settings, logs);
        await host.StartAsync();

        var speech = host.Services.GetRequiredKeyedService<FusedRnnModel>("speech");
        Assert.Same(speech, host.Services.GetRequiredService<FusedRnnModels>().Get("SPEECH"));
        Assert.Same(speech.Batcher, host.Services.GetRequiredKeyedService<StreamBatcher>("speech"));
        Assert.Equal(RnnPrecision.Float64, speech.Precision);
        Assert.Equal(TimeSpan.FromMicroseconds(50), speech.Batcher.Options.BatchingWindow);
        string expectedBackend = RnnBackends.Describe().Single(b => b.Name == RnnBackends.Cpu).IsAvailable ? RnnBackends.Cpu : RnnBackends.Managed;
        Assert.Equal(expectedBackend, speech.Backend);
        Assert.Equal(RnnBackends.Managed, host.Services.GetRequiredKeyedService<FusedRnnModel>("keys").Backend);
        Assert.Contains(logs.Messages, m => m.Contains("FusedRnn model 'speech'") && m.Contains($"on {expectedBackend}"));
        Assert.Contains(logs.Messages, m => m.Contains("FusedRnn model 'speech' warmed up"));
        Assert.Equal(0, speech.Batcher.OpenStreams);

        // A hosted stream gives what the library gives called directly.
        using RecurrentModule direct = RecurrentModule.Load(LargeLstm, "rnn.", new RnnOptions { Backend = expectedBackend, Precision = RnnPrecision.Float64, Threads = 1 });
        using var batcher = new StreamBatcher(direct);
        using RnnStream reference = batcher.Open();
        using RnnStream hosted = speech.OpenStream();
        var random = new Random(3);
        float[] x = new float[64], expected = new float[128], got = new float[128];
        for (int t = 0; t < 5; t++)
        {
            for (int i = 0; i < x.Length; i++) x[i] = (float)random.NextDouble() - 0.5f;
            reference.Step(x, expected);
            await hosted.StepAsync(x, got);
            Assert.Equal(expected, got);
        }

        HealthReport health = await host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync();
        Assert.Equal(HealthStatus.Healthy, health.Status);
        Assert.Equal(["fusedrnn:keys", "fusedrnn:speech"], health.Entries.Keys.Order());
        Assert.Equal(1, health.Entries["fusedrnn:speech"].Data["openStreams"]);
        await host.StopAsync();
    }

    [Fact]
    public async Task AFallbackIsAWarningACountedMeasurementAndDegradedHealth()
    {
        var logs = new LogSink();
        long fallbacks = 0;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == StreamMetrics.MeterName && instrument.Name == FusedRnnModels.FallbacksInstrument) l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            foreach (KeyValuePair<string, object?> tag in tags)
                if (tag.Key == "fusedrnn.model" && (string?)tag.Value == "fallback-test") Interlocked.Add(ref fallbacks, value);
        });
        listener.Start();
        using IHost host = Build(Model("fallback-test", LargeLstm, "cuda, managed", ("WarmUp", "false")), logs);
        await host.StartAsync();

        FusedRnnModel model = host.Services.GetRequiredKeyedService<FusedRnnModel>("fallback-test");
        Assert.Equal(RnnBackends.Managed, model.Backend);
        Assert.True(model.IsFallback);
        Assert.StartsWith("cuda: ", model.SkippedBackends.Single());
        Assert.Contains(logs.Entries, e => e.Level == LogLevel.Warning && e.Message.Contains("runs on the managed backend, not cuda"));
        Assert.Equal(1, Interlocked.Read(ref fallbacks));
        Assert.DoesNotContain(logs.Messages, m => m.Contains("warmed up"));
        HealthReport health = await host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync();
        Assert.Equal(HealthStatus.Degraded, health.Entries["fusedrnn:fallback-test"].Status);
        await host.StopAsync();
    }

    /// <summary>A whole PyTorch model (embedding → LSTM → Linear + softmax) with its description: streams step token ids through it all.</summary>
    [Fact]
    public async Task AWholeModelWithItsDescriptionStreamsTokenIds()
    {
        using var files = new TempDirectory();
        var random = new Random(5);
        FloatTensor Tensor(params int[] shape) => new(RandomNetworks.Uniform(random, shape.Aggregate(1, (a, b) => a * b), 0.5f), shape);
        var tensors = new Dictionary<string, (int[] Shape, float[] Data)>();
        foreach ((string key, FloatTensor value) in new[] { ("embedding.weight", Tensor(30, 8)), ("fc.weight", Tensor(4, 16)), ("fc.bias", Tensor(4)) })
            tensors[key] = (value.Shape.ToArray(), value.ToArray());
        foreach (var tensor in RandomNetworks.Create(new RnnSpec(CellKind.Lstm, 8, 16), 9).ToStateDict("lstm.")) tensors[tensor.Key] = tensor.Value;
        string weights = Path.Combine(files.Root, "classifier.safetensors"), description = Path.Combine(files.Root, "classifier.json");
        FusedRnn.IO.SafetensorsWriter.Write(weights, tensors);
        File.WriteAllText(description, """{ "embedding": "embedding.weight", "recurrent": [{ "prefix": "lstm." }], "heads": [{ "weight": "fc.weight", "bias": "fc.bias", "activation": "softmax" }] }""");

        Dictionary<string, string?> settings = Model("classifier", weights, "managed", ("Description", description));
        settings["FusedRnn:Models:classifier:Prefix"] = null;
        using IHost host = Build(settings);
        await host.StartAsync();
        FusedRnnModel hosted = host.Services.GetRequiredKeyedService<FusedRnnModel>("classifier");
        Assert.Null(hosted.Network);
        Assert.NotNull(hosted.SequenceModel);
        Assert.True(hosted.Batcher.TakesIds);
        Assert.Contains("Embedding(30, 8)", hosted.Architecture);

        using SequenceModel direct = SequenceModel.LoadPyTorch(weights, description, new RnnOptions { Backend = RnnBackends.Managed, Threads = 1 });
        long[] ids = [3, 29, 0, 7, 7, 12];
        FloatTensor whole = direct.ForwardIds(ids, [ids.Length, 1]);
        using RnnStream stream = hosted.OpenStream();
        var y = new float[4];
        for (int t = 0; t < ids.Length; t++)
        {
            await stream.StepIdAsync(ids[t], y);
            Assert.Equal(whole.Span.Slice(t * 4, 4).ToArray(), y);
        }

        await host.StopAsync();
    }

    [Fact]
    public async Task AFullQueueDegradesTheModelsHealth()
    {
        // A window longer than the test: first's step waits for second until second is disposed, filling the queue of one.
        using IHost host = Build(Model("busy", LargeLstm, "managed", ("WarmUp", "false"), ("QueueLimit", "1"), ("BatchingWindow", "00:00:30")));
        await host.StartAsync();
        FusedRnnModel model = host.Services.GetRequiredKeyedService<FusedRnnModel>("busy");
        var health = host.Services.GetRequiredService<HealthCheckService>();
        using RnnStream first = model.OpenStream();
        RnnStream second = model.OpenStream();
        Task step = Task.Run(() => first.Step(new float[64], new float[128]));
        SpinWait.SpinUntil(() => model.Batcher.QueuedSteps == 1);
        HealthReportEntry busy = (await health.CheckHealthAsync()).Entries["fusedrnn:busy"];
        Assert.Equal(HealthStatus.Degraded, busy.Status);
        Assert.Contains("its queue of 1 steps is full", busy.Description);
        second.Dispose();
        await step;
        Assert.Equal(HealthStatus.Healthy, (await health.CheckHealthAsync()).Status);
        await host.StopAsync();
    }

    [Fact]
    public async Task TheDelegateOverloadConfiguresTheSameWay()
    {
        HostApplicationBuilder builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddFusedRnn(options => options.Models["cell"] = new FusedRnnModelOptions { Path = TestData.PyTorch("grucell_steps"), Backends = "managed", WarmUp = false });
        using IHost host = builder.Build();
        await host.StartAsync();
        FusedRnnModel model = host.Services.GetRequiredKeyedService<FusedRnnModel>("cell");
        Assert.Equal(CellKind.Gru, model.Network!.Spec.Kind);
        await host.StopAsync();
    }

    [Fact]
    public async Task BadSettingsStopTheHostAtStartNamingEachSetting()
    {
        Dictionary<string, string?> settings = Model("missing", "/no/such/model.safetensors");
        foreach ((string key, string? value) in Model("wrong", LargeLstm, "cpu, tpu", ("Capacity", "0"), ("Threads", "-1"))) settings[key] = value;
        foreach ((string key, string? value) in Model("text", typeof(HostingTests).Assembly.Location)) settings[key] = value;
        foreach ((string key, string? value) in Model("described", LargeLstm, more: ("Description", "/no/such.json"))) settings[key] = value;
        using IHost host = Build(settings);
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());
        Assert.Contains("FusedRnn:Models:missing:Path is '/no/such/model.safetensors', which does not exist", error.Message);
        Assert.Contains("FusedRnn:Models:wrong:Backends names 'tpu', which is not a backend", error.Message);
        Assert.Contains("FusedRnn:Models:wrong: Capacity must be in 1..", error.Message);
        Assert.Contains("FusedRnn:Models:wrong:Threads is -1", error.Message);
        Assert.Contains("FusedRnn:Models:text:Path is", error.Message);
        Assert.Contains("a model file ends in .safetensors, .onnx, .keras or .h5", error.Message);
        Assert.Contains("FusedRnn:Models:described:Description is '/no/such.json', which does not exist", error.Message);

        using IHost empty = Build([]);
        Assert.Contains("FusedRnn:Models names no model", (await Assert.ThrowsAsync<OptionsValidationException>(() => empty.StartAsync())).Message);
    }

    [Fact]
    public async Task AModelThatCannotStreamStopsTheHostWithItsReason()
    {
        using IHost host = Build(Model("bidirectional", TestData.PyTorch("gru_deep_bidirectional_batch_first"), "managed"));
        var error = await Assert.ThrowsAsync<NotSupportedException>(() => host.StartAsync());
        Assert.Contains("bidirectional", error.Message);
    }

    [Fact]
    public async Task UnknownNamesAreRefusedAndModelsAreDisposedWithTheHost()
    {
        IHost host = Build(Model("speech", LargeLstm, "managed", ("WarmUp", "false")));
        await host.StartAsync();
        var models = host.Services.GetRequiredService<FusedRnnModels>();
        var unknown = Assert.Throws<UnknownModelException>(() => models.Get("speach"));
        Assert.Equal("speach", unknown.ModelName);
        Assert.Contains("no FusedRnn model is named 'speach'; configured: 'speech'", unknown.Message);
        Assert.Throws<InvalidOperationException>(() => host.Services.GetRequiredKeyedService<FusedRnnModel>("speach"));

        FusedRnnModel model = models.Get("speech");
        RnnStream stream = model.OpenStream();
        await host.StopAsync();
        host.Dispose();
        Assert.Throws<ObjectDisposedException>(() => stream.Step(new float[64], new float[128]));
        Assert.Throws<ObjectDisposedException>(() => model.OpenStream());
        Assert.Throws<ObjectDisposedException>(() => models.Get("speech"));
    }

    /// <summary>Keeps what the host logs.</summary>
    private sealed class LogSink : ILoggerProvider
    {
        private readonly ConcurrentQueue<(LogLevel Level, string Message)> _entries = new();

        public IEnumerable<(LogLevel Level, string Message)> Entries => _entries;

        public IEnumerable<string> Messages => _entries.Select(e => e.Message);

        public ILogger CreateLogger(string categoryName) => new Logger(this);

        public void Dispose()
        {
        }

        private sealed class Logger(LogSink sink) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                sink._entries.Enqueue((logLevel, formatter(state, exception)));
        }
    }
}
