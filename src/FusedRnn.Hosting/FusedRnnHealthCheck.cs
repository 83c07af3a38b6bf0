using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace FusedRnn.Hosting;

/// <summary>
/// The health of one model: unhealthy when it cannot load, degraded when it runs on a fallback backend or its queue
/// of steps is full, else healthy. The data names the backend and the stream counts.
/// </summary>
internal sealed class FusedRnnHealthCheck(FusedRnnModels models, string name) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        FusedRnnModel model;
        try
        {
            model = models.Get(name);
        }
        catch (Exception e)
        {
            return Task.FromResult(new HealthCheckResult(context.Registration.FailureStatus, $"FusedRnn model '{name}' did not load: {e.Message}", e));
        }

        var data = new Dictionary<string, object>
        {
            ["backend"] = model.Backend,
            ["openStreams"] = model.Batcher.OpenStreams,
            ["queuedSteps"] = model.Batcher.QueuedSteps,
            ["capacity"] = model.Batcher.Options.Capacity,
        };
        int queueLimit = model.Batcher.Options.EffectiveQueueLimit;
        HealthCheckResult result = model.Batcher.QueuedSteps >= queueLimit
            ? HealthCheckResult.Degraded($"FusedRnn model '{name}': its queue of {queueLimit} steps is full", data: data)
            : model.IsFallback
                ? HealthCheckResult.Degraded($"FusedRnn model '{name}' runs on {model.Backend}, not {model.RequestedBackend}: {string.Join("; ", model.SkippedBackends)}", data: data)
                : HealthCheckResult.Healthy($"FusedRnn model '{name}' on {model.Backend}", data);
        return Task.FromResult(result);
    }
}
