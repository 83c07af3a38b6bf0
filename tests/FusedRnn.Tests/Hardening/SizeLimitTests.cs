using FusedRnn.Backends.Managed;
using FusedRnn.Tests.Support;

namespace FusedRnn.Tests.Hardening;

/// <summary>
/// Sizes whose products overflow 32 bits, or exceed what a backend can address, are refused up front with a typed
/// error naming the dimension — never an overflow, a wrapped buffer size, or an access violation.
/// </summary>
public class SizeLimitTests
{
    [Theory]
    [MemberData(nameof(BackendUnderTest.Names), MemberType = typeof(BackendUnderTest))]
    public void SpanOverloadWithHugeSizesNamesTheInput(string backend)
    {
        using var lstm = new Lstm(RandomNetworks.Create(new RnnSpec(CellKind.Lstm, 3, 2), 1), BackendUnderTest.Get(backend).Options);
        using var workspace = lstm.CreateWorkspace();
        float[] small = new float[12];
        var e = Assert.Throws<ShapeMismatchException>(() =>
            lstm.Forward(small, int.MaxValue, int.MaxValue, small, small.AsSpan(0, 4), small.AsSpan(4, 4), workspace));
        Assert.Equal("input", e.ParamName);
        Assert.Contains("[2147483647, 2147483647, 3]", e.Message);
    }

    [Fact]
    public void CellStepWithHugeBatchNamesTheInput()
    {
        using var cell = new GruCell(RandomNetworks.Create(new RnnSpec(CellKind.Gru, 3, 2), 1), new RnnOptions { Backend = RnnBackends.Managed });
        using var workspace = cell.CreateWorkspace();
        float[] small = new float[6];
        var e = Assert.Throws<ShapeMismatchException>(() => cell.Step(small, int.MaxValue, default, default, small, default, workspace));
        Assert.Equal("input", e.ParamName);
    }

    [Fact]
    public void ZerosBeyondAnArrayIsATypedError()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => FloatTensor.Zeros(65536, 32768));
        Assert.Equal("shape", e.ParamName);
        Assert.Contains("2147483648", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => FloatTensor.Zeros(int.MaxValue, int.MaxValue, int.MaxValue));
    }

    [Fact]
    public void AllocatingForwardRefusesAnOutputBeyondAFloatTensor()
    {
        // y would be [1048577, 1, 2048], beyond Array.MaxLength, while x is 4 MiB.
        using var rnn = new Rnn(RandomNetworks.Create(new RnnSpec(CellKind.RnnTanh, 1, 1024, Bidirectional: true, Bias: false), 1),
            new RnnOptions { Backend = RnnBackends.Managed });
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => rnn.Forward(FloatTensor.Zeros(1048577, 1, 1)));
        Assert.Equal("input", e.ParamName);
        Assert.Contains("[1048577, 1, 2048]", e.Message);
    }

    [Fact]
    public void AllocatingCellStepRefusesAStateBeyondAFloatTensor()
    {
        // h' would be [4194305, 512] while x [4194305, 1] is 16 MiB.
        using var cell = new RnnCell(RandomNetworks.Create(new RnnSpec(CellKind.RnnTanh, 1, 512, Bias: false), 1), new RnnOptions { Backend = RnnBackends.Managed });
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => cell.Forward(FloatTensor.Zeros(4194305, 1)));
        Assert.Equal("input", e.ParamName);
        Assert.Contains("h' would have shape [4194305, 512]", e.Message);
    }

    /// <summary>
    /// The input projection of a long sequence outgrows a managed array while x and y are small (an LSTM with
    /// hidden 4096 projected to 1): the defect was an int product that wrapped, a buffer sized from it, and a GEMM
    /// writing past its end.
    /// </summary>
    [Fact]
    public void ManagedRefusesAProjectionBeyondAnArrayNamingTheSequenceLength()
    {
        using var lstm = new Lstm(RandomNetworks.Create(new RnnSpec(CellKind.Lstm, 1, 4096, Bidirectional: true, Bias: false, ProjSize: 1), 1),
            new RnnOptions { Backend = RnnBackends.Managed });
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => lstm.Forward(FloatTensor.Zeros(65537, 1, 1)));
        Assert.Equal("seqLen", e.ParamName);
        Assert.Contains("input projection", e.Message);
        Assert.Contains("seq_len 65537", e.Message);
    }

    [Theory]
    [InlineData(CellKind.Lstm, 1, 600_000_000)] // 4·H alone wraps an int
    [InlineData(CellKind.RnnTanh, 50_000, 50_000)] // W_ih of 2.5e9 floats
    [InlineData(CellKind.Gru, 3, 30_000)] // W_hh of 3·H × H = 2.7e9
    public void ASpecWhoseWeightsCannotFitAnArrayIsRefusedNamingTheHiddenSize(CellKind kind, int inputSize, int hiddenSize)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new RnnSpec(kind, inputSize, hiddenSize, Bidirectional: true).Validate());
        Assert.Equal("HiddenSize", e.ParamName);
        Assert.Contains("more than an array holds", e.Message);
    }

    [Fact]
    public void ManagedCapsThreadsAtTheLogicalProcessorCount()
    {
        using var lstm = new Lstm(RandomNetworks.Create(new RnnSpec(CellKind.Lstm, 4, 4), 1), new RnnOptions { Backend = RnnBackends.Managed, Threads = 10_000 });
        using var workspace = (ManagedWorkspace)lstm.CreateWorkspace();
        Assert.Equal(Environment.ProcessorCount, workspace.Threads);
    }
}
