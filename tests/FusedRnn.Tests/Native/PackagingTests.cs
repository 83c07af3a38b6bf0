using System.IO.Compression;
using FusedRnn.Native;
using FusedRnn.Tests.Cli;
using FusedRnn.Tests.Support;

namespace FusedRnn.Tests.Native;

/// <summary>
/// What a user gets from the packages: <c>dotnet pack</c> puts libfusedrnn under runtimes/linux-x64/native, and a
/// console app that only references the FusedRnn.Native package from a local folder runs on the cpu backend.
/// </summary>
public class PackagingTests
{
    private static readonly TimeSpan StepTimeout = TimeSpan.FromMinutes(5);

    // No build servers: they would outlive the test holding its output pipes.
    private static readonly Dictionary<string, string?> BuildEnvironment = new()
    {
        ["MSBUILDDISABLENODEREUSE"] = "1",
        ["DOTNET_CLI_USE_MSBUILD_SERVER"] = "0",
        ["UseSharedCompilation"] = "false",
        ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1",
        ["DOTNET_NOLOGO"] = "1",
    };

    [Fact]
    [Trait("Category", "Packaging")]
    public async Task AConsoleAppBuiltAgainstThePackedPackagesRunsOnTheCpuBackend()
    {
        NativeTestSupport.RequireLibrary();
        using var work = new TempDirectory();
        string packages = Path.Combine(work.Root, "packages");
        string nativeDirectory = Path.GetDirectoryName(NativeLibraryResolver.Load().Path)! + Path.DirectorySeparatorChar;
        string root = BindingTests.RepositoryRoot();
        foreach (string project in new[] { "src/FusedRnn/FusedRnn.csproj", "src/FusedRnn.Native/FusedRnn.Native.csproj" })
        {
            await Dotnet(root, "pack", Path.Combine(root, project), "-c", "Release", "-o", packages, "-nodeReuse:false",
                $"-p:ArtifactsPath={Path.Combine(work.Root, "artifacts")}", $"-p:FusedRnnNativeDirectory={nativeDirectory}");
        }

        string nativePackage = Assert.Single(Directory.GetFiles(packages, "FusedRnn.Native.*.nupkg"));
        using (ZipArchive archive = ZipFile.OpenRead(nativePackage))
        {
            ZipArchiveEntry? library = archive.GetEntry("runtimes/linux-x64/native/libfusedrnn.so");
            Assert.NotNull(library);
            Assert.Equal(new FileInfo(NativeLibraryResolver.Load().Path!).Length, library.Length);
        }

        string app = Directory.CreateDirectory(Path.Combine(work.Root, "app")).FullName;
        File.WriteAllText(Path.Combine(app, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <add key="packed" value="{packages}" />
              </packageSources>
            </configuration>
            """);
        File.WriteAllText(Path.Combine(app, "Consumer.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <ImplicitUsings>enable</ImplicitUsings>
                <Nullable>enable</Nullable>
                <!-- A private package folder: a stale FusedRnn from an earlier run must not be picked up. -->
                <RestorePackagesPath>{Path.Combine(work.Root, "nuget-cache")}</RestorePackagesPath>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="FusedRnn.Native" Version="{typeof(RnnSpec).Assembly.GetName().Version!.ToString(3)}" />
              </ItemGroup>
            </Project>
            """);
        File.WriteAllText(Path.Combine(app, "Program.cs"), """
            using FusedRnn;

            var spec = new RnnSpec(CellKind.Lstm, InputSize: 5, HiddenSize: 7, NumLayers: 2);
            var random = new Random(1);
            float[] Values(int count) => [.. Enumerable.Range(0, count).Select(_ => (float)(random.NextDouble() - 0.5))];
            var layers = new List<LayerWeights>();
            for (int layer = 0; layer < spec.NumLayers; layer++)
                layers.Add(new LayerWeights(Values(28 * spec.LayerInputSize(layer)), Values(28 * 7), Values(28), Values(28)));
            var weights = new RnnWeights(spec, layers);
            var x = new FloatTensor(Values(3 * 2 * 5), [3, 2, 5]);

            using var cpu = RecurrentModule.Create(weights, new RnnOptions { Backend = "cpu" });
            using var managed = RecurrentModule.Create(weights, new RnnOptions { Backend = "managed" });
            float[] fromCpu = cpu.Forward(x).Output.Span.ToArray(), fromManaged = managed.Forward(x).Output.Span.ToArray();
            double difference = fromCpu.Zip(fromManaged, (a, b) => Math.Abs(a - b)).Max();
            Console.WriteLine($"backend={cpu.Backend} auto={RnnBackends.Resolve("auto").Name} max_difference={difference:E1}");
            return difference <= 2e-6 ? 0 : 1;
            """);

        ProcessResult run = await Dotnet(app, "run", "-c", "Release", "-nodeReuse:false");
        Assert.Contains("backend=cpu auto=cpu max_difference=", run.Stdout, StringComparison.Ordinal);
    }

    private static async Task<ProcessResult> Dotnet(string workingDirectory, params string[] arguments)
    {
        ProcessResult result = await ChildProcess.RunAsync(ChildProcess.Dotnet, arguments, StepTimeout, workingDirectory, BuildEnvironment);
        Assert.True(result.ExitCode == 0, $"dotnet {string.Join(' ', arguments)}: {result}");
        return result;
    }
}

/// <summary>The resolver in a real deployment: an app folder without the library, then the override pointing at one.</summary>
public class DeploymentTests
{
    [Fact]
    public async Task WithoutTheLibraryTheCliReportsWhereItLookedAndTheOverrideFixesIt()
    {
        NativeTestSupport.RequireLibrary();
        using var app = new TempDirectory();
        foreach (string file in Directory.GetFiles(AppContext.BaseDirectory).Where(f => f.EndsWith(".dll", StringComparison.Ordinal) || f.EndsWith(".json", StringComparison.Ordinal)))
            File.Copy(file, Path.Combine(app.Root, Path.GetFileName(file)));
        string cli = Path.Combine(app.Root, "fusedrnn.dll");

        ProcessResult missing = await ChildProcess.RunAsync(ChildProcess.Dotnet, [cli, "info", "--json"], TimeSpan.FromMinutes(1),
            environment: new Dictionary<string, string?> { [NativeLibraryResolver.PathVariable] = null });
        Assert.True(missing.ExitCode == 0, missing.ToString());
        System.Text.Json.Nodes.JsonNode cpu = CpuEntry(missing.Stdout);
        Assert.False((bool)cpu["available"]!);
        string reason = (string)cpu["reason"]!;
        Assert.Contains(Path.Combine(app.Root, "runtimes", "linux-x64", "native", "libfusedrnn.so") + " (no such file)", reason, StringComparison.Ordinal);
        Assert.Contains($"{NativeLibraryResolver.PathVariable} (not set)", reason, StringComparison.Ordinal);
        Assert.Contains("the system loader for libfusedrnn.so", reason, StringComparison.Ordinal);

        string libraryDirectory = Path.GetDirectoryName(NativeLibraryResolver.Load().Path)!;
        ProcessResult overridden = await ChildProcess.RunAsync(ChildProcess.Dotnet, [cli, "info", "--json"], TimeSpan.FromMinutes(1),
            environment: new Dictionary<string, string?> { [NativeLibraryResolver.PathVariable] = libraryDirectory });
        Assert.True(overridden.ExitCode == 0, overridden.ToString());
        System.Text.Json.Nodes.JsonNode found = CpuEntry(overridden.Stdout);
        Assert.True((bool)found["available"]!, overridden.Stdout);
        Assert.Contains(Path.Combine(libraryDirectory, "libfusedrnn.so"), (string)found["description"]!, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("scalar", "reference")]
    [InlineData("reference", "reference")]
    [InlineData("avx2", "avx2")]
    public async Task FusedrnnIsaForcesALowerKernelSetInANewProcess(string forced, string expectedSet)
    {
        NativeTestSupport.RequireLibrary();
        if (expectedSet == "avx2" && !System.Runtime.Intrinsics.X86.Avx2.IsSupported) expectedSet = "reference";
        ProcessResult info = await ChildProcess.RunAsync(ChildProcess.Dotnet, [Path.Combine(AppContext.BaseDirectory, "fusedrnn.dll"), "info", "--json"],
            TimeSpan.FromMinutes(1), environment: new Dictionary<string, string?> { ["FUSEDRNN_ISA"] = forced });
        Assert.True(info.ExitCode == 0, info.ToString());
        Assert.EndsWith($", {expectedSet} kernels", (string)CpuEntry(info.Stdout)["description"]!, StringComparison.Ordinal);
    }

    private static System.Text.Json.Nodes.JsonNode CpuEntry(string infoJson) =>
        System.Text.Json.Nodes.JsonNode.Parse(infoJson)!["backends"]!.AsArray().Single(b => (string)b!["name"]! == RnnBackends.Cpu)!;
}
