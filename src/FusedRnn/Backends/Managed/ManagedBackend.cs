using System.Globalization;
using System.Numerics;
using System.Runtime.Intrinsics;

namespace FusedRnn.Backends.Managed;

/// <summary>
/// Pure C# backend: always available, the reference every other backend is tested against. Computes in
/// <see cref="RnnOptions.Precision"/> (float lanes for Float32, double for Float64) at the widest vector width the
/// machine accelerates; <c>FUSEDRNN_ISA=scalar|avx2|avx512</c> forces a narrower one, as it does for the native kernels.
/// </summary>
public sealed class ManagedBackend : IRnnBackend
{
    /// <summary>The environment variable that caps the instruction set (shared with the native backend).</summary>
    public const string IsaVariable = "FUSEDRNN_ISA";

    /// <summary>
    /// The environment variable that sets the most threads a call may use in place of the logical processors (shared
    /// with the native backend): a count in 1..1024.
    /// </summary>
    public const string ThreadLimitVariable = "FUSEDRNN_THREAD_LIMIT";

    internal static ManagedBackend Instance { get; } = new();

    /// <inheritdoc />
    public string Name => RnnBackends.Managed;

    /// <inheritdoc />
    public string? UnavailableReason => null;

    /// <inheritdoc />
    public string Description => $"C# {DefaultLevel} kernels";

    /// <summary>The widest width this machine accelerates, capped by <c>FUSEDRNN_ISA</c>.</summary>
    public static SimdLevel DefaultLevel => Levels.Value.Level;

    /// <summary>
    /// The warning an unknown <c>FUSEDRNN_ISA</c> value gets (naming the width used instead), or null; it is also
    /// written once to standard error when the managed backend first reads the variable.
    /// </summary>
    public static string? IsaWarning => Levels.Value.Warning;

    private static readonly Lazy<(SimdLevel Level, string? Warning)> Levels = new(() =>
    {
        var chosen = ChooseLevel(Environment.GetEnvironmentVariable(IsaVariable), HardwareLevel);
        if (chosen.Warning is not null) Console.Error.WriteLine($"fusedrnn: warning: {chosen.Warning}");
        return chosen;
    });

    /// <summary>
    /// The most threads a call may use: the logical processors, or <c>FUSEDRNN_THREAD_LIMIT</c> where it is set (read
    /// once per process; a value that is not a count in 1..1024 is written to standard error and ignored).
    /// </summary>
    internal static int ThreadLimit => ThreadLimits.Value.Limit;

    private static readonly Lazy<(int Limit, string? Warning)> ThreadLimits = new(() =>
    {
        var chosen = ChooseThreadLimit(Environment.GetEnvironmentVariable(ThreadLimitVariable), Environment.ProcessorCount);
        if (chosen.Warning is not null) Console.Error.WriteLine($"fusedrnn: warning: {chosen.Warning}");
        return chosen;
    });

    /// <summary>The thread cap for a <c>FUSEDRNN_THREAD_LIMIT</c> value, parsed as the native library parses it.</summary>
    internal static (int Limit, string? Warning) ChooseThreadLimit(string? text, int logicalProcessors)
    {
        if (string.IsNullOrEmpty(text)) return (logicalProcessors, null);
        const NumberStyles strtol = NumberStyles.AllowLeadingWhite | NumberStyles.AllowLeadingSign;
        if (int.TryParse(text, strtol, CultureInfo.InvariantCulture, out int limit) && limit is >= 1 and <= 1024) return (limit, null);
        return (logicalProcessors, $"{ThreadLimitVariable}='{FusedRnn.IO.FileText.Escape(text)}' is not a thread count in 1..1024; using {logicalProcessors}");
    }

    private static SimdLevel HardwareLevel =>
        Vector512.IsHardwareAccelerated ? SimdLevel.Vector512
        : Vector256.IsHardwareAccelerated ? SimdLevel.Vector256
        : Vector128.IsHardwareAccelerated ? SimdLevel.Vector128
        : SimdLevel.Scalar;

    /// <summary>The width for a <c>FUSEDRNN_ISA</c> value: the hardware's, capped by a known value; unknown ones warn.</summary>
    internal static (SimdLevel Level, string? Warning) ChooseLevel(string? isa, SimdLevel hardware)
    {
        string value = isa?.Trim().ToLowerInvariant() ?? "";
        SimdLevel? cap = value switch
        {
            "scalar" => SimdLevel.Scalar,
            "sse" or "neon" or "vector128" => SimdLevel.Vector128,
            "avx2" or "vector256" => SimdLevel.Vector256,
            "avx512" or "vector512" => SimdLevel.Vector512,
            _ => null,
        };
        if (cap is { } limit) return (limit < hardware ? limit : hardware, null);
        if (value.Length == 0) return (hardware, null);
        return (hardware, $"{IsaVariable}='{FusedRnn.IO.FileText.Escape(isa!)}' is not one of scalar, avx2, avx512 (or vector128, vector256, " +
            $"vector512); the managed backend uses {hardware}");
    }

    /// <inheritdoc />
    public RnnExecutor Load(RnnWeights weights, RnnOptions options)
    {
        // Threads = 0 is one per physical core, as on the native backend. Participants beyond the logical processors
        // could not all run at once, and every barrier would wait for one that is not running: more is capped at
        // ThreadLimit (RnnOptions.Threads says so), except where tests ask for it.
        int threads = options?.Threads ?? 0;
        if (threads == 0) threads = CpuTopology.PhysicalCoreCount;
        if (options?.OversubscribeThreads != true) threads = int.Min(threads, ThreadLimit);
        return Load(weights, options?.Precision ?? RnnPrecision.Float32, options?.ManagedSimdLevel ?? DefaultLevel, threads);
    }

    /// <summary>Packs <paramref name="weights"/> for an explicit precision and vector width (tests use it to cover every path).</summary>
    /// <param name="weights">The network.</param>
    /// <param name="precision">What the kernels compute in.</param>
    /// <param name="level">The vector width.</param>
    /// <param name="threads">Threads per call, the caller's included, at least 1.</param>
    internal static RnnExecutor Load(RnnWeights weights, RnnPrecision precision, SimdLevel level, int threads)
    {
        ArgumentNullException.ThrowIfNull(weights);
        return (precision, level) switch
        {
            (RnnPrecision.Float32, SimdLevel.Vector512) => ForCell<Simd512Single, Vector512<float>, float>(weights, threads),
            (RnnPrecision.Float32, SimdLevel.Vector256) => ForCell<Simd256Single, Vector256<float>, float>(weights, threads),
            (RnnPrecision.Float32, SimdLevel.Vector128) => ForCell<Simd128Single, Vector128<float>, float>(weights, threads),
            (RnnPrecision.Float32, _) => ForCell<SimdScalarSingle, float, float>(weights, threads),
            (_, SimdLevel.Vector512) => ForCell<Simd512, Vector512<double>, double>(weights, threads),
            (_, SimdLevel.Vector256) => ForCell<Simd256, Vector256<double>, double>(weights, threads),
            (_, SimdLevel.Vector128) => ForCell<Simd128, Vector128<double>, double>(weights, threads),
            _ => ForCell<SimdScalar, double, double>(weights, threads),
        };
    }

    /// <summary>
    /// The executor of the weights' cell: one policy per kind for PyTorch's cells, so no step branches on it; every
    /// other variant runs on its kind's variant policy, which reads the variant's rules.
    /// </summary>
    private static RnnExecutor ForCell<TSimd, TVec, T>(RnnWeights weights, int threads)
        where TSimd : ISimd<TVec, T>
        where TVec : struct
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        RnnSpec spec = weights.Spec;
        if (spec.Cell.IsPyTorch) return ForPyTorchCell<TSimd, TVec, T>(weights, threads);
        return spec.Kind switch
        {
            CellKind.Lstm => new ManagedExecutor<TSimd, TVec, T, LstmVariantPolicy>(weights, threads),
            CellKind.Gru when spec.Cell.ResetPlacement == GruResetPlacement.BeforeProduct =>
                new ManagedExecutor<TSimd, TVec, T, GruResetBeforePolicy>(weights, threads),
            CellKind.Gru => new ManagedExecutor<TSimd, TVec, T, GruVariantPolicy>(weights, threads),
            CellKind.RnnTanh or CellKind.RnnRelu => new ManagedExecutor<TSimd, TVec, T, RnnVariantPolicy>(weights, threads),
            CellKind kind => throw new ArgumentOutOfRangeException(nameof(weights), kind, "the managed backend has no policy for this cell kind"),
        };
    }

    private static RnnExecutor ForPyTorchCell<TSimd, TVec, T>(RnnWeights weights, int threads)
        where TSimd : ISimd<TVec, T>
        where TVec : struct
        where T : unmanaged, IBinaryFloatingPointIeee754<T> => weights.Spec.Kind switch
        {
            CellKind.Lstm => new ManagedExecutor<TSimd, TVec, T, LstmPolicy>(weights, threads),
            CellKind.Gru => new ManagedExecutor<TSimd, TVec, T, GruPolicy>(weights, threads),
            CellKind.RnnTanh => new ManagedExecutor<TSimd, TVec, T, RnnPolicy<TanhActivation>>(weights, threads),
            CellKind.RnnRelu => new ManagedExecutor<TSimd, TVec, T, RnnPolicy<ReluActivation>>(weights, threads),
            CellKind kind => throw new ArgumentOutOfRangeException(nameof(weights), kind, "the managed backend has no policy for this cell kind"),
        };
}
