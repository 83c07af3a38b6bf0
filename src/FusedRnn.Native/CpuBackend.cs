using System.Runtime.InteropServices;
using FusedRnn.Backends;
using FusedRnn.Native;
using FusedRnn.Native.Interop;

[assembly: RnnBackendProvider(typeof(CpuBackend))]

namespace FusedRnn.Native;

/// <summary>
/// The <c>cpu</c> backend: libfusedrnn's fused AVX2/AVX-512 kernels (the widest the CPU has, or the plain C++
/// ones; <c>FUSEDRNN_ISA</c> forces a lower set). <c>auto</c> prefers it whenever the library loads.
/// </summary>
public sealed class CpuBackend : IRnnBackend
{
    private static readonly Lazy<(string? Problem, string Description)> State = new(Probe);

    /// <inheritdoc />
    public string Name => RnnBackends.Cpu;

    /// <inheritdoc />
    public string? UnavailableReason => State.Value.Problem;

    /// <inheritdoc />
    public string Description => State.Value.Description;

    /// <inheritdoc />
    public RnnExecutor Load(RnnWeights weights, RnnOptions options)
    {
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentNullException.ThrowIfNull(options);
        if (UnavailableReason is { } reason) throw new BackendUnavailableException(Name, reason);
        return new NativeExecutor(weights, options.Threads, options.Precision);
    }

    private static unsafe (string?, string) Probe()
    {
        NativeLibraryLoad library = NativeLibraryResolver.Load();
        if (library.Problem is { } problem) return (problem, "libfusedrnn not loaded");
        uint abi = FrnnNative.frnn_abi_version();
        if (abi != FrnnNative.AbiVersion)
        {
            return ($"{library.Path} has C ABI version {abi} but these bindings were generated for version {FrnnNative.AbiVersion}",
                $"libfusedrnn ABI {abi} at {library.Path}");
        }
        byte* isa;
        NativeCall.Check(FrnnNative.frnn_isa_name(&isa), nameof(FrnnNative.frnn_isa_name));
        return (null, $"libfusedrnn (ABI {abi}) at {library.Path}, {Marshal.PtrToStringUTF8((nint)isa)} kernels");
    }
}
