namespace FusedRnn.Native;

/// <summary>Registers the native backends with <see cref="RnnBackends"/> explicitly, for trimmed and Native AOT applications.</summary>
public static class NativeBackends
{
    /// <summary>
    /// Registers <c>cpu</c> (<see cref="CpuBackend"/>) with <see cref="RnnBackends.Register"/>. Calling it is what keeps
    /// the backend in a trimmed application, where the attribute discovery of plain use may not find it. Idempotent.
    /// </summary>
    public static void Register() => RnnBackends.Register(new CpuBackend());
}
