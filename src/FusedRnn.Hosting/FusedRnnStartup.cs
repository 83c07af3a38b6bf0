using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace FusedRnn.Hosting;

/// <summary>
/// Loads every configured model when the host starts, and steps each one (on a stream of its own, closed after)
/// until the JIT is quiet (<see cref="JitWarmup"/>) unless its <see cref="FusedRnnModelOptions.WarmUp"/> is false, so
/// the first real step is as fast as the rest. The host reports started only after this; a model that cannot load
/// stops the host with its error.
/// </summary>
internal sealed partial class FusedRnnStartup(FusedRnnModels models, ILogger<FusedRnnStartup> logger) : IHostedService
{
    /// <summary>The fewest warm-up steps, enough for tiered compilation to promote the step's methods.</summary>
    private const int WarmUpSteps = 200;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        foreach (string name in models.Names)
        {
            cancellationToken.ThrowIfCancellationRequested();
            FusedRnnModel model = models.Get(name);
            if (!models.Settings(name).WarmUp) continue;
            using Streams.RnnStream stream = model.OpenStream();
            var input = new float[stream.InputSize];
            var output = new float[stream.OutputSize];
            WarmupReport report = model.Batcher.TakesIds
                ? JitWarmup.Run(() => stream.StepId(0, output), WarmUpSteps)
                : JitWarmup.Run(() => stream.Step(input, output), WarmUpSteps);
            LogWarmedUp(name, report.Calls, report.Elapsed.TotalMilliseconds, report.JitQuiet);
        }

        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(EventId = 3, Level = LogLevel.Information, Message = "FusedRnn model '{Model}' warmed up: {Steps} steps in {Milliseconds:0} ms (JIT quiet: {JitQuiet})")]
    private partial void LogWarmedUp(string model, int steps, double milliseconds, bool jitQuiet);
}
