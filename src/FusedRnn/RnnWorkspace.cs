using FusedRnn.Backends;

namespace FusedRnn;

/// <summary>
/// Scratch memory for forward calls of one module. Not thread-safe: use one per thread. Reusing it makes the
/// caller-owned-output overloads allocation-free after the first call of the largest size.
/// </summary>
public abstract class RnnWorkspace : IDisposable
{
    /// <summary>Creates a workspace for <paramref name="owner"/>.</summary>
    protected RnnWorkspace(RnnExecutor owner) => Owner = owner;

    /// <summary>The executor this workspace belongs to.</summary>
    public RnnExecutor Owner { get; }

    /// <summary>Whether <see cref="Dispose()"/> was called.</summary>
    public bool IsDisposed { get; private set; }

    /// <inheritdoc />
    public void Dispose()
    {
        if (IsDisposed) return;
        IsDisposed = true;
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Releases backend resources.</summary>
    protected virtual void Dispose(bool disposing)
    {
    }
}
