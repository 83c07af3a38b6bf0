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
/// One time step of independent streams whose recurrent state lives in slots of a state buffer, in the executor's
/// arithmetic type (<see cref="RnnExecutor.SlotBytes"/> bytes a slot: h of every layer <c>[L, Hout]</c>, then c
/// <c>[L, H]</c> for an LSTM), so a Float64 network's state is never rounded between steps. Row b of x and y belongs
/// to the stream in slot <c>Slots[b]</c>; the slots are distinct. The façade checks every size and index first.
/// </summary>
public readonly ref struct SlotStepRequest
{
    /// <summary>x: <c>[B, I]</c>.</summary>
    public ReadOnlySpan<float> Input { get; init; }

    /// <summary>B, at least 1.</summary>
    public int Batch { get; init; }

    /// <summary>The slot of each row, <c>[B]</c>, distinct, each in 0..<see cref="SlotCount"/>−1.</summary>
    public ReadOnlySpan<int> Slots { get; init; }

    /// <summary>Slots in <see cref="State"/>.</summary>
    public int SlotCount { get; init; }

    /// <summary>The slots, <c>SlotCount · SlotBytes</c> bytes aligned to the arithmetic type; read and written in place.</summary>
    public Span<byte> State { get; init; }

    /// <summary>y: <c>[B, Hout]</c>; empty to skip it.</summary>
    public Span<float> Output { get; init; }
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
    /// Bytes of one stream's state slot (see <see cref="SlotStepRequest"/>): <c>L·Hout</c> values of h and, for an
    /// LSTM, <c>L·H</c> of c, each as wide as the arithmetic type.
    /// </summary>
    /// <exception cref="NotSupportedException">The network is bidirectional: its reverse direction reads a sequence from its end.</exception>
    public int SlotBytes
    {
        get
        {
            if (Spec.Bidirectional)
                throw new NotSupportedException("a bidirectional network cannot be stepped one time step at a time: its reverse direction reads a sequence from its end");
            long values = ((long)Spec.NumLayers * Spec.OutputSize) + (Spec.Kind.HasCellState() ? (long)Spec.NumLayers * Spec.HiddenSize : 0);
            return checked((int)(values * (Precision == RnnPrecision.Float64 ? sizeof(double) : sizeof(float))));
        }
    }

    /// <summary>
    /// Runs a slot step the façade has validated: each row is computed exactly as that row of a one-step
    /// <see cref="Forward"/> would be, whichever other rows share the call.
    /// </summary>
    public abstract void StepSlots(in SlotStepRequest request, RnnWorkspace workspace);

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
