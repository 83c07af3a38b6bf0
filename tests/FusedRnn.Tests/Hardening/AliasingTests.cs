using FusedRnn.Tests.Support;

namespace FusedRnn.Tests.Hardening;

/// <summary>One aliasing rule for every backend: outputs share memory with nothing, except state updated in place.</summary>
public class AliasingTests
{
    private static readonly RnnSpec Spec = new(CellKind.Lstm, 2, 2);

    [Theory]
    [MemberData(nameof(BackendUnderTest.Names), MemberType = typeof(BackendUnderTest))]
    public void OutputOverlappingTheInputIsRejected(string backend)
    {
        using var lstm = new Lstm(RandomNetworks.Create(Spec, 3), BackendUnderTest.Get(backend).Options);
        using var workspace = lstm.CreateWorkspace();
        float[] buffer = new float[16];
        float[] hn = new float[2], cn = new float[2];
        // x = buffer[0..6) ([3, 1, 2]), y = buffer[4..10): they share two floats.
        var e = Assert.Throws<ArgumentException>(() => lstm.Forward(buffer.AsSpan(0, 6), 3, 1, buffer.AsSpan(4, 6), hn, cn, workspace));
        Assert.Equal("output", e.ParamName);
        Assert.Contains("output and input overlap", e.Message);
    }

    [Theory]
    [MemberData(nameof(BackendUnderTest.Names), MemberType = typeof(BackendUnderTest))]
    public void StateMayBeUpdatedExactlyInPlaceButNotShifted(string backend)
    {
        using var lstm = new Lstm(RandomNetworks.Create(Spec, 3), BackendUnderTest.Get(backend).Options);
        using var workspace = lstm.CreateWorkspace();
        float[] x = [0.5f, -1, 0.25f, 2, 1, -0.5f];
        float[] y = new float[6], state = [0.1f, 0.2f, 0.3f, 0.4f, 0, 0], cn = new float[2];
        float[] hn = new float[2];
        lstm.Forward(x, 3, 1, y, hn, cn, workspace, h0: state.AsSpan(0, 2));
        float[] inPlace = [.. state];
        lstm.Forward(x, 3, 1, new float[6], inPlace.AsSpan(0, 2), new float[2], workspace, h0: inPlace.AsSpan(0, 2));
        Assert.Equal(hn, inPlace[..2]);

        var e = Assert.Throws<ArgumentException>(() => lstm.Forward(x, 3, 1, new float[6], state.AsSpan(1, 2), new float[2], workspace, h0: state.AsSpan(0, 2)));
        Assert.Equal("hn", e.ParamName);
        e = Assert.Throws<ArgumentException>(() => lstm.Forward(x, 3, 1, new float[6], state.AsSpan(0, 2), state.AsSpan(2, 2), workspace, c0: state.AsSpan(0, 2)));
        Assert.Equal("hn", e.ParamName);
    }

    [Theory]
    [MemberData(nameof(BackendUnderTest.Names), MemberType = typeof(BackendUnderTest))]
    public void TwoOutputsSharingMemoryAreRejected(string backend)
    {
        using var lstm = new Lstm(RandomNetworks.Create(Spec, 3), BackendUnderTest.Get(backend).Options);
        using var workspace = lstm.CreateWorkspace();
        float[] x = new float[6], outputs = new float[8];
        var e = Assert.Throws<ArgumentException>(() => lstm.Forward(x, 3, 1, outputs.AsSpan(0, 6), outputs.AsSpan(5, 2), new float[2], workspace));
        Assert.Contains("output and hn overlap", e.Message);
    }

    [Theory]
    [MemberData(nameof(BackendUnderTest.Names), MemberType = typeof(BackendUnderTest))]
    public void CellStepInPlaceWorksAndShiftedStateIsRejected(string backend)
    {
        using var cell = new LstmCell(RandomNetworks.Create(Spec, 3), BackendUnderTest.Get(backend).Options);
        using var workspace = cell.CreateWorkspace();
        float[] x = [0.5f, -1], h = [0.1f, 0.2f, 0, 0], c = [0.3f, 0.4f];
        cell.Step(x, 1, h.AsSpan(0, 2), c, h.AsSpan(0, 2), c, workspace);
        var e = Assert.Throws<ArgumentException>(() => cell.Step(x, 1, h.AsSpan(0, 2), c, h.AsSpan(1, 2), c, workspace));
        Assert.Equal("hn", e.ParamName);
    }
}
