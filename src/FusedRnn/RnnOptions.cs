namespace FusedRnn;

/// <summary>How a module or cell runs (the weights say what it computes).</summary>
public sealed record RnnOptions
{
    /// <summary>The default: the fastest available backend, time-major data.</summary>
    public static RnnOptions Default { get; } = new();

    /// <summary><c>managed</c>, <c>cpu</c>, <c>cuda</c> or <c>auto</c> (the fastest available; the default).</summary>
    public string Backend { get; init; } = RnnBackends.Auto;

    /// <summary>Whether x and y are <c>[B, T, F]</c> instead of <c>[T, B, F]</c> (PyTorch's <c>batch_first</c>).</summary>
    public bool BatchFirst { get; init; }

    /// <summary>Worker threads a backend may use; 0 lets it choose.</summary>
    public int Threads { get; init; }

    /// <summary>Caps the managed kernels' vector width (tests use it to cover every path in one process).</summary>
    internal Backends.Managed.SimdLevel? ManagedSimdLevel { get; init; }
}
