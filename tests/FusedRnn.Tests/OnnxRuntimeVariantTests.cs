using System.Collections.Concurrent;
using FusedRnn.Tests.Support;

namespace FusedRnn.Tests;

/// <summary>
/// The cell descriptor against ONNX Runtime. Random LSTM, GRU and RNN nodes with random variant attributes
/// (<see cref="OnnxCases.Nodes"/>: activations with their α and β per direction, clip, input_forget,
/// linear_before_reset, the peepholes P; with sequence_lens and initial state) run in ORT's CPU kernels and land within
/// <see cref="Tolerance.ParityFloat32"/> of <see cref="ReferenceRnn"/>: the descriptor's formulas are ONNX's as ORT
/// computes them — ThresholdedRelu's comparison, clip applied after the peephole terms, the parameters of Affine,
/// ScaledTanh, HardSigmoid and the rest, the coupled gate. Every backend in float32 lands within the same tolerance of
/// ORT; and the benchmark's multi-layer peer model (<see cref="OnnxCases.Sequences"/>) computes the network. The random
/// cases keep clear of ThresholdedRelu's threshold (<see cref="ThresholdMargin"/>); a network that sits on it shows the
/// comparison.
/// </summary>
public class OnnxRuntimeVariantTests
{
    public static TheoryData<string> NodeCases() => [.. OnnxCases.Nodes.Select(test => test.Name)];

    [Theory]
    [MemberData(nameof(NodeCases))]
    public void OnnxRuntimeComputesTheReferenceTranscription(string caseName)
    {
        ParityCase test = OnnxCases.Get(caseName);
        Tolerance.AssertClose(test.Reference, OnnxRuntimeOutput(test), Tolerance.ParityFloat32, $"ONNX Runtime on {test}");
    }

    /// <summary>The node cases reach every attribute: each activation in each role, both directions, clip, input_forget, P, linear_before_reset 0.</summary>
    [Fact]
    public void TheNodeCasesCoverEveryAttribute() => VariantCoverage.AssertCoversEveryField(OnnxCases.Nodes);

    public static TheoryData<string, string> BackendsAndNodeCases()
    {
        var data = new TheoryData<string, string>();
        foreach (BackendUnderTest backend in BackendUnderTest.All)
            foreach (ParityCase test in OnnxCases.Nodes) data.Add(backend.Name, test.Name);
        return data;
    }

    [Theory]
    [MemberData(nameof(BackendsAndNodeCases))]
    public void AgreesWithOnnxRuntimeInFloat32(string backendName, string caseName)
    {
        ParityCase test = OnnxCases.Get(caseName);
        SequenceOutput actual = test.Run(BackendUnderTest.Get(backendName).In(RnnPrecision.Float32));
        Tolerance.AssertClose(OnnxRuntimeOutput(test), actual, Tolerance.ParityFloat32, $"{backendName} against ONNX Runtime on {test}");
    }

    public static TheoryData<string> SequenceCases() => [.. OnnxCases.Sequences.Select(test => test.Name)];

    [Theory]
    [MemberData(nameof(SequenceCases))]
    public void TheSequenceModelComputesTheNetwork(string caseName)
    {
        ParityCase test = OnnxCases.Get(caseName);
        Tolerance.AssertClose(test.Reference.Output, OnnxRuntimePeer.RunSequence(test), Tolerance.ParityFloat32, $"y, ONNX Runtime on {test}");
    }

    /// <summary>
    /// ThresholdedRelu is x for x &gt; α and 0 at α itself — ONNX's ThresholdedRelu operator and ORT, though the RNN
    /// operators' text says x ≥ α. An Elman RNN with zero weights and bias α computes exactly α every step, so h is 0,
    /// not α, in ORT and in the reference.
    /// </summary>
    [Fact]
    public void ThresholdedReluIsZeroAtItsThresholdInOnnxRuntimeAndTheReference()
    {
        (RnnWeights weights, FloatTensor x) = AtThreshold();
        AssertAllZero(OnnxRuntimePeer.RunSingleNode(weights, x), "ONNX Runtime");
        AssertAllZero(ReferenceRnn.Forward<double>(weights, x).ToSequenceOutput(), "the reference");
    }

    [Theory]
    [MemberData(nameof(BackendUnderTest.NamesAndPrecisions), MemberType = typeof(BackendUnderTest))]
    public void ThresholdedReluIsZeroAtItsThreshold(string backendName, RnnPrecision precision)
    {
        (RnnWeights weights, FloatTensor x) = AtThreshold();
        using RecurrentModule module = RecurrentModule.Create(weights, BackendUnderTest.Get(backendName).In(precision));
        AssertAllZero(module.Forward(x), $"{backendName} in {precision}");
    }

    /// <summary>A bidirectional Elman RNN with ThresholdedRelu(0.75) both ways, zero weights and bias_ih 0.75: every pre-activation is exactly α.</summary>
    private static (RnnWeights Weights, FloatTensor X) AtThreshold()
    {
        const float alpha = 0.75f;
        var spec = new RnnSpec(CellKind.RnnTanh, 3, 5, Bidirectional: true)
        {
            Cell = new CellVariant { Forward = new(Activation.ThresholdedRelu(alpha)), Reverse = new(Activation.ThresholdedRelu(alpha)) },
        };
        LayerWeights Direction() => new(new float[5 * 3], new float[5 * 5], Enumerable.Repeat(alpha, 5).ToArray(), new float[5]);
        return (new RnnWeights(spec, [Direction(), Direction()]), RandomNetworks.FloatTensor(new Random(5), 4, 2, 3));
    }

    private static void AssertAllZero(SequenceOutput output, string who)
    {
        foreach ((string name, FloatTensor values) in new[] { ("y", output.Output), ("h_n", output.HiddenState) })
        {
            int nonzero = values.Span.IndexOfAnyExcept(0f);
            Assert.True(nonzero < 0, $"{who}: {name}[{nonzero}] is {(nonzero < 0 ? 0 : values.Span[nonzero])}, but ThresholdedRelu(α) maps α itself to 0");
        }
    }

    private static readonly ConcurrentDictionary<string, Lazy<SequenceOutput>> OnnxRuntimeOutputs = new();

    /// <summary>ORT's answer to a node case, computed once.</summary>
    private static SequenceOutput OnnxRuntimeOutput(ParityCase test) =>
        OnnxRuntimeOutputs.GetOrAdd(test.Name, _ => new Lazy<SequenceOutput>(() => OnnxRuntimePeer.RunSingleNode(test))).Value;
}
