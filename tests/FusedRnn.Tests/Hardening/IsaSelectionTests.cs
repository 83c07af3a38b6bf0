using FusedRnn.Backends.Managed;

namespace FusedRnn.Tests.Hardening;

/// <summary>
/// FUSEDRNN_ISA on the managed backend: known values cap the width, unknown ones warn and name the fallback; and
/// FUSEDRNN_THREAD_LIMIT, read as the native library reads it.
/// </summary>
public class IsaSelectionTests
{
    [Theory]
    [InlineData("scalar", SimdLevel.Vector512, SimdLevel.Scalar)]
    [InlineData(" AVX2 ", SimdLevel.Vector512, SimdLevel.Vector256)]
    [InlineData("avx512", SimdLevel.Vector256, SimdLevel.Vector256)] // a cap, never a widening
    [InlineData(null, SimdLevel.Vector256, SimdLevel.Vector256)]
    [InlineData("", SimdLevel.Vector128, SimdLevel.Vector128)]
    public void KnownValuesCapTheHardwareWidthSilently(string? isa, SimdLevel hardware, SimdLevel expected)
    {
        (SimdLevel level, string? warning) = ManagedBackend.ChooseLevel(isa, hardware);
        Assert.Equal(expected, level);
        Assert.Null(warning);
    }

    [Fact]
    public void AnUnknownValueWarnsNamingItAndTheFallback()
    {
        (SimdLevel level, string? warning) = ManagedBackend.ChooseLevel("avx3", SimdLevel.Vector256);
        Assert.Equal(SimdLevel.Vector256, level);
        Assert.NotNull(warning);
        Assert.Contains("FUSEDRNN_ISA='avx3'", warning);
        Assert.Contains("uses Vector256", warning);
    }

    [Fact]
    public void TheWarningEscapesControlCharacters()
    {
        (_, string? warning) = ManagedBackend.ChooseLevel("\u001b[31mred", SimdLevel.Scalar);
        Assert.DoesNotContain('\u001b', warning!);
        Assert.Contains("\\x1b[31mred", warning);
    }

    [Theory]
    [InlineData(null, 2)]
    [InlineData("", 2)]
    [InlineData("3", 3)]
    [InlineData(" +8", 8)] // strtol's leading blanks and sign
    [InlineData("1", 1)]
    [InlineData("1024", 1024)]
    public void AThreadLimitInRangeReplacesTheLogicalProcessors(string? text, int expected)
    {
        (int limit, string? warning) = ManagedBackend.ChooseThreadLimit(text, logicalProcessors: 2);
        Assert.Equal(expected, limit);
        Assert.Null(warning);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("1025")]
    [InlineData("-2")]
    [InlineData("3 ")]
    [InlineData("many")]
    [InlineData("99999999999")]
    public void AThreadLimitOutOfRangeWarnsAndKeepsTheLogicalProcessors(string text)
    {
        (int limit, string? warning) = ManagedBackend.ChooseThreadLimit(text, logicalProcessors: 2);
        Assert.Equal(2, limit);
        Assert.Contains($"FUSEDRNN_THREAD_LIMIT='{text}' is not a thread count in 1..1024; using 2", warning);
    }

    [Fact]
    public void ThreadsAboveTheLimitAreCapped()
    {
        var spec = new RnnSpec(CellKind.Lstm, 4, 8);
        using RecurrentModule module = RecurrentModule.Create(Support.RandomNetworks.Create(spec, 1), new RnnOptions { Backend = RnnBackends.Managed, Threads = 1000 });
        using RnnWorkspace workspace = module.CreateWorkspace();
        Assert.Equal(ManagedBackend.ThreadLimit, ((ManagedWorkspace)workspace).Threads);
    }
}
