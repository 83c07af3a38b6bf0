using FusedRnn.Tests.Support;

namespace FusedRnn.Tests;

/// <summary>
/// A cell descriptor the spec cannot have is refused with a typed exception whose message names the field, both by
/// <see cref="RnnSpec.Validate"/> and by the <see cref="RnnWeights"/> built on it; wrong peephole weights name the tensor.
/// </summary>
public class CellVariantValidationTests
{
    private static readonly RnnSpec Lstm = new(CellKind.Lstm, 5, 4);

    private static readonly RnnSpec BidirectionalLstm = Lstm with { Bidirectional = true };

    /// <summary>Asserts that <paramref name="spec"/> is refused with exactly <typeparamref name="TException"/>, its message naming <paramref name="field"/>.</summary>
    private static void AssertRefused<TException>(RnnSpec spec, string field)
        where TException : ArgumentException
    {
        foreach ((string how, Action refuse) in new (string, Action)[] { ("RnnSpec.Validate", () => spec.Validate()), ("new RnnWeights", () => RandomNetworks.Create(spec, seed: 1)) })
        {
            TException e = Assert.Throws<TException>(refuse);
            Assert.True(e.Message.Contains(field, StringComparison.Ordinal), $"{how}: \"{e.Message}\" does not name {field}");
        }
    }

    private static RnnSpec WithForward(RnnSpec spec, CellActivations forward) => spec with { Cell = new CellVariant { Forward = forward } };

    [Theory]
    [InlineData(0)] // the C ABI's DEFAULT is null here, not a kind
    [InlineData(13)]
    [InlineData(-1)]
    public void AnUnknownActivationKindNamesTheRole(int kind) =>
        AssertRefused<ArgumentException>(WithForward(Lstm, new(Candidate: new Activation((ActivationKind)kind))), "Forward.Candidate");

    public static TheoryData<Activation> NonFiniteParameters() =>
    [
        Activation.LeakyRelu(float.NaN), Activation.ThresholdedRelu(float.PositiveInfinity), Activation.Elu(float.NegativeInfinity),
        Activation.Affine(float.NaN, 0), Activation.Affine(1, float.PositiveInfinity), Activation.ScaledTanh(1, float.NaN),
        Activation.HardSigmoid(float.PositiveInfinity, 0.5f), Activation.HardSigmoid(0.2f, float.NegativeInfinity),
    ];

    [Theory]
    [MemberData(nameof(NonFiniteParameters))]
    public void ANonFiniteParameterWhereTakenNamesTheRole(Activation activation) =>
        AssertRefused<ArgumentException>(BidirectionalLstm with { Cell = new CellVariant { Reverse = new(Output: activation) } }, "Reverse.Output");

    public static TheoryData<Activation> ParametersNotTaken() =>
    [
        new(ActivationKind.Sigmoid, Alpha: 0.5f), new(ActivationKind.Identity, Beta: -1), new(ActivationKind.Softplus, Alpha: float.NaN),
        new(ActivationKind.LeakyRelu, 0.01f, Beta: 0.5f), new(ActivationKind.Elu, 1, Beta: 2), new(ActivationKind.ThresholdedRelu, 1, Beta: 1),
    ];

    [Theory]
    [MemberData(nameof(ParametersNotTaken))]
    public void ANonzeroParameterWhereNotTakenNamesTheRole(Activation activation) =>
        AssertRefused<ArgumentException>(WithForward(Lstm, new(Gates: activation)), "Forward.Gates");

    [Theory]
    [InlineData(-1f)]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    [InlineData(float.NegativeInfinity)]
    public void AClipThatIsNotZeroOrAFinitePositiveBoundNamesClip(float clip) =>
        AssertRefused<ArgumentOutOfRangeException>(Lstm with { Cell = new CellVariant { Clip = clip } }, nameof(CellVariant.Clip));

    [Theory]
    [InlineData(CellKind.Gru)]
    [InlineData(CellKind.RnnTanh)]
    [InlineData(CellKind.RnnRelu)]
    public void PeepholesOnACellOtherThanAnLstmNamePeepholes(CellKind kind) =>
        AssertRefused<ArgumentException>(new RnnSpec(kind, 5, 4) { Cell = new CellVariant { Peepholes = true } }, nameof(CellVariant.Peepholes));

    [Theory]
    [InlineData(CellKind.Gru)]
    [InlineData(CellKind.RnnTanh)]
    [InlineData(CellKind.RnnRelu)]
    public void ACoupledGateOnACellOtherThanAnLstmNamesIt(CellKind kind) =>
        AssertRefused<ArgumentException>(new RnnSpec(kind, 5, 4) { Cell = new CellVariant { CoupledInputForget = true } }, nameof(CellVariant.CoupledInputForget));

    [Theory]
    [InlineData(CellKind.Lstm, GruResetPlacement.BeforeProduct)]
    [InlineData(CellKind.RnnTanh, GruResetPlacement.BeforeProduct)]
    [InlineData(CellKind.Gru, (GruResetPlacement)2)]
    public void AResetPlacementOnACellOtherThanAGruOrUnknownNamesIt(CellKind kind, GruResetPlacement placement) =>
        AssertRefused<ArgumentException>(new RnnSpec(kind, 5, 4) { Cell = new CellVariant { ResetPlacement = placement } }, nameof(CellVariant.ResetPlacement));

    [Fact]
    public void ReverseActivationsOnAUnidirectionalNetworkNameReverse() =>
        AssertRefused<ArgumentException>(Lstm with { Cell = new CellVariant { Reverse = new(Gates: Activation.HardSigmoid()) } }, nameof(CellVariant.Reverse));

    [Theory]
    [InlineData(CellKind.Gru)]
    [InlineData(CellKind.RnnTanh)]
    [InlineData(CellKind.RnnRelu)]
    public void AnOutputActivationOnACellOtherThanAnLstmNamesTheRole(CellKind kind) =>
        AssertRefused<ArgumentException>(WithForward(new RnnSpec(kind, 5, 4), new(Output: Activation.Tanh)), "Forward.Output");

    [Theory]
    [InlineData(CellKind.RnnTanh)]
    [InlineData(CellKind.RnnRelu)]
    public void ACandidateActivationOnAnElmanRnnNamesTheRole(CellKind kind) =>
        AssertRefused<ArgumentException>(
            new RnnSpec(kind, 5, 4, Bidirectional: true) { Cell = new CellVariant { Reverse = new(Candidate: Activation.Tanh) } }, "Reverse.Candidate");

    private static readonly RnnSpec PeepholeLstm = new RnnSpec(CellKind.Lstm, 5, 4, NumLayers: 2, Bidirectional: true) { Cell = new CellVariant { Peepholes = true } };

    [Fact]
    public void MissingPeepholeWeightsNameTheTensor()
    {
        LayerWeights[] layers = [.. RandomNetworks.Create(PeepholeLstm, seed: 2).Layers];
        layers[1] = layers[1] with { WeightP = null };
        InvalidWeightsException e = Assert.Throws<InvalidWeightsException>(() => new RnnWeights(PeepholeLstm, layers));
        Assert.Equal("weight_p_l0_reverse", e.ParamName);
        Assert.Contains("weight_p_l0_reverse is missing", e.Message);
    }

    [Fact]
    public void PeepholeWeightsWithoutPeepholesNameTheTensor()
    {
        RnnSpec plain = PeepholeLstm with { Cell = CellVariant.PyTorch };
        LayerWeights[] layers = [.. RandomNetworks.Create(plain, seed: 2).Layers];
        layers[2] = layers[2] with { WeightP = new float[3 * plain.HiddenSize] };
        InvalidWeightsException e = Assert.Throws<InvalidWeightsException>(() => new RnnWeights(plain, layers));
        Assert.Equal("weight_p_l1", e.ParamName);
        Assert.Contains("weight_p_l1 was given", e.Message);
    }

    [Theory]
    [InlineData(4)] // one H: a single peephole vector
    [InlineData(13)]
    public void PeepholeWeightsOfTheWrongSizeNameTheTensorAndItsShape(int length)
    {
        LayerWeights[] layers = [.. RandomNetworks.Create(PeepholeLstm, seed: 2).Layers];
        layers[3] = layers[3] with { WeightP = new float[length] };
        InvalidWeightsException e = Assert.Throws<InvalidWeightsException>(() => new RnnWeights(PeepholeLstm, layers));
        Assert.Equal("weight_p_l1_reverse", e.ParamName);
        Assert.Contains("[12]", e.Message);
    }
}
