using System.Runtime.Intrinsics;

namespace FusedRnn.Backends.Managed;

/// <summary>
/// Pure C# backend: always available, the reference every other backend is tested against. Runs at the widest
/// vector width the machine accelerates; <c>FUSEDRNN_ISA=scalar|avx2|avx512</c> forces a narrower one, as it does
/// for the native kernels.
/// </summary>
public sealed class ManagedBackend : IRnnBackend
{
    /// <summary>The environment variable that caps the instruction set (shared with the native backend).</summary>
    public const string IsaVariable = "FUSEDRNN_ISA";

    internal static ManagedBackend Instance { get; } = new();

    /// <inheritdoc />
    public string Name => RnnBackends.Managed;

    /// <inheritdoc />
    public string? UnavailableReason => null;

    /// <inheritdoc />
    public string Description => $"C# {DefaultLevel} kernels";

    /// <summary>The widest width this machine accelerates, capped by <c>FUSEDRNN_ISA</c>.</summary>
    public static SimdLevel DefaultLevel
    {
        get
        {
            SimdLevel hardware = Vector512.IsHardwareAccelerated ? SimdLevel.Vector512
                : Vector256.IsHardwareAccelerated ? SimdLevel.Vector256
                : Vector128.IsHardwareAccelerated ? SimdLevel.Vector128
                : SimdLevel.Scalar;
            SimdLevel? cap = Environment.GetEnvironmentVariable(IsaVariable)?.Trim().ToLowerInvariant() switch
            {
                "scalar" => SimdLevel.Scalar,
                "sse" or "neon" or "vector128" => SimdLevel.Vector128,
                "avx2" or "vector256" => SimdLevel.Vector256,
                "avx512" or "vector512" => SimdLevel.Vector512,
                _ => null,
            };
            return cap is { } limit && limit < hardware ? limit : hardware;
        }
    }

    /// <inheritdoc />
    public RnnExecutor Load(RnnWeights weights, RnnOptions options) =>
        Load(weights, options?.ManagedSimdLevel ?? DefaultLevel, options?.Threads ?? 0);

    /// <summary>Packs <paramref name="weights"/> for an explicit vector width (tests use it to cover every path).</summary>
    /// <param name="weights">The network.</param>
    /// <param name="level">The vector width.</param>
    /// <param name="threads">Threads per call (<see cref="RnnOptions.Threads"/>): 0 for one per logical processor.</param>
    internal static RnnExecutor Load(RnnWeights weights, SimdLevel level, int threads)
    {
        ArgumentNullException.ThrowIfNull(weights);
        return level switch
        {
            SimdLevel.Vector512 => new ManagedExecutor<Simd512, Vector512<double>>(weights, threads),
            SimdLevel.Vector256 => new ManagedExecutor<Simd256, Vector256<double>>(weights, threads),
            SimdLevel.Vector128 => new ManagedExecutor<Simd128, Vector128<double>>(weights, threads),
            _ => new ManagedExecutor<SimdScalar, double>(weights, threads),
        };
    }
}
