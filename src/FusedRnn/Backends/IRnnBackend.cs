using System.Diagnostics.CodeAnalysis;

namespace FusedRnn.Backends;

/// <summary>A named way to execute networks (managed, cpu, cuda).</summary>
public interface IRnnBackend
{
    /// <summary>The name users choose it by.</summary>
    string Name { get; }

    /// <summary>Null when the backend can run on this machine, else why not (what is missing).</summary>
    string? UnavailableReason { get; }

    /// <summary>What runs, for <c>fusedrnn info</c> and bug reports (library, path, instruction set).</summary>
    string Description { get; }

    /// <summary>Packs <paramref name="weights"/> into this backend's layout.</summary>
    RnnExecutor Load(RnnWeights weights, RnnOptions options);
}

/// <summary>
/// Marks an assembly that provides backends; <see cref="RnnBackends"/> finds it by assembly name, so the core
/// library needs no reference to native code.
/// </summary>
[AttributeUsage(AttributeTargets.Assembly, AllowMultiple = true)]
public sealed class RnnBackendProviderAttribute(
    [DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicParameterlessConstructor)] Type backendType) : Attribute
{
    /// <summary>
    /// A public type implementing <see cref="IRnnBackend"/> with a parameterless constructor (which the annotation keeps
    /// through trimming and Native AOT, wherever the attribute is kept).
    /// </summary>
    [DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicParameterlessConstructor)]
    public Type BackendType { get; } = backendType;
}
