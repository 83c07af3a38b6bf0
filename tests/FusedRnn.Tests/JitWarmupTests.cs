namespace FusedRnn.Tests;

/// <summary>
/// <see cref="JitWarmup.Run"/>: its minimums, its quiet rule, its time limit and its argument checks. The JIT's count is
/// the process's, so the class runs with nothing else compiling beside it (the non-parallel collection).
/// </summary>
[Collection(nameof(AllocationTests))]
public class JitWarmupTests
{
    [Fact]
    public void MakesAtLeastTheMinimumCallsForAtLeastTheMinimumTime()
    {
        int calls = 0;
        WarmupReport report = JitWarmup.Run(() => calls++, minimumCalls: 7, minimumTime: TimeSpan.FromMilliseconds(30), quietTime: TimeSpan.Zero);

        Assert.Equal(calls, report.Calls);
        Assert.True(calls >= 7, $"{calls} calls");
        Assert.True(report.Elapsed >= TimeSpan.FromMilliseconds(30), $"{report.Elapsed}");
        Assert.True(report.JitQuiet);
    }

    [Fact]
    public void AQuietTimeLongerThanTheLimitStopsAtTheLimitAndSaysSo()
    {
        WarmupReport report = JitWarmup.Run(() => { }, quietTime: TimeSpan.FromHours(1), longest: TimeSpan.FromMilliseconds(50));

        Assert.False(report.JitQuiet);
        Assert.InRange(report.Elapsed, TimeSpan.FromMilliseconds(50), TimeSpan.FromSeconds(30));
    }

    [Fact]
    public void WarmsAModelStepUntilTheJitIsQuiet()
    {
        using var cell = new LstmCell(Support.RandomNetworks.Create(new RnnSpec(CellKind.Lstm, 3, 5), 1), new RnnOptions { Backend = RnnBackends.Managed });
        using RnnWorkspace workspace = cell.CreateWorkspace();
        var x = new float[3];
        var h = new float[5];
        var c = new float[5];

        WarmupReport report = JitWarmup.Run(() => cell.Step(x, 1, h, c, h, c, workspace), minimumCalls: 10, quietTime: TimeSpan.FromMilliseconds(50), longest: TimeSpan.FromSeconds(20));

        Assert.True(report.JitQuiet, $"the JIT was still compiling after {report.Elapsed} and {report.Calls} calls");
        Assert.True(report.Calls >= 10);
    }

    [Fact]
    public void BadArgumentsAreRefused()
    {
        Assert.Throws<ArgumentNullException>(() => JitWarmup.Run(null!));
        Assert.Throws<ArgumentOutOfRangeException>(() => JitWarmup.Run(() => { }, minimumCalls: -1));
        Assert.Throws<ArgumentOutOfRangeException>(() => JitWarmup.Run(() => { }, minimumTime: TimeSpan.FromSeconds(-1)));
        Assert.Equal("quietTime", Assert.Throws<ArgumentOutOfRangeException>(() => JitWarmup.Run(() => { }, quietTime: TimeSpan.FromSeconds(-1))).ParamName);
        Assert.Equal("longest", Assert.Throws<ArgumentOutOfRangeException>(() => JitWarmup.Run(() => { }, longest: TimeSpan.FromSeconds(-1))).ParamName);
    }
}
