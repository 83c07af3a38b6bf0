namespace FusedRnn;

/// <summary>An activation function of a cell: ONNX's list for RNN, LSTM and GRU, plus identity.</summary>
public enum ActivationKind
{
    /// <summary><c>x</c> (Keras <c>activation=None</c> or <c>"linear"</c>).</summary>
    Identity = 1,

    /// <summary><c>max(0, x)</c>.</summary>
    Relu,

    /// <summary><c>tanh(x)</c>.</summary>
    Tanh,

    /// <summary><c>1 / (1 + e^−x)</c>.</summary>
    Sigmoid,

    /// <summary><c>α·x + β</c>.</summary>
    Affine,

    /// <summary><c>x</c> if <c>x ≥ 0</c>, else <c>α·x</c>.</summary>
    LeakyRelu,

    /// <summary><c>x</c> if <c>x &gt; α</c>, else 0.</summary>
    ThresholdedRelu,

    /// <summary><c>α·tanh(β·x)</c>.</summary>
    ScaledTanh,

    /// <summary><c>min(max(α·x + β, 0), 1)</c>.</summary>
    HardSigmoid,

    /// <summary><c>x</c> if <c>x ≥ 0</c>, else <c>α·(e^x − 1)</c>.</summary>
    Elu,

    /// <summary><c>x / (1 + |x|)</c>.</summary>
    Softsign,

    /// <summary><c>log(1 + e^x)</c>.</summary>
    Softplus,
}

/// <summary>
/// An activation with its parameters. The factories take ONNX's defaults (LeakyRelu α = 0.01, ThresholdedRelu α = 1,
/// HardSigmoid α = 0.2 and β = 0.5, Elu α = 1, Affine α = 1 and β = 0); ScaledTanh has none, so both are required.
/// </summary>
/// <param name="Kind">The function.</param>
/// <param name="Alpha">α, for the kinds that take it (<see cref="TakesAlpha"/>); 0 otherwise.</param>
/// <param name="Beta">β, for the kinds that take it (<see cref="TakesBeta"/>); 0 otherwise.</param>
public readonly record struct Activation(ActivationKind Kind, float Alpha = 0, float Beta = 0)
{
    /// <summary><c>x</c>.</summary>
    public static Activation Identity => new(ActivationKind.Identity);

    /// <summary><c>max(0, x)</c>.</summary>
    public static Activation Relu => new(ActivationKind.Relu);

    /// <summary><c>tanh(x)</c>.</summary>
    public static Activation Tanh => new(ActivationKind.Tanh);

    /// <summary><c>1 / (1 + e^−x)</c>.</summary>
    public static Activation Sigmoid => new(ActivationKind.Sigmoid);

    /// <summary><c>x / (1 + |x|)</c>.</summary>
    public static Activation Softsign => new(ActivationKind.Softsign);

    /// <summary><c>log(1 + e^x)</c>.</summary>
    public static Activation Softplus => new(ActivationKind.Softplus);

    /// <summary><c>α·x + β</c>.</summary>
    public static Activation Affine(float alpha = 1, float beta = 0) => new(ActivationKind.Affine, alpha, beta);

    /// <summary><c>x</c> if <c>x ≥ 0</c>, else <c>α·x</c>.</summary>
    public static Activation LeakyRelu(float alpha = 0.01f) => new(ActivationKind.LeakyRelu, alpha);

    /// <summary><c>x</c> if <c>x &gt; α</c>, else 0.</summary>
    public static Activation ThresholdedRelu(float alpha = 1) => new(ActivationKind.ThresholdedRelu, alpha);

    /// <summary><c>α·tanh(β·x)</c>.</summary>
    public static Activation ScaledTanh(float alpha, float beta) => new(ActivationKind.ScaledTanh, alpha, beta);

    /// <summary><c>min(max(α·x + β, 0), 1)</c> (Keras 3's hard_sigmoid is α = 1/6, β = 0.5).</summary>
    public static Activation HardSigmoid(float alpha = 0.2f, float beta = 0.5f) => new(ActivationKind.HardSigmoid, alpha, beta);

    /// <summary><c>x</c> if <c>x ≥ 0</c>, else <c>α·(e^x − 1)</c>.</summary>
    public static Activation Elu(float alpha = 1) => new(ActivationKind.Elu, alpha);

    /// <summary>Whether <see cref="Kind"/> takes α.</summary>
    public bool TakesAlpha => Kind is ActivationKind.Affine or ActivationKind.LeakyRelu or ActivationKind.ThresholdedRelu
        or ActivationKind.ScaledTanh or ActivationKind.HardSigmoid or ActivationKind.Elu;

    /// <summary>Whether <see cref="Kind"/> takes β.</summary>
    public bool TakesBeta => Kind is ActivationKind.Affine or ActivationKind.ScaledTanh or ActivationKind.HardSigmoid;

    /// <summary>Throws <see cref="ArgumentException"/> naming <paramref name="name"/> if the kind is unknown or a parameter is not finite where taken, or not 0 where not.</summary>
    internal void Validate(string name)
    {
        if (!Enum.IsDefined(Kind)) throw new ArgumentException($"{name}: unknown activation kind {(int)Kind}", name);
        if (TakesAlpha && !float.IsFinite(Alpha)) throw new ArgumentException($"{name}: {Kind} needs a finite alpha, not {Alpha}", name);
        if (TakesBeta && !float.IsFinite(Beta)) throw new ArgumentException($"{name}: {Kind} needs a finite beta, not {Beta}", name);
        if (!TakesAlpha && Alpha != 0) throw new ArgumentException($"{name}: {Kind} takes no alpha (got {Alpha}); leave it 0", name);
        if (!TakesBeta && Beta != 0) throw new ArgumentException($"{name}: {Kind} takes no beta (got {Beta}); leave it 0", name);
    }

    /// <inheritdoc />
    public override string ToString() =>
        Kind.ToString() + (TakesAlpha ? TakesBeta ? $"({Alpha:R}, {Beta:R})" : $"({Alpha:R})" : "");
}

/// <summary>
/// The activations of one direction by role; null is PyTorch's (sigmoid for gates, tanh otherwise; an Elman RNN's
/// one activation is <see cref="Gates"/>, tanh or relu by its <see cref="CellKind"/>).
/// </summary>
/// <param name="Gates">f: LSTM i, f, o; GRU r, z; an Elman RNN's activation.</param>
/// <param name="Candidate">g: the LSTM cell input, the GRU candidate n. Not an Elman RNN's.</param>
/// <param name="Output">h: of the LSTM cell state in <c>h = o ⊙ h(c)</c>. LSTM only.</param>
public sealed record CellActivations(Activation? Gates = null, Activation? Candidate = null, Activation? Output = null)
{
    /// <summary>Every role PyTorch's.</summary>
    public bool IsDefault => Gates is null && Candidate is null && Output is null;
}

/// <summary>Where a GRU applies its reset gate to the previous state.</summary>
public enum GruResetPlacement
{
    /// <summary><c>n = g(W_n x + b_in + r ⊙ (R_n h + b_hn))</c>: PyTorch's, ONNX <c>linear_before_reset=1</c>, Keras <c>reset_after=True</c>.</summary>
    AfterProduct,

    /// <summary><c>n = g(W_n x + R_n (r ⊙ h) + b_n)</c>: ONNX's default, Keras <c>reset_after=False</c>.</summary>
    BeforeProduct,
}

/// <summary>
/// What a cell computes beyond its kind: every variant ONNX and Keras define. The default (<see cref="PyTorch"/>) is
/// PyTorch's cell, which runs on the backends' specialized kernels; every other variant is vectorized as well.
/// </summary>
public sealed record CellVariant
{
    /// <summary>PyTorch's cell.</summary>
    public static CellVariant PyTorch { get; } = new();

    /// <summary>Activations of the forward direction (direction 0).</summary>
    public CellActivations Forward { get; init; } = new();

    /// <summary>Activations of the reverse direction; must be the default unless the network is bidirectional (ONNX allows other ones per direction).</summary>
    public CellActivations Reverse { get; init; } = new();

    /// <summary>0: none; else every gate pre-activation is clipped to <c>[−Clip, Clip]</c> before its activation (ONNX <c>clip</c>).</summary>
    public float Clip { get; init; }

    /// <summary>LSTM only: i and f add <c>P_i ⊙ c_prev</c> and <c>P_f ⊙ c_prev</c>, o adds <c>P_o ⊙ c</c> (ONNX's P); the weights come in <see cref="LayerWeights.WeightP"/>.</summary>
    public bool Peepholes { get; init; }

    /// <summary>LSTM only: <c>f = 1 − i</c> (ONNX <c>input_forget</c>); the f rows of the weights are not used.</summary>
    public bool CoupledInputForget { get; init; }

    /// <summary>GRU only: where the reset gate applies (PyTorch's <see cref="GruResetPlacement.AfterProduct"/> by default).</summary>
    public GruResetPlacement ResetPlacement { get; init; }

    /// <summary>Whether this is PyTorch's cell.</summary>
    public bool IsPyTorch => this == PyTorch;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first field that <paramref name="spec"/>'s cell cannot have.</summary>
    internal void Validate(RnnSpec spec)
    {
        CellKind kind = spec.Kind;
        if (!(Clip == 0 || (Clip > 0 && float.IsFinite(Clip))))
            throw new ArgumentOutOfRangeException(nameof(Clip), Clip, "clip must be 0 (no clip) or a finite positive bound");
        if (Peepholes && kind != CellKind.Lstm)
            throw new ArgumentException($"{kind.DisplayName()} has no peepholes; only LSTM does", nameof(Peepholes));
        if (CoupledInputForget && kind != CellKind.Lstm)
            throw new ArgumentException($"{kind.DisplayName()} has no input and forget gates to couple; only LSTM does", nameof(CoupledInputForget));
        if (!Enum.IsDefined(ResetPlacement)) throw new ArgumentException($"unknown reset placement {(int)ResetPlacement}", nameof(ResetPlacement));
        if (ResetPlacement != GruResetPlacement.AfterProduct && kind != CellKind.Gru)
            throw new ArgumentException($"{kind.DisplayName()} has no reset gate; only GRU does", nameof(ResetPlacement));
        if (!spec.Bidirectional && !Reverse.IsDefault)
            throw new ArgumentException("reverse activations were given but the network is not bidirectional", nameof(Reverse));
        foreach ((CellActivations activations, string direction) in new[] { (Forward, nameof(Forward)), (Reverse, nameof(Reverse)) })
        {
            activations.Gates?.Validate($"{direction}.{nameof(CellActivations.Gates)}");
            activations.Candidate?.Validate($"{direction}.{nameof(CellActivations.Candidate)}");
            activations.Output?.Validate($"{direction}.{nameof(CellActivations.Output)}");
            bool isRnn = kind is CellKind.RnnTanh or CellKind.RnnRelu;
            if (isRnn && activations.Candidate is not null)
                throw new ArgumentException($"{direction}.{nameof(CellActivations.Candidate)}: an Elman RNN has one activation, Gates", direction);
            if (kind != CellKind.Lstm && activations.Output is not null)
                throw new ArgumentException($"{direction}.{nameof(CellActivations.Output)}: only LSTM has an output activation", direction);
        }
    }

    /// <inheritdoc />
    public override string ToString()
    {
        var parts = new List<string>();
        void Describe(string direction, CellActivations activations)
        {
            if (activations.Gates is { } gates) parts.Add($"{direction}gates={gates}");
            if (activations.Candidate is { } candidate) parts.Add($"{direction}candidate={candidate}");
            if (activations.Output is { } output) parts.Add($"{direction}output={output}");
        }

        Describe("", Forward);
        Describe("reverse_", Reverse);
        if (Clip > 0) parts.Add($"clip={Clip:R}");
        if (Peepholes) parts.Add("peepholes");
        if (CoupledInputForget) parts.Add("input_forget");
        if (ResetPlacement == GruResetPlacement.BeforeProduct) parts.Add("reset_before_product");
        return parts.Count == 0 ? "pytorch" : string.Join(", ", parts);
    }
}
