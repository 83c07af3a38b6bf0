using FusedRnn.Native;
using FusedRnn.Native.Interop;
using FusedRnn.Tests.Cli;
using FusedRnn.Tests.Support;

namespace FusedRnn.Tests.Native;

/// <summary>The cpu backend's plumbing: discovery, the library resolver, and native errors as typed exceptions.</summary>
public class NativeBackendTests
{
    [Fact]
    public void CpuBackendIsAvailableAndAutoPrefersIt()
    {
        BackendStatus cpu = RnnBackends.Describe().Single(s => s.Name == RnnBackends.Cpu);
        Assert.True(cpu.IsAvailable, cpu.UnavailableReason);
        Assert.Contains("kernels", cpu.Description, StringComparison.Ordinal);
        Assert.Equal(RnnBackends.Cpu, RnnBackends.Resolve(RnnBackends.Auto).Name);
        Assert.Contains(BackendUnderTest.All, b => b.Name == RnnBackends.Cpu);
    }

    [Fact]
    public void ResolverListsEveryPlaceItTriedWhenNothingLoads()
    {
        using var assemblyDirectory = new TempDirectory();
        using var overrideDirectory = new TempDirectory();
        NativeLibraryLoad load = NativeLibraryResolver.Locate("fusedrnn-absent", assemblyDirectory.Root, overrideDirectory.Root);

        Assert.Equal(0, load.Handle);
        Assert.NotNull(load.Problem);
        Assert.StartsWith("libfusedrnn-absent could not be loaded; tried: ", load.Problem, StringComparison.Ordinal);
        Assert.Contains(Path.Combine(assemblyDirectory.Root, "runtimes", "linux-x64", "native", "libfusedrnn-absent.so") + " (no such file)", load.Problem, StringComparison.Ordinal);
        Assert.Contains(Path.Combine(assemblyDirectory.Root, "libfusedrnn-absent.so") + " (no such file)", load.Problem, StringComparison.Ordinal);
        Assert.Contains(Path.Combine(overrideDirectory.Root, "libfusedrnn-absent.so") + " (no such file)", load.Problem, StringComparison.Ordinal);
        Assert.Contains("the system loader for libfusedrnn-absent.so", load.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void ResolverSaysWhenTheOverrideVariableIsUnset()
    {
        using var assemblyDirectory = new TempDirectory();
        NativeLibraryLoad load = NativeLibraryResolver.Locate("fusedrnn-absent", assemblyDirectory.Root, overridePath: null);
        Assert.Contains($"{NativeLibraryResolver.PathVariable} (not set)", load.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void ResolverLoadsTheFileTheOverrideNames()
    {
        NativeTestSupport.RequireLibrary();
        using var assemblyDirectory = new TempDirectory();
        using var libraryDirectory = new TempDirectory();
        string copy = Path.Combine(libraryDirectory.Root, "libfusedrnn-copy.so");
        File.Copy(NativeLibraryResolver.Load().Path!, copy);

        NativeLibraryLoad byFolder = NativeLibraryResolver.Locate("fusedrnn-copy", assemblyDirectory.Root, libraryDirectory.Root);
        NativeLibraryLoad byFile = NativeLibraryResolver.Locate("fusedrnn-copy", assemblyDirectory.Root, copy);

        Assert.Null(byFolder.Problem);
        Assert.Equal(copy, byFolder.Path);
        Assert.Equal(copy, byFile.Path);
    }

    [Fact]
    public void ResolverPrefersTheCopyNextToTheAssembly()
    {
        NativeTestSupport.RequireLibrary();
        string expected = Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "libfusedrnn.so");
        Assert.Equal(expected, NativeLibraryResolver.Load().Path);
    }

    [Fact]
    public void ResolverRejectsAFileThatIsNotALibrary()
    {
        using var assemblyDirectory = new TempDirectory();
        string bogus = assemblyDirectory.WriteBytes("libfusedrnn-bogus.so", "not an ELF file"u8.ToArray());
        NativeLibraryLoad load = NativeLibraryResolver.Locate("fusedrnn-bogus", assemblyDirectory.Root, overridePath: null);
        Assert.Equal(0, load.Handle);
        Assert.Contains($"{bogus} (", load.Problem, StringComparison.Ordinal);
        Assert.DoesNotContain($"{bogus} (no such file)", load.Problem, StringComparison.Ordinal);
    }

    public static TheoryData<int, Type> StatusesAndExceptions() => new()
    {
        { (int)FrnnStatus.InvalidArgument, typeof(ArgumentException) },
        { (int)FrnnStatus.NullPointer, typeof(ArgumentException) },
        { (int)FrnnStatus.ShapeMismatch, typeof(ArgumentException) },
        { (int)FrnnStatus.InvalidHandle, typeof(ObjectDisposedException) },
        { (int)FrnnStatus.OutOfMemory, typeof(InsufficientMemoryException) },
        { (int)FrnnStatus.Unsupported, typeof(NotSupportedException) },
        { (int)FrnnStatus.Internal, typeof(InvalidOperationException) },
        { 99, typeof(InvalidOperationException) },
    };

    [Theory]
    [MemberData(nameof(StatusesAndExceptions))]
    public void EachStatusBecomesItsExceptionCarryingTheNativeMessage(int statusCode, Type expected)
    {
        var status = (FrnnStatus)statusCode;
        Exception exception = NativeCall.ToException(status, "frnn_example", "the library's words");
        Assert.IsType(expected, exception);
        Assert.Contains("frnn_example failed", exception.Message, StringComparison.Ordinal);
        Assert.Contains("the library's words", exception.Message, StringComparison.Ordinal);
        Assert.Equal(status.ToString(), exception.Data[NativeCall.StatusKey]);
    }

    [Fact]
    public void NativeFailureSurfacesWithTheLibrarysMessage()
    {
        NativeTestSupport.RequireLibrary();
        var exception = Assert.Throws<ArgumentException>(CreateModelWithoutInput);
        Assert.Contains("frnn_model_create failed with InvalidArgument", exception.Message, StringComparison.Ordinal);
        Assert.Contains("spec->input_size is 0", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AWorkspaceKeepsItsModelAliveAndADisposedOneIsReported()
    {
        NativeTestSupport.RequireLibrary();
        RnnWeights weights = RandomNetworks.Create(new RnnSpec(CellKind.RnnTanh, 3, 4), seed: 5);
        var executor = new NativeExecutor(weights, threads: 1, RnnPrecision.Float32);
        RnnWorkspace workspace = executor.CreateWorkspace();
        float[] before = RunOneStep(executor, workspace);

        // The native model is destroyed only once no workspace references it, whatever order finalizers run in.
        executor.Dispose();
        Assert.Equal(before, RunOneStep(executor, workspace));

        workspace.Dispose();
        Assert.Throws<ObjectDisposedException>(() => RunOneStep(executor, workspace));
    }

    private static unsafe void CreateModelWithoutInput()
    {
        FrnnModelSpec spec = new() { StructSize = (uint)sizeof(FrnnModelSpec), CellKind = (int)FrnnCellKind.Gru, InputSize = 0, HiddenSize = 4, NumLayers = 1, NumDirections = 1, HasBias = true };
        FrnnModelHandle model;
        NativeCall.Check(FrnnNative.frnn_model_create(&spec, null, 0, &model), nameof(FrnnNative.frnn_model_create));
    }

    private static float[] RunOneStep(NativeExecutor executor, RnnWorkspace workspace)
    {
        var output = new float[4];
        executor.Forward(new FusedRnn.Backends.ForwardRequest { Input = new float[] { 0.5f, -1, 2 }, SeqLen = 1, Batch = 1, Output = output }, workspace);
        return output;
    }
}
