namespace FusedRnn.Backends;

/// <summary>
/// One validated forward call: spans over caller memory, nothing copied. Empty optional spans mean "absent":
/// zero initial state, full lengths, or an output the caller does not want. The façade checks every size
/// before an executor sees a request, so backends can trust it.
/// </summary>
public readonly ref struct ForwardRequest
{
    /// <summary>x: <c>[T, B, I]</c>, or <c>[B, T, I]</c> when <see cref="BatchFirst"/>.</summary>
    public ReadOnlySpan<float> Input { get; init; }

    /// <summary>T, at least 1.</summary>
    public int SeqLen { get; init; }

    /// <summary>B, at least 1.</summary>
    public int Batch { get; init; }

    /// <summary>Whether x and y are batch-major.</summary>
    public bool BatchFirst { get; init; }

    /// <summary>h0: <c>[L·D, B, Hout]</c>, or empty for zeros.</summary>
    public ReadOnlySpan<float> InitialHidden { get; init; }

    /// <summary>c0: <c>[L·D, B, H]</c> (LSTM), or empty for zeros.</summary>
    public ReadOnlySpan<float> InitialCell { get; init; }

    /// <summary>One length per batch row in 1..T, any order; empty when every row has length T.</summary>
    public ReadOnlySpan<int> Lengths { get; init; }

    /// <summary>y: <c>[T, B, D·Hout]</c> (or batch-first), zero past each row's length; empty to skip it.</summary>
    public Span<float> Output { get; init; }

    /// <summary>h_n: <c>[L·D, B, Hout]</c>; empty to skip it.</summary>
    public Span<float> FinalHidden { get; init; }

    /// <summary>c_n: <c>[L·D, B, H]</c> (LSTM); empty to skip it.</summary>
    public Span<float> FinalCell { get; init; }
}

/// <summary>
/// A network loaded into one backend: weights packed into the backend's own layout once, then read-only, so one
/// executor may serve many threads, each with its own <see cref="RnnWorkspace"/>.
/// </summary>
public abstract class RnnExecutor : IDisposable
{
    /// <summary>Creates the executor for <paramref name="spec"/>, computing in <paramref name="precision"/>.</summary>
    protected RnnExecutor(RnnSpec spec, RnnPrecision precision)
    {
        Spec = spec;
        Precision = precision;
    }

    /// <summary>The network's architecture.</summary>
    public RnnSpec Spec { get; }

    /// <summary>What the kernels compute in.</summary>
    public RnnPrecision Precision { get; }

    /// <summary>Scratch memory for one caller at a time; it grows to the largest call and is then reused.</summary>
    public abstract RnnWorkspace CreateWorkspace();

    /// <summary>Runs a request the façade has validated.</summary>
    public abstract void Forward(in ForwardRequest request, RnnWorkspace workspace);

    /// <summary>
    /// Loads a dense layer (a sequence model's head) to run on this executor's workspaces, in its precision. A backend
    /// without its own dense kernels gets the managed one on the calling thread.
    /// </summary>
    public virtual DenseExecutor LoadDense(DenseLayer layer) => new Managed.ManagedDenseExecutor(layer, Precision, threads: 1);

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
