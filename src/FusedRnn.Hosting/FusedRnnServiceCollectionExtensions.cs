using FusedRnn.Native;
using FusedRnn.Streams;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace FusedRnn.Hosting;

/// <summary>Registers FusedRnn's models with a host.</summary>
public static class FusedRnnServiceCollectionExtensions
{
    /// <summary>The tag of every model's health check.</summary>
    public const string HealthCheckTag = "fusedrnn";

    /// <summary>
    /// The models of a configuration section (the <c>FusedRnn</c> section: <c>Models:NAME:Path</c>, <c>Backends</c>,
    /// <c>Precision</c>, ...; see <see cref="FusedRnnModelOptions"/>): validated when the host starts, loaded and warmed
    /// before it reports started, each a keyed <see cref="FusedRnnModel"/> and <see cref="StreamBatcher"/> under its
    /// name and a health check <c>fusedrnn:NAME</c>. Also registers the native backends explicitly
    /// (<see cref="NativeBackends.Register"/>), so a trimmed or Native AOT application keeps them.
    /// </summary>
    public static IServiceCollection AddFusedRnn(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<FusedRnnOptions>().Bind(configuration);
        return AddModels(services, configuration.GetSection(nameof(FusedRnnOptions.Models)).GetChildren().Select(model => model.Key));
    }

    /// <summary>As <see cref="AddFusedRnn(IServiceCollection, IConfiguration)"/>, the models set by <paramref name="configure"/>.</summary>
    public static IServiceCollection AddFusedRnn(this IServiceCollection services, Action<FusedRnnOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions<FusedRnnOptions>().Configure(configure);
        // The delegate is run once here too: keyed services and health checks are registered per name.
        var named = new FusedRnnOptions();
        configure(named);
        return AddModels(services, named.Models.Keys);
    }

    private static IServiceCollection AddModels(IServiceCollection services, IEnumerable<string> names)
    {
        NativeBackends.Register();
        services.AddOptions<FusedRnnOptions>().ValidateOnStart();
        services.AddSingleton<IValidateOptions<FusedRnnOptions>, FusedRnnOptionsValidator>();
        services.AddSingleton<FusedRnnModels>();
        services.AddHostedService<FusedRnnStartup>();
        IHealthChecksBuilder health = services.AddHealthChecks();
        foreach (string name in names.Distinct(StringComparer.OrdinalIgnoreCase))
        {
            services.AddKeyedSingleton(name, (provider, _) => provider.GetRequiredService<FusedRnnModels>().Get(name));
            services.AddKeyedSingleton(name, (provider, _) => provider.GetRequiredService<FusedRnnModels>().Get(name).Batcher);
            health.Add(new HealthCheckRegistration($"fusedrnn:{name}", provider => new FusedRnnHealthCheck(provider.GetRequiredService<FusedRnnModels>(), name),
                HealthStatus.Unhealthy, [HealthCheckTag]));
        }

        return services;
    }
}
