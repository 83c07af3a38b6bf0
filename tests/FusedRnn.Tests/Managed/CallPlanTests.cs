using FusedRnn.Backends.Managed;

namespace FusedRnn.Tests.Managed;

/// <summary>
/// The managed backend shares a call between threads by the native library's rule (sharing_for in
/// native/src/cpu/forward.cpp) and resolves Threads = 0 as it does, to the physical cores.
/// </summary>
public class CallPlanTests
{
    [Theory]
    // threads, batch, gates, blocks, width, outputSize, projection, largest layer floats → participants, rows
    [InlineData(2, 1, 4, 4, 16, 64, false, 1_000_000, 1, false)] // 16K multiply-adds a step: the caller alone
    [InlineData(1, 64, 4, 32, 16, 512, false, 1_000_000, 1, false)] // one thread asked for
    [InlineData(4, 1, 4, 32, 16, 512, false, 2_097_152, 4, false)] // units split
    [InlineData(8, 1, 4, 2, 16, 512, false, 2_097_152, 2, false)] // no more participants than unit blocks
    [InlineData(4, 32, 4, 32, 16, 512, false, 2_097_152, 4, false)] // weights beyond the cache: still units
    [InlineData(4, 64, 4, 2, 16, 32, false, 4096, 4, true)] // weights fit every cache: rows
    [InlineData(4, 8, 4, 2, 16, 64, false, 16384, 2, true)] // rows, one group of 4 per participant
    [InlineData(2, 32, 4, 32, 16, 512, true, 2_097_152, 2, true)] // a projection splits rows only
    [InlineData(2, 3, 4, 32, 16, 512, true, 2_097_152, 1, false)] // … and without a row group each, runs alone
    [InlineData(3, 12, 1, 2, 16, 256, false, 2_097_152, 3, true)] // more row parts than unit parts
    public void SharesACallAsTheNativeLibraryDoes(
        int threads, int batch, int gates, int blocks, int width, int outputSize, bool projection, long layerFloats, int participants, bool rows)
    {
        Assert.Equal((participants, rows), CallPlan.Share(threads, batch, gates, blocks, width, outputSize, projection, layerFloats));
    }

    [Fact]
    public void RowSlicesAreWholeRowGroupsAndUnitSlicesWholeBlocks()
    {
        var rows = new CallShape(5, 14, false, false, 3, SplitRows: true);
        Assert.Equal([new(0, 4), new(4, 8), new(8, 14)], Enumerable.Range(0, 3).Select(p => CallPlan.SliceOf(rows, 7, p).Rows));
        Assert.All(Enumerable.Range(0, 3), p => Assert.Equal(new IndexRange(0, 7), CallPlan.SliceOf(rows, 7, p).Blocks));

        var units = rows with { SplitRows = false };
        Assert.Equal([new(0, 2), new(2, 4), new(4, 7)], Enumerable.Range(0, 3).Select(p => CallPlan.SliceOf(units, 7, p).Blocks));
    }

    [Theory]
    [InlineData("0", new[] { 0 })]
    [InlineData("0-3,8,10-11", new[] { 0, 1, 2, 3, 8, 10, 11 })]
    [InlineData("2-2", new[] { 2 })]
    public void ReadsTheKernelsCpuLists(string text, int[] expected) => Assert.Equal(expected, CpuTopology.ParseCpuList(text));

    [Theory]
    [InlineData("")]
    [InlineData("0-")]
    [InlineData("a")]
    [InlineData("1-2-3")]
    public void RefusesMalformedCpuLists(string text) => Assert.Null(CpuTopology.ParseCpuList(text));

    [Fact]
    public void ThreadsZeroIsOnePerPhysicalCoreCappedAtTheLogicalProcessors()
    {
        Assert.InRange(CpuTopology.PhysicalCoreCount, 1, int.Max(Environment.ProcessorCount, 4096));
        using var lstm = new Lstm(PrecisionPathTests.Network(new RnnSpec(CellKind.Lstm, 4, 4), 1), new RnnOptions { Backend = RnnBackends.Managed });
        using var workspace = (ManagedWorkspace)lstm.CreateWorkspace();
        Assert.Equal(int.Min(CpuTopology.PhysicalCoreCount, Environment.ProcessorCount), workspace.Threads);
    }
}
