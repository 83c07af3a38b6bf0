using FusedRnn.Backends.Managed;

namespace FusedRnn.Tests.Hardening;

/// <summary>FUSEDRNN_ISA on the managed backend: known values cap the width, unknown ones warn and name the fallback.</summary>
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
}
