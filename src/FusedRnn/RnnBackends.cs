using System.Reflection;
using FusedRnn.Backends;
using FusedRnn.Backends.Managed;

namespace FusedRnn;

/// <summary>Whether a backend can run here and, if not, why.</summary>
/// <param name="Name">The backend's name.</param>
/// <param name="UnavailableReason">Null when available.</param>
/// <param name="Description">What runs (library, path, instruction set), or null when the backend is not installed.</param>
public sealed record BackendStatus(string Name, string? UnavailableReason, string? Description)
{
    /// <summary>Whether the backend can run on this machine.</summary>
    public bool IsAvailable => UnavailableReason is null;
}

/// <summary>Finds backends by name: <c>managed</c> (always), <c>cpu</c> and <c>cuda</c> (native), and <c>auto</c>.</summary>
public static class RnnBackends
{
    /// <summary>Pure C# with SIMD; always available and the reference for the others.</summary>
    public const string Managed = "managed";

    /// <summary>The native C++ library with AVX2/AVX-512 kernels.</summary>
    public const string Cpu = "cpu";

    /// <summary>The native CUDA kernels.</summary>
    public const string Cuda = "cuda";

    /// <summary>The fastest available backend.</summary>
    public const string Auto = "auto";

    /// <summary>The assembly that provides the native backends when it is installed.</summary>
    public const string NativeAssemblyName = "FusedRnn.Native";

    /// <summary>Every backend name, fastest first (the order <see cref="Auto"/> tries).</summary>
    public static IReadOnlyList<string> Names { get; } = [Cuda, Cpu, Managed];

    private static readonly Lazy<(Dictionary<string, IRnnBackend> Found, string? NativeProblem)> Discovered = new(Discover);

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, IRnnBackend> Registered = new();

    /// <summary>
    /// Makes <paramref name="backend"/> the one its name resolves to, ahead of discovery. Discovery finds the native
    /// backends through <see cref="RnnBackendProviderAttribute"/>s of the <see cref="NativeAssemblyName"/> assembly
    /// loaded by name, which a trimmed or Native AOT application may not keep: such an application registers them
    /// (<c>FusedRnn.Native.NativeBackends.Register()</c>; the hosting layer's <c>AddFusedRnn</c> does).
    /// </summary>
    /// <exception cref="ArgumentException">The backend's name is not one of <see cref="Names"/>, or is <c>managed</c>.</exception>
    public static void Register(IRnnBackend backend)
    {
        ArgumentNullException.ThrowIfNull(backend);
        if (backend.Name == Managed || !Names.Contains(backend.Name))
            throw new ArgumentException($"a registered backend is named {Cuda} or {Cpu}, not '{backend.Name}'", nameof(backend));
        Registered[backend.Name] = backend;
    }

    /// <summary>Every backend with its availability on this machine.</summary>
    public static IReadOnlyList<BackendStatus> Describe() =>
        [.. Names.Select(name => Find(name) is { } backend
            ? new BackendStatus(name, backend.UnavailableReason, backend.Description)
            : new BackendStatus(name, MissingReason(name), null))];

    /// <summary>The backend called <paramref name="name"/>, or for <c>auto</c> the fastest available one.</summary>
    /// <exception cref="ArgumentException">The name is not a backend.</exception>
    /// <exception cref="BackendUnavailableException">The backend cannot run here; the message says why.</exception>
    public static IRnnBackend Resolve(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        string key = name.Trim().ToLowerInvariant();
        if (key == Auto)
            return Names.Select(Find).First(b => b is { UnavailableReason: null })!;
        if (!Names.Contains(key))
            throw new ArgumentException($"unknown backend '{name}'; choose one of {string.Join(", ", Names.Append(Auto))}", nameof(name));
        IRnnBackend backend = Find(key) ?? throw new BackendUnavailableException(key, MissingReason(key));
        return backend.UnavailableReason is { } reason ? throw new BackendUnavailableException(key, reason) : backend;
    }

    private static IRnnBackend? Find(string name) =>
        name == Managed ? ManagedBackend.Instance : Registered.GetValueOrDefault(name) ?? Discovered.Value.Found.GetValueOrDefault(name);

    private static string MissingReason(string name) =>
        Discovered.Value.NativeProblem ?? $"the {NativeAssemblyName} assembly provides no '{name}' backend";

    private static (Dictionary<string, IRnnBackend>, string?) Discover()
    {
        var found = new Dictionary<string, IRnnBackend>();
        Assembly assembly;
        try
        {
            assembly = Assembly.Load(new AssemblyName(NativeAssemblyName));
        }
        catch (Exception e) when (e is FileNotFoundException or FileLoadException or BadImageFormatException)
        {
            return (found, $"the {NativeAssemblyName} assembly is not installed next to the application ({e.GetType().Name}); reference the " +
                $"{NativeAssemblyName} package, and in a trimmed or Native AOT application call FusedRnn.Native.NativeBackends.Register() at " +
                "startup, which keeps the assembly (AddFusedRnn does)");
        }

        foreach (RnnBackendProviderAttribute provider in assembly.GetCustomAttributes<RnnBackendProviderAttribute>())
        {
            try
            {
                var backend = (IRnnBackend)Activator.CreateInstance(provider.BackendType)!;
                found[backend.Name] = backend;
            }
            catch (Exception e) when (e is MissingMethodException or InvalidCastException or TargetInvocationException)
            {
                return (found, $"the {NativeAssemblyName} assembly's backend {provider.BackendType.Name} could not be created ({e.GetType().Name}: " +
                    $"{e.Message}); call FusedRnn.Native.NativeBackends.Register() at startup instead");
            }
        }

        return (found, null);
    }
}
