namespace FusedRnn.Tests.Support;

/// <summary>
/// Random networks with random cell variants, from fixed seeds: what <see cref="CellVariantTests"/> runs on every
/// backend. <see cref="ParityCase.Draw"/> networks, sizes up to 100 (several vector blocks and a tail at every ISA
/// width), in <see cref="VariantFamilies">two families</see>.
/// </summary>
public static class CellVariantCases
{
    public static IReadOnlyList<ParityCase> Mixed => MixedCases.Value;

    public static IReadOnlyList<ParityCase> EveryActivation => EveryActivationCases.Value;

    public static IEnumerable<ParityCase> All => Mixed.Concat(EveryActivation);

    public static ParityCase Get(string name) => All.Single(c => c.Name == name);

    private const int MaxSize = 100;

    private static readonly Lazy<IReadOnlyList<ParityCase>> MixedCases = new(() => VariantFamilies.Mixed("variant", MaxSize, test => test));

    private static readonly Lazy<IReadOnlyList<ParityCase>> EveryActivationCases = new(() => VariantFamilies.EveryActivation("", MaxSize, test => test));
}

/// <summary>
/// The cases <see cref="OnnxRuntimeVariantTests"/> runs in ONNX Runtime, sizes up to 64: <see cref="Nodes"/>, the
/// <see cref="VariantFamilies">two families</see> drawn again as what one ONNX node is (one time-major layer without
/// projection), and <see cref="Sequences"/>, whole networks as the benchmark's peer model has them.
/// </summary>
public static class OnnxCases
{
    public static IReadOnlyList<ParityCase> Nodes => NodeCases.Value;

    /// <summary>
    /// Time-major networks of 1–3 layers without projection, lengths or initial state: 8 with PyTorch's cell (the
    /// benchmark's workloads) and a <see cref="VariantFamilies.Mixed"/> family.
    /// </summary>
    public static IReadOnlyList<ParityCase> Sequences => SequenceCases.Value;

    public static ParityCase Get(string name) => Nodes.Concat(Sequences).Single(c => c.Name == name);

    private const int MaxSize = 64;

    private static readonly Lazy<IReadOnlyList<ParityCase>> NodeCases = new(() =>
        [.. VariantFamilies.Mixed("onnx-node", MaxSize, OneNode), .. VariantFamilies.EveryActivation("onnx-node-", MaxSize, OneNode)]);

    private static readonly Lazy<IReadOnlyList<ParityCase>> SequenceCases = new(() =>
    [
        .. Enumerable.Range(1, 8).Select(seed => PlainSequence(ParityCase.Draw($"onnx-sequence-pytorch-{seed}", seed, MaxSize))),
        .. VariantFamilies.Mixed("onnx-sequence", MaxSize, PlainSequence),
    ]);

    private static ParityCase OneNode(ParityCase test) => test with { Spec = test.Spec with { NumLayers = 1, ProjSize = 0 }, BatchFirst = false };

    private static ParityCase PlainSequence(ParityCase test) =>
        test with { Spec = test.Spec with { ProjSize = 0 }, BatchFirst = false, InitialState = false, Lengths = null };
}

/// <summary>
/// The two families of variant cases. Each case is the first draw, from its seed, seed + 10 000, seed + 20 000…, whose
/// variant changes the answer (a backend that ran PyTorch's cell instead fails it) and which
/// <see cref="ThresholdMargin.KeepsClear">keeps clear</see> of ThresholdedRelu's discontinuity: the lists are the same
/// on every run.
/// </summary>
public static class VariantFamilies
{
    /// <summary>How far from PyTorch's cell a variant case's answer must be somewhere: 250 × <see cref="Tolerance.ParityFloat32"/>.</summary>
    public const double Distinct = 1e-3;

    /// <summary>24 cases "{prefix}-{seed}", every field drawn at random: activations mixed across roles and directions.</summary>
    public static IReadOnlyList<ParityCase> Mixed(string prefix, int maxSize, Func<ParityCase, ParityCase> shape) =>
        [.. Enumerable.Range(1, 24).Select(seed => FirstUsable(seed, s => shape(ParityCase.Draw($"{prefix}-{seed}", s, maxSize, RandomVariants.Create))))];

    /// <summary>
    /// For every activation and every cell kind (an Elman RNN's one activation stands for both of its kinds), a case
    /// "{prefix}{kind}-{activation}" whose forward direction has that activation in every role, the rest drawn as in
    /// <see cref="Mixed"/>: every activation meets every role's kernel, which random mixing reaches only by luck.
    /// </summary>
    public static IReadOnlyList<ParityCase> EveryActivation(string prefix, int maxSize, Func<ParityCase, ParityCase> shape) =>
    [
        .. new[] { CellKind.Lstm, CellKind.Gru, CellKind.RnnTanh }.SelectMany(kind => Enum.GetValues<ActivationKind>().Select(activation =>
            FirstUsable(100 * ((int)kind + 1) + (int)activation, seed => shape(ParityCase.Draw(
                $"{prefix}{kind.DisplayName().ToLowerInvariant()}-{activation.ToString().ToLowerInvariant()}", seed, maxSize,
                (random, spec) => RandomVariants.Create(random, spec, forwardRoles: activation), kind))))),
    ];

    private static ParityCase FirstUsable(int seed, Func<int, ParityCase> draw) =>
        Enumerable.Range(0, int.MaxValue)
            .Select(attempt => draw(seed + 10_000 * attempt))
            .First(test => ChangesTheAnswer(test) && ThresholdMargin.KeepsClear(test));

    // Not test.Reference: that is cached by name, which the rejected draws share.
    private static bool ChangesTheAnswer(ParityCase test) =>
        Tolerance.LargestError(
            (test with { Spec = test.Spec with { Cell = CellVariant.PyTorch } }).RunReference<double>().ToSequenceOutput(),
            test.RunReference<double>().ToSequenceOutput()) > Distinct;
}

/// <summary>Random cell variants with sane parameters, every field ONNX and Keras define.</summary>
public static class RandomVariants
{
    /// <summary>
    /// A variant <paramref name="spec"/>'s cell may have: each role's activation any kind (or, 1 in 4, PyTorch's), the
    /// reverse direction's drawn apart from the forward's; clip 1 in 3; for an LSTM peepholes 1 in 2 and the coupled
    /// gate 1 in 3; for a GRU the reset before the product 1 in 2. An LSTM or GRU whose gate activation can leave
    /// [−1, 1] is always clipped to 0.3–0.5, where every gate activation drawn stays inside it: a gate above 1 multiplies
    /// the state every step (f ⊙ c, z ⊙ h), amplifying rounding (and at worst overflowing) far beyond what the parity
    /// tolerance was derived on.
    /// </summary>
    public static CellVariant Create(Random random, RnnSpec spec) => Create(random, spec, forwardRoles: null);

    /// <summary>As <see cref="Create(Random, RnnSpec)"/>, with every forward role <paramref name="forwardRoles"/> (its parameters drawn) when given.</summary>
    public static CellVariant Create(Random random, RnnSpec spec, ActivationKind? forwardRoles)
    {
        CellActivations Activations(Func<Activation?> role) => spec.Kind switch
        {
            CellKind.Lstm => new(role(), role(), role()),
            CellKind.Gru => new(role(), role()),
            _ => new(role()),
        };

        bool lstm = spec.Kind == CellKind.Lstm;
        CellActivations forward = Activations(forwardRoles is { } kind ? () => Of(kind, random) : () => Role(random));
        CellActivations reverse = spec.Bidirectional ? Activations(() => Role(random)) : new();
        bool gatesBeyondOne = spec.Kind is CellKind.Lstm or CellKind.Gru && new[] { forward.Gates, reverse.Gates }.Any(CanLeaveUnitRange);
        return new CellVariant
        {
            Forward = forward,
            Reverse = reverse,
            Clip = gatesBeyondOne ? Uniform(random, 0.3, 0.5) : random.Next(3) == 0 ? Uniform(random, 0.5, 3) : 0,
            Peepholes = lstm && random.Next(2) == 0,
            CoupledInputForget = lstm && random.Next(3) == 0,
            ResetPlacement = spec.Kind == CellKind.Gru && random.Next(2) == 0 ? GruResetPlacement.BeforeProduct : GruResetPlacement.AfterProduct,
        };
    }

    /// <summary>Whether the activation can leave [−1, 1]: every kind but the sigmoids, Tanh and Softsign (ScaledTanh's α goes to 1.5).</summary>
    private static bool CanLeaveUnitRange(Activation? activation) => activation is { Kind: not (ActivationKind.Sigmoid or ActivationKind.HardSigmoid
        or ActivationKind.Tanh or ActivationKind.Softsign) };

    /// <summary>An activation of any kind, or (1 in 4) none: PyTorch's for the role.</summary>
    public static Activation? Role(Random random) => random.Next(4) == 0 ? null : Any(random);

    /// <summary>An activation of a kind drawn uniformly, its parameters as <see cref="Of"/> draws them.</summary>
    public static Activation Any(Random random)
    {
        ActivationKind[] kinds = Enum.GetValues<ActivationKind>();
        return Of(kinds[random.Next(kinds.Length)], random);
    }

    /// <summary>
    /// An activation of <paramref name="kind"/>, its parameters where it takes them in ranges that keep a network's
    /// values near 1: affine slope 0.5–1 and offset −0.5–0.5, scaled-tanh scale and slope 0.5–1.5, leaky slope
    /// 0.01–0.5, threshold −0.5–1 (pre-activations fall on both sides), hard-sigmoid slope 0.1–0.5 and offset 0.3–0.7,
    /// ELU scale 0.5–1.5.
    /// </summary>
    public static Activation Of(ActivationKind kind, Random random) =>
        kind switch
        {
            ActivationKind.Affine => Activation.Affine(Uniform(random, 0.5, 1), Uniform(random, -0.5, 0.5)),
            ActivationKind.LeakyRelu => Activation.LeakyRelu(Uniform(random, 0.01, 0.5)),
            ActivationKind.ThresholdedRelu => Activation.ThresholdedRelu(Uniform(random, -0.5, 1)),
            ActivationKind.ScaledTanh => Activation.ScaledTanh(Uniform(random, 0.5, 1.5), Uniform(random, 0.5, 1.5)),
            ActivationKind.HardSigmoid => Activation.HardSigmoid(Uniform(random, 0.1, 0.5), Uniform(random, 0.3, 0.7)),
            ActivationKind.Elu => Activation.Elu(Uniform(random, 0.5, 1.5)),
            _ => new Activation(kind),
        };

    private static float Uniform(Random random, double low, double high) => (float)(low + (high - low) * random.NextDouble());
}

/// <summary>
/// ThresholdedRelu is the one discontinuous activation: at an input within rounding of α, float32 and double can fall on
/// different sides and differ by α itself, which no tolerance can absorb. A case keeps clear when no ThresholdedRelu in
/// it sees an input within <see cref="Margin"/> × max(1, |α|) of α — tested without instrumenting the reference: moving
/// every α by ± that much leaves the double reference's outputs bit for bit the same.
/// </summary>
public static class ThresholdMargin
{
    /// <summary>25 × <see cref="Tolerance.ParityFloat32"/>: far beyond how far float32 drifts a pre-activation.</summary>
    public const double Margin = 1e-4;

    public static bool KeepsClear(ParityCase test)
    {
        if (!Activations(test.Spec.Cell).Any(a => a.Kind == ActivationKind.ThresholdedRelu)) return true;
        ReferenceOutput<double> unmoved = test.RunReference<double>();
        return new[] { -1, 1 }.All(sign =>
            BitwiseEqual(unmoved, (test with { Spec = test.Spec with { Cell = MoveThresholds(test.Spec.Cell, sign) } }).RunReference<double>()));
    }

    /// <summary>Every activation the variant names, both directions.</summary>
    public static IEnumerable<Activation> Activations(CellVariant cell) =>
        new[] { cell.Forward, cell.Reverse }.SelectMany(d => new[] { d.Gates, d.Candidate, d.Output }).OfType<Activation>();

    private static CellVariant MoveThresholds(CellVariant cell, int sign)
    {
        Activation? Move(Activation? activation) => activation is { Kind: ActivationKind.ThresholdedRelu } threshold
            ? threshold with { Alpha = (float)(threshold.Alpha + sign * Margin * Math.Max(1, Math.Abs(threshold.Alpha))) }
            : activation;
        CellActivations MoveAll(CellActivations roles) => new(Move(roles.Gates), Move(roles.Candidate), Move(roles.Output));
        return cell with { Forward = MoveAll(cell.Forward), Reverse = MoveAll(cell.Reverse) };
    }

    private static bool BitwiseEqual(ReferenceOutput<double> a, ReferenceOutput<double> b) =>
        a.Output.SequenceEqual(b.Output) && a.HiddenState.SequenceEqual(b.HiddenState)
        && (a.CellState ?? []).SequenceEqual(b.CellState ?? []);
}

/// <summary>What a list of variant cases reaches.</summary>
public static class VariantCoverage
{
    private static readonly (string Role, Func<CellActivations, Activation?> Of)[] Roles =
    [
        (nameof(CellActivations.Gates), roles => roles.Gates),
        (nameof(CellActivations.Candidate), roles => roles.Candidate),
        (nameof(CellActivations.Output), roles => roles.Output),
    ];

    /// <summary>
    /// Every activation in every role, reverse activations, clip, peepholes, the coupled gate with peepholes, the GRU
    /// reset before the product, and networks with lengths, initial state and no bias.
    /// </summary>
    public static void AssertCoversEveryField(IEnumerable<ParityCase> cases)
    {
        IReadOnlyList<ParityCase> all = [.. cases];
        IReadOnlyList<CellVariant> cells = [.. all.Select(test => test.Spec.Cell)];
        foreach ((string role, Func<CellActivations, Activation?> of) in Roles)
        {
            HashSet<ActivationKind> reached = [.. cells.SelectMany(cell => new[] { of(cell.Forward), of(cell.Reverse) }).OfType<Activation>().Select(a => a.Kind)];
            Assert.True(reached.SetEquals(Enum.GetValues<ActivationKind>()),
                $"{role}: the cases never use {string.Join(", ", Enum.GetValues<ActivationKind>().Except(reached))}");
        }

        Assert.Contains(cells, cell => !cell.Reverse.IsDefault);
        Assert.Contains(cells, cell => cell.Clip > 0);
        Assert.Contains(cells, cell => cell.Peepholes && cell.CoupledInputForget);
        Assert.Contains(cells, cell => cell.ResetPlacement == GruResetPlacement.BeforeProduct);
        Assert.Contains(all, test => test.Lengths is not null);
        Assert.Contains(all, test => test.InitialState);
        Assert.Contains(all, test => !test.Spec.Bias);
    }
}
