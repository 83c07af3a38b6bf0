using System.Globalization;
using FusedRnn.Tests.Support;
using Xunit.Abstractions;

namespace FusedRnn.Tests;

/// <summary>
/// Every backend, in both precisions, on random networks with random cell variants (<see cref="CellVariantCases"/>)
/// against <see cref="ReferenceRnn"/> — ONNX's equations in plain double, no code shared with any backend — within the
/// precision's tolerance (<see cref="Tolerance.ParityFor"/>), the same as <see cref="ParityTests"/>; and PyTorch's cells
/// spelled out activation by activation compute what the default cells do.
/// </summary>
public class CellVariantTests(ITestOutputHelper output)
{
    public static TheoryData<string, RnnPrecision, string> BackendsPrecisionsAndCases()
    {
        var data = new TheoryData<string, RnnPrecision, string>();
        foreach (BackendUnderTest backend in BackendUnderTest.All)
            foreach (RnnPrecision precision in BackendUnderTest.Precisions)
                foreach (ParityCase test in CellVariantCases.All) data.Add(backend.Name, precision, test.Name);
        return data;
    }

    [Theory]
    [MemberData(nameof(BackendsPrecisionsAndCases))]
    public void AgreesWithTheReferenceTranscription(string backendName, RnnPrecision precision, string caseName)
    {
        ParityCase test = CellVariantCases.Get(caseName);
        SequenceOutput actual = test.Run(BackendUnderTest.Get(backendName).In(precision));
        Tolerance.AssertClose(test.Reference, actual, Tolerance.ParityFor(precision), $"{backendName} in {precision} on {test}");
    }

    /// <summary>
    /// The variants are no harder on float32 than the parity cases <see cref="Tolerance.ParityFloat32"/> was derived
    /// from: the float32 transcription's drift on every variant case (these and <see cref="OnnxRuntimeVariantTests"/>'),
    /// times <see cref="Tolerance.Float32DriftMultiple"/>, stays within it — the same room for another summation order,
    /// FMA and vectorized activations.
    /// </summary>
    [Fact]
    public void Float32ToleranceKeepsItsMarginOverFloat32sDriftOnTheVariants()
    {
        ParityCase[] cases = [.. CellVariantCases.All, .. OnnxCases.Nodes, .. OnnxCases.Sequences];
        (double drift, ParityCase worst) = cases
            .Select(test => (Tolerance.LargestError(test.Reference, test.RunReference<float>().ToSequenceOutput()), test))
            .MaxBy(measured => measured.Item1);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"float32 transcription vs float64 over {cases.Length} variant cases: largest error {drift:E3} on {worst}; tolerance {Tolerance.ParityFloat32:E1}"));

        Assert.True(drift > 0, "the float32 transcription computed exactly the float64 answer: it is not computing in float32");
        Assert.True(Tolerance.Float32DriftMultiple * drift <= Tolerance.ParityFloat32,
            $"float32 drifts {drift:E3} on {worst}: more than 1/{Tolerance.Float32DriftMultiple} of the tolerance {Tolerance.ParityFloat32:E1}");
    }

    /// <summary>The cases reach every activation in every role, both directions, every other field, and peepholes with a projection.</summary>
    [Fact]
    public void TheCasesCoverEveryVariantField()
    {
        VariantCoverage.AssertCoversEveryField(CellVariantCases.All);
        Assert.Contains(CellVariantCases.All, test => test.Spec.Cell.Peepholes && test.Spec.ProjSize > 0);
    }

    public static TheoryData<string, RnnPrecision, CellKind> BackendsPrecisionsAndKinds()
    {
        var data = new TheoryData<string, RnnPrecision, CellKind>();
        foreach (BackendUnderTest backend in BackendUnderTest.All)
            foreach (RnnPrecision precision in BackendUnderTest.Precisions)
                foreach (CellKind kind in Enum.GetValues<CellKind>()) data.Add(backend.Name, precision, kind);
        return data;
    }

    /// <summary>
    /// A backend computes PyTorch's cell given role by role as it computes the default — spelled out alone (which a
    /// backend may recognise as PyTorch's) and with a clip no pre-activation reaches (which makes it a variant: the
    /// generic kernels then run PyTorch's activations).
    /// </summary>
    [Theory]
    [MemberData(nameof(BackendsPrecisionsAndKinds))]
    public void SpelledOutPyTorchCellEqualsTheDefault(string backendName, RnnPrecision precision, CellKind kind)
    {
        (RnnWeights weights, FloatTensor x, FloatTensor h0, FloatTensor? c0) = PyTorchNetwork(kind);
        RnnOptions options = BackendUnderTest.Get(backendName).In(precision);
        SequenceOutput Run(RnnWeights network)
        {
            using RecurrentModule module = RecurrentModule.Create(network, options);
            return module.Forward(x, h0, c0);
        }

        SequenceOutput expected = Run(weights);
        foreach (RnnWeights spelledOut in SpelledOut(weights))
            Tolerance.AssertClose(expected, Run(spelledOut), Tolerance.ParityFor(precision), $"{backendName} in {precision}, {spelledOut.Spec}");
    }

    /// <summary>The reference maps each default role to PyTorch's function and clips only where told: spelled out, it computes the very same bits.</summary>
    [Theory]
    [InlineData(CellKind.Lstm)]
    [InlineData(CellKind.Gru)]
    [InlineData(CellKind.RnnTanh)]
    [InlineData(CellKind.RnnRelu)]
    public void TheReferenceComputesTheSpelledOutPyTorchCellBitForBit(CellKind kind)
    {
        (RnnWeights weights, FloatTensor x, FloatTensor h0, FloatTensor? c0) = PyTorchNetwork(kind);
        ReferenceOutput<double> expected = ReferenceRnn.Forward<double>(weights, x, h0, c0);
        foreach (RnnWeights spelledOut in SpelledOut(weights))
        {
            ReferenceOutput<double> actual = ReferenceRnn.Forward<double>(spelledOut, x, h0, c0);
            Assert.Equal(expected.Output, actual.Output);
            Assert.Equal(expected.HiddenState, actual.HiddenState);
            Assert.Equal(expected.CellState, actual.CellState);
        }
    }

    /// <summary>PyTorch's cell of <paramref name="kind"/> with every role's activation given, in both directions.</summary>
    public static CellVariant SpelledOutPyTorch(CellKind kind)
    {
        CellActivations roles = kind switch
        {
            CellKind.Lstm => new(Activation.Sigmoid, Activation.Tanh, Activation.Tanh),
            CellKind.Gru => new(Activation.Sigmoid, Activation.Tanh),
            CellKind.RnnTanh => new(Activation.Tanh),
            CellKind.RnnRelu => new(Activation.Relu),
            _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
        };
        return new CellVariant { Forward = roles, Reverse = roles };
    }

    /// <summary><paramref name="weights"/>' network with PyTorch's cell spelled out, then also clipped at 1e30.</summary>
    private static RnnWeights[] SpelledOut(RnnWeights weights)
    {
        CellVariant spelledOut = SpelledOutPyTorch(weights.Spec.Kind);
        return [.. new[] { spelledOut, spelledOut with { Clip = 1e30f } }.Select(cell => new RnnWeights(weights.Spec with { Cell = cell }, weights.Layers))];
    }

    /// <summary>A 2-layer bidirectional network (hidden size 21: vector blocks and a tail) with PyTorch's cell, and an input with initial state.</summary>
    private static (RnnWeights Weights, FloatTensor X, FloatTensor H0, FloatTensor? C0) PyTorchNetwork(CellKind kind)
    {
        var spec = new RnnSpec(kind, 9, 21, NumLayers: 2, Bidirectional: true);
        var random = new Random(7);
        FloatTensor x = RandomNetworks.FloatTensor(random, 5, 3, spec.InputSize);
        FloatTensor h0 = RandomNetworks.FloatTensor(random, spec.LayerDirectionCount, 3, spec.OutputSize);
        FloatTensor? c0 = kind == CellKind.Lstm ? RandomNetworks.FloatTensor(random, spec.LayerDirectionCount, 3, spec.HiddenSize) : null;
        return (RandomNetworks.Create(spec, seed: 7), x, h0, c0);
    }
}
