using System.Globalization;
using FusedRnn.Tests.Support;
using Xunit.Abstractions;

namespace FusedRnn.Tests;

/// <summary>
/// A sequence streamed one step per call through a unidirectional network (a reverse direction needs the whole
/// sequence), the state carried out of step t into step t + 1 as float32 tensors, against
/// the same sequence in one call, on every backend. In <see cref="RnnPrecision.Float32"/> the state between steps is
/// float32 either way, so the two are identical bit for bit (a kernel that keeps a wider state inside a call, or whose
/// result depends on how many steps a call has, fails here). In <see cref="RnnPrecision.Float64"/> the loop rounds the
/// state to float32 at every step and the whole-sequence call does not, so they differ, by less than
/// <see cref="Float64LoopBound"/>.
/// </summary>
public class StreamingTests(ITestOutputHelper output)
{
    /// <summary>
    /// The most a Float64 step-by-step loop may differ from the whole sequence (scaled as everywhere, by
    /// max(1, |ref|)) on <see cref="Float64Loop"/>: the state's float32 rounding (≤ 6e-8 relative per step) carried
    /// through 100 steps of an LSTM with PyTorch's initialization, which damps rather than grows it. Measured 2.98e-8
    /// on every backend (one float32 ulp of an output between 0.25 and 0.5; see the test's output); the bound is 4 ×
    /// that, rounded up.
    /// </summary>
    private const double Float64LoopBound = 2e-7;

    /// <summary>The representative streaming workload: one LSTM of 64 units, 100 steps, batch 1 (lstm-step-b1-h64's shape).</summary>
    private static readonly RnnSpec Float64Loop = new(CellKind.Lstm, 64, 64);

    private static readonly Dictionary<string, RnnSpec> Networks = new()
    {
        ["lstm-2-layers"] = new RnnSpec(CellKind.Lstm, 7, 33, NumLayers: 2),
        ["lstm-projection"] = new RnnSpec(CellKind.Lstm, 9, 40, NumLayers: 2, ProjSize: 11),
        ["gru-2-layers"] = new RnnSpec(CellKind.Gru, 13, 29, NumLayers: 2),
        ["rnn-tanh"] = new RnnSpec(CellKind.RnnTanh, 5, 70),
        ["rnn-relu-no-bias"] = new RnnSpec(CellKind.RnnRelu, 6, 17, Bias: false),
    };

    public static TheoryData<string, string> BackendsAndNetworks()
    {
        var data = new TheoryData<string, string>();
        foreach (BackendUnderTest backend in BackendUnderTest.All)
            foreach (string network in Networks.Keys) data.Add(backend.Name, network);
        return data;
    }

    [Theory]
    [MemberData(nameof(BackendsAndNetworks))]
    public void Float32StepByStepEqualsTheWholeSequenceBitForBit(string backendName, string network)
    {
        RnnSpec spec = Networks[network];
        using RecurrentModule module = RecurrentModule.Create(Weights(spec), BackendUnderTest.Get(backendName).In(RnnPrecision.Float32));
        AssertStreamsBitForBit(spec, (x, h, c) => module.Forward(x, h, c), $"{backendName}, {network}, Float32");
    }

    /// <summary>
    /// The check above is satisfiable and sound: honest float32 arithmetic (<see cref="ReferenceRnn"/> in float, whose
    /// state is float32 within a call too) streams bit for bit.
    /// </summary>
    [Theory]
    [MemberData(nameof(NetworkNames))]
    public void TheFloat32TranscriptionStreamsBitForBit(string network)
    {
        RnnSpec spec = Networks[network];
        RnnWeights weights = Weights(spec);
        AssertStreamsBitForBit(spec, (x, h, c) => ReferenceRnn.Forward<float>(weights, x, h, c).ToSequenceOutput(), $"float32 transcription, {network}");
    }

    public static TheoryData<string> NetworkNames() => [.. Networks.Keys];

    private static void AssertStreamsBitForBit(RnnSpec spec, Forward forward, string where)
    {
        (SequenceOutput whole, SequenceOutput streamed) = WholeAndStreamed(spec, forward, seqLen: 12, batch: 3);
        AssertBitwiseEqual(whole.Output, streamed.Output, $"y, {where}");
        AssertBitwiseEqual(whole.HiddenState, streamed.HiddenState, $"h_n, {where}");
        if (whole.CellState is not null) AssertBitwiseEqual(whole.CellState, streamed.CellState!, $"c_n, {where}");
    }

    /// <summary>The same through the cell API: LstmCell/GruCell/RnnCell steps against the one-layer module.</summary>
    [Theory]
    [MemberData(nameof(BackendsAndKinds))]
    public void Float32CellStepsEqualTheWholeSequenceBitForBit(string backendName, CellKind kind)
    {
        var spec = new RnnSpec(kind, 10, 48);
        RnnWeights weights = RandomNetworks.Create(spec, 31);
        RnnOptions options = BackendUnderTest.Get(backendName).In(RnnPrecision.Float32);
        const int seqLen = 9, batch = 2;
        var random = new Random(37);
        FloatTensor x = RandomNetworks.FloatTensor(random, seqLen, batch, spec.InputSize);
        FloatTensor h = RandomNetworks.FloatTensor(random, batch, spec.HiddenSize);
        FloatTensor? c = kind == CellKind.Lstm ? RandomNetworks.FloatTensor(random, batch, spec.HiddenSize) : null;
        using RecurrentModule module = RecurrentModule.Create(weights, options);
        SequenceOutput whole = module.Forward(x, new FloatTensor(h.ToArray(), 1, batch, spec.HiddenSize), c is null ? null : new FloatTensor(c.ToArray(), 1, batch, spec.HiddenSize));

        using RecurrentCell cell = kind switch
        {
            CellKind.Lstm => new LstmCell(weights, options),
            CellKind.Gru => new GruCell(weights, options),
            _ => new RnnCell(weights, options),
        };
        int stepFloats = batch * spec.HiddenSize;
        for (int t = 0; t < seqLen; t++)
        {
            (h, c) = cell.Forward(new FloatTensor(x.Memory.Slice(t * batch * spec.InputSize, batch * spec.InputSize), batch, spec.InputSize), h, c);
            Assert.True(whole.Output.Span.Slice(t * stepFloats, stepFloats).SequenceEqual(h.Span), $"{backendName}, {kind} cell, Float32: h after step {t} differs from the sequence's y");
        }

        Assert.True(whole.CellState is null || whole.CellState.Span.SequenceEqual(c!.Span), $"{backendName}, {kind} cell, Float32: c after the last step differs from c_n");
    }

    public static TheoryData<string, CellKind> BackendsAndKinds()
    {
        var data = new TheoryData<string, CellKind>();
        foreach (BackendUnderTest backend in BackendUnderTest.All)
            foreach (CellKind kind in Enum.GetValues<CellKind>()) data.Add(backend.Name, kind);
        return data;
    }

    public static TheoryData<string> BackendNames() => BackendUnderTest.Names;

    [Theory]
    [MemberData(nameof(BackendNames))]
    public void Float64StepByStepStaysCloseToTheWholeSequence(string backendName)
    {
        using RecurrentModule module = RecurrentModule.Create(Weights(Float64Loop), BackendUnderTest.Get(backendName).In(RnnPrecision.Float64));
        (SequenceOutput whole, SequenceOutput streamed) = WholeAndStreamed(Float64Loop, (x, h, c) => module.Forward(x, h, c), seqLen: 100, batch: 1);
        double difference = Tolerance.LargestError(whole, streamed);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{backendName}, Float64, {Float64Loop} over 100 steps: step-by-step vs whole sequence {difference:E3} (bound {Float64LoopBound:E1})"));

        Assert.True(difference <= Float64LoopBound, $"{backendName}: Float64 streaming differs from the whole sequence by {difference:E3}, above {Float64LoopBound:E1}");
        // Zero would mean the whole-sequence call rounds its state to float32 between steps: that is Float32, not the exact mode.
        Assert.True(difference > 0, $"{backendName}: Float64 streaming equals the whole sequence bit for bit, so the state is not carried in double within a call");
    }

    /// <summary>A module's forward call: x <c>[T, B, I]</c>, h0, c0 (LSTM).</summary>
    private delegate SequenceOutput Forward(FloatTensor x, FloatTensor h0, FloatTensor? c0);

    private static RnnWeights Weights(RnnSpec spec) => RandomNetworks.Create(spec, 41);

    /// <summary>The sequence in one call, and as <paramref name="seqLen"/> calls of one step each carrying h_n/c_n on.</summary>
    private static (SequenceOutput Whole, SequenceOutput Streamed) WholeAndStreamed(RnnSpec spec, Forward forward, int seqLen, int batch)
    {
        var random = new Random(43);
        FloatTensor x = RandomNetworks.FloatTensor(random, seqLen, batch, spec.InputSize);
        FloatTensor h = RandomNetworks.FloatTensor(random, spec.LayerDirectionCount, batch, spec.OutputSize);
        FloatTensor? c = spec.Kind == CellKind.Lstm ? RandomNetworks.FloatTensor(random, spec.LayerDirectionCount, batch, spec.HiddenSize) : null;
        SequenceOutput whole = forward(x, h, c);

        int stepInput = batch * spec.InputSize, stepOutput = batch * spec.OutputFeatures;
        var y = new float[seqLen * stepOutput];
        for (int t = 0; t < seqLen; t++)
        {
            SequenceOutput step = forward(new FloatTensor(x.Memory.Slice(t * stepInput, stepInput), 1, batch, spec.InputSize), h, c);
            step.Output.Span.CopyTo(y.AsSpan(t * stepOutput));
            (h, c) = (step.HiddenState, step.CellState);
        }

        return (whole, new SequenceOutput(new FloatTensor(y, seqLen, batch, spec.OutputFeatures), h, c));
    }

    private static void AssertBitwiseEqual(FloatTensor expected, FloatTensor actual, string what)
    {
        Assert.True(expected.Shape.SequenceEqual(actual.Shape), $"{what}: shape {actual}, expected {expected}");
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.True(BitConverter.SingleToInt32Bits(expected.Span[i]) == BitConverter.SingleToInt32Bits(actual.Span[i]),
                $"{what}[{i}]: streamed {actual.Span[i]:R}, whole sequence {expected.Span[i]:R}");
        }
    }
}
