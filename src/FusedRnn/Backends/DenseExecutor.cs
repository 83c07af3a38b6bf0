namespace FusedRnn.Backends;

/// <summary>
/// A <see cref="DenseLayer"/> loaded into a backend by <see cref="RnnExecutor.LoadDense"/>. It runs on the workspaces
/// of the executor that loaded it, so a sequence model's heads share the memory and worker threads of the network
/// before them (one team of threads for the whole step). Read-only once made: one may serve many threads, each with
/// its own workspace.
/// </summary>
public abstract class DenseExecutor : IDisposable
{
    /// <summary>Creates the executor of <paramref name="layer"/>.</summary>
    protected DenseExecutor(DenseLayer layer) => Layer = layer;

    /// <summary>The layer.</summary>
    public DenseLayer Layer { get; }

    /// <summary>
    /// <c>y = activation(W·x + b)</c> on each of <paramref name="rows"/> rows; the caller has checked the sizes
    /// (<c>rows × InputSize</c> in, <c>rows × OutputSize</c> out, not overlapping). Each output is computed the same
    /// way whatever the thread count.
    /// </summary>
    /// <param name="input">Rows of <see cref="DenseLayer.InputSize"/> floats.</param>
    /// <param name="rows">How many, at least 1.</param>
    /// <param name="output">Rows of <see cref="DenseLayer.OutputSize"/> floats.</param>
    /// <param name="workspace">A workspace of the executor that loaded this layer, used by one thread at a time.</param>
    public abstract void Apply(ReadOnlySpan<float> input, int rows, Span<float> output, RnnWorkspace workspace);

    /// <inheritdoc />
    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Releases backend resources.</summary>
    protected virtual void Dispose(bool disposing)
    {
    }
}
