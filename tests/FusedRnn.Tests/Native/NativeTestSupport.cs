using FusedRnn.Native;

namespace FusedRnn.Tests.Native;

internal static class NativeTestSupport
{
    /// <summary>
    /// Loads libfusedrnn or fails the test with the resolver's report: the build always produces the library, so a
    /// missing one is a broken build, not a reason to skip.
    /// </summary>
    public static void RequireLibrary()
    {
        NativeLibraryLoad load = NativeLibraryResolver.Load();
        Assert.True(load.Problem is null, load.Problem);
    }
}
