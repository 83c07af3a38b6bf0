using System.IO.Compression;
using FusedRnn.Native;
using FusedRnn.Tests.Cli;
using FusedRnn.Tests.Support;

namespace FusedRnn.Tests.Native;

/// <summary>
/// What a user gets from the packages, packed as <c>./build.sh pack</c> packs them (FusedRnn, FusedRnn.Native and
/// the fusedrnn tool, into one folder): libfusedrnn under runtimes/linux-x64/native, a readme, a license, the
/// repository and XML docs in each; a console app that references only FusedRnn.Native from that folder restores
/// FusedRnn from it too and runs on the cpu backend; a trimmed, self-contained host on FusedRnn.Hosting, and the same
/// host compiled with Native AOT, still run their model on cpu (and a trimmed app that skips the registration is told
/// to make it); and <c>dotnet tool install</c> from it gives a working <c>fusedrnn</c>.
/// </summary>
public class PackagingTests(PackagingTests.PackedFeed feed) : IClassFixture<PackagingTests.PackedFeed>
{
    private static readonly TimeSpan StepTimeout = TimeSpan.FromMinutes(5);

    /// <summary>The projects <c>./build.sh pack</c> packs, in its order.</summary>
    private static readonly string[] PackedProjects =
        ["src/FusedRnn/FusedRnn.csproj", "src/FusedRnn.Native/FusedRnn.Native.csproj", "src/FusedRnn.Hosting/FusedRnn.Hosting.csproj", "src/FusedRnn.Cli/FusedRnn.Cli.csproj"];

    private static string Version => typeof(RnnSpec).Assembly.GetName().Version!.ToString(3);

    /// <summary>The property every published app sets.</summary>
    private const string LinuxX64 = "<RuntimeIdentifier>linux-x64</RuntimeIdentifier>";

    // No build servers: they would outlive the test holding its output pipes.
    private static readonly Dictionary<string, string?> BuildEnvironment = new()
    {
        ["MSBUILDDISABLENODEREUSE"] = "1",
        ["DOTNET_CLI_USE_MSBUILD_SERVER"] = "0",
        ["UseSharedCompilation"] = "false",
        ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1",
        ["DOTNET_NOLOGO"] = "1",
    };

    /// <summary>The three packages, packed once for the tests of this class into a folder deleted after them.</summary>
    public sealed class PackedFeed : IDisposable
    {
        private readonly TempDirectory _work = new();
        private Task<string>? _packing;

        public string WorkRoot => _work.Root;

        /// <summary>The folder holding the packages (a local feed), packed on first use.</summary>
        public Task<string> PackagesAsync() => _packing ??= PackAsync();

        private async Task<string> PackAsync()
        {
            string packages = Path.Combine(_work.Root, "packages");
            string nativeDirectory = Path.GetDirectoryName(NativeLibraryResolver.Load().Path)! + Path.DirectorySeparatorChar;
            string root = BindingTests.RepositoryRoot();
            foreach (string project in PackedProjects)
            {
                await Dotnet(root, "pack", Path.Combine(root, project), "-c", "Release", "-o", packages, "-nodeReuse:false",
                    $"-p:ArtifactsPath={Path.Combine(_work.Root, "artifacts")}", $"-p:FusedRnnNativeDirectory={nativeDirectory}");
            }

            return packages;
        }

        /// <summary>A new folder for an app whose only package source is <paramref name="packages"/>.</summary>
        public string AppFolder(string name, string packages)
        {
            string app = Directory.CreateDirectory(Path.Combine(_work.Root, name)).FullName;
            File.WriteAllText(Path.Combine(app, "nuget.config"), $"""
                <?xml version="1.0" encoding="utf-8"?>
                <configuration>
                  <packageSources>
                    <add key="packed" value="{packages}" />
                  </packageSources>
                </configuration>
                """);
            return app;
        }

        public void Dispose() => _work.Dispose();
    }

    [Fact]
    [Trait("Category", "Packaging")]
    public async Task EveryPackageCarriesItsReadmeLicenseRepositoryAndDocs()
    {
        NativeTestSupport.RequireLibrary();
        string packages = await feed.PackagesAsync();

        foreach ((string id, string? docs) in new[] { ("FusedRnn", "lib/net10.0/FusedRnn.Core.xml"), ("FusedRnn.Native", "lib/net10.0/FusedRnn.Native.xml"), ("FusedRnn.Hosting", "lib/net10.0/FusedRnn.Hosting.xml"), ("FusedRnn.Cli", null) })
        {
            using ZipArchive archive = ZipFile.OpenRead(Path.Combine(packages, $"{id}.{Version}.nupkg"));
            Assert.NotNull(archive.GetEntry("README.md"));
            if (docs is not null) Assert.True(archive.GetEntry(docs) is not null, $"{id} has no {docs}");
            using var nuspecReader = new StreamReader(archive.Entries.Single(entry => entry.FullName.EndsWith(".nuspec", StringComparison.Ordinal)).Open());
            var nuspec = System.Xml.Linq.XDocument.Parse(nuspecReader.ReadToEnd());
            System.Xml.Linq.XElement metadata = nuspec.Root!.Elements().Single(element => element.Name.LocalName == "metadata");
            string? Field(string name) => metadata.Elements().SingleOrDefault(element => element.Name.LocalName == name)?.Value;
            System.Xml.Linq.XElement? Element(string name) => metadata.Elements().SingleOrDefault(element => element.Name.LocalName == name);
            Assert.Equal("README.md", Field("readme"));
            Assert.Equal("MIT", Field("license"));
            Assert.Equal("expression", Element("license")!.Attribute("type")!.Value);
            Assert.StartsWith("https://", Element("repository")?.Attribute("url")?.Value, StringComparison.Ordinal);
            Assert.False(string.IsNullOrWhiteSpace(Field("description")), $"{id} has no description");
        }
    }

    [Fact]
    [Trait("Category", "Packaging")]
    public async Task AConsoleAppBuiltAgainstThePackedPackagesRunsOnTheCpuBackend()
    {
        NativeTestSupport.RequireLibrary();
        string packages = await feed.PackagesAsync();

        string nativePackage = Assert.Single(Directory.GetFiles(packages, "FusedRnn.Native.*.nupkg"));
        using (ZipArchive archive = ZipFile.OpenRead(nativePackage))
        {
            ZipArchiveEntry? library = archive.GetEntry("runtimes/linux-x64/native/libfusedrnn.so");
            Assert.NotNull(library);
            Assert.Equal(new FileInfo(NativeLibraryResolver.Load().Path!).Length, library.Length);
        }

        string app = feed.AppFolder("app", packages);
        // Framework-dependent and RID-less, as most apps are: libfusedrnn resolves from runtimes/linux-x64/native.
        File.WriteAllText(Path.Combine(app, "Consumer.csproj"), AppProject(["FusedRnn.Native"], ""));
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

    /// <summary>
    /// A host on FusedRnn.Hosting published trimmed and self-contained, or compiled ahead of time (Native AOT, clang-14
    /// as the linker): its model still runs on cpu, because AddFusedRnn registers the native backend explicitly (the
    /// trimmer keeps what that call references), and the configuration binds through generated code.
    /// </summary>
    [Theory]
    [Trait("Category", "Packaging")]
    [InlineData("trimmed", "<SelfContained>true</SelfContained><PublishTrimmed>true</PublishTrimmed>")]
    [InlineData("aot", "<PublishAot>true</PublishAot><CppCompilerAndLinker>clang-14</CppCompilerAndLinker>")]
    public async Task APublishedHostStillRunsItsModelOnTheCpuBackend(string publishing, string properties)
    {
        ProcessResult run = await PublishAndRunHostAsync(publishing, LinuxX64 + properties);
        Assert.True(run.ExitCode == 0, $"the {publishing} app: {run}");
        Assert.Contains("backend=cpu outputs=10", run.Stdout, StringComparison.Ordinal);
    }

    /// <summary>
    /// The control of the test above: a trimmed app that references FusedRnn.Native but never calls
    /// <see cref="NativeBackends.Register"/> loses the assembly to the trimmer, so asking for cpu fails, with a message
    /// that names the call to make. (The hosted apps pass because AddFusedRnn makes it.)
    /// </summary>
    [Fact]
    [Trait("Category", "Packaging")]
    public async Task ATrimmedAppThatNeverRegistersTheNativeBackendIsToldTo()
    {
        NativeTestSupport.RequireLibrary();
        string packages = await feed.PackagesAsync();
        string app = feed.AppFolder("unregistered", packages);
        File.WriteAllText(Path.Combine(app, "Unregistered.csproj"), AppProject(["FusedRnn.Native"], $"{LinuxX64}<SelfContained>true</SelfContained><PublishTrimmed>true</PublishTrimmed>"));
        File.WriteAllText(Path.Combine(app, "Program.cs"), """
            using FusedRnn;

            var spec = new RnnSpec(CellKind.Gru, 6, 10);
            var weights = new RnnWeights(spec, [new LayerWeights(new float[30 * 6], new float[30 * 10], new float[30], new float[30])]);
            try
            {
                using RecurrentModule module = RecurrentModule.Create(weights, new RnnOptions { Backend = RnnBackends.Cpu });
                Console.WriteLine($"backend={module.Backend}");
            }
            catch (BackendUnavailableException e)
            {
                Console.WriteLine($"unavailable: {e.Message}");
            }
            """);
        string output = Path.Combine(app, "out");
        await Dotnet(app, "publish", "-c", "Release", "-o", output, "-nodeReuse:false");
        ProcessResult run = await ChildProcess.RunAsync(Path.Combine(output, "Unregistered"), [], StepTimeout, output, BuildEnvironment);
        Assert.True(run.ExitCode == 0, $"the trimmed app: {run}");
        Assert.Contains("unavailable: ", run.Stdout, StringComparison.Ordinal);
        Assert.Contains("NativeBackends.Register()", run.Stdout, StringComparison.Ordinal);
    }

    /// <summary>
    /// A project of an app on the packed feed referencing <paramref name="fusedRnnPackages"/>, with
    /// <paramref name="properties"/> (how it is published).
    /// </summary>
    private string AppProject(IEnumerable<string> fusedRnnPackages, string properties, string otherReferences = "") => $"""
        <Project Sdk="Microsoft.NET.Sdk">
          <PropertyGroup>
            <OutputType>Exe</OutputType>
            <TargetFramework>net10.0</TargetFramework>
            <ImplicitUsings>enable</ImplicitUsings>
            <Nullable>enable</Nullable>
            <InvariantGlobalization>true</InvariantGlobalization>
            <!-- A private package folder: a stale FusedRnn from an earlier run must not be picked up. -->
            <RestorePackagesPath>{Path.Combine(feed.WorkRoot, "nuget-cache")}</RestorePackagesPath>
            {properties}
          </PropertyGroup>
          <ItemGroup>
            {string.Concat(fusedRnnPackages.Select(package => $"<PackageReference Include=\"{package}\" Version=\"{Version}\" />"))}
            {otherReferences}
          </ItemGroup>
        </Project>
        """;

    /// <summary>
    /// Publishes a host on FusedRnn.Hosting (one GRU model from configuration, backends "cpu") with
    /// <paramref name="properties"/>, runs it, and returns what it printed: the model's backend and one step's output count.
    /// </summary>
    private async Task<ProcessResult> PublishAndRunHostAsync(string name, string properties)
    {
        NativeTestSupport.RequireLibrary();
        string packages = await feed.PackagesAsync();
        string app = feed.AppFolder(name, packages);
        File.WriteAllText(Path.Combine(app, "Host.csproj"),
            AppProject(["FusedRnn.Hosting"], properties, """<PackageReference Include="Microsoft.Extensions.Hosting" Version="10.0.15" />"""));
        var spec = new RnnSpec(CellKind.Gru, 6, 10);
        FusedRnn.IO.SafetensorsWriter.Write(Path.Combine(app, "gru.safetensors"), RandomNetworks.Create(spec, 5).ToStateDict());
        File.WriteAllText(Path.Combine(app, "Program.cs"), """
            using FusedRnn.Hosting;
            using FusedRnn.Streams;
            using Microsoft.Extensions.Configuration;
            using Microsoft.Extensions.DependencyInjection;
            using Microsoft.Extensions.Hosting;

            HostApplicationBuilder builder = Host.CreateApplicationBuilder();
            builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["FusedRnn:Models:gru:Path"] = Path.Combine(AppContext.BaseDirectory, "gru.safetensors"),
                ["FusedRnn:Models:gru:Backends"] = "cpu",
            });
            builder.Services.AddFusedRnn(builder.Configuration.GetSection("FusedRnn"));
            using IHost host = builder.Build();
            await host.StartAsync();
            FusedRnnModel model = host.Services.GetRequiredKeyedService<FusedRnnModel>("gru");
            using RnnStream stream = model.OpenStream();
            float[] y = new float[stream.OutputSize];
            stream.Step(new float[stream.InputSize], y);
            Console.WriteLine($"backend={model.Backend} outputs={y.Length}");
            await host.StopAsync();
            """);
        string output = Path.Combine(app, "out");
        await Dotnet(app, "publish", "-c", "Release", "-o", output, "-nodeReuse:false");
        File.Copy(Path.Combine(app, "gru.safetensors"), Path.Combine(output, "gru.safetensors"));
        return await ChildProcess.RunAsync(Path.Combine(output, "Host"), [], StepTimeout, output, BuildEnvironment);
    }

    [Fact]
    [Trait("Category", "Packaging")]
    public async Task TheToolInstallsFromTheFeedAndRunsOnTheCpuBackend()
    {
        NativeTestSupport.RequireLibrary();
        string packages = await feed.PackagesAsync();
        string toolPath = Path.Combine(feed.WorkRoot, "tools");
        // A private global package folder: the tool must come from this feed, not from a cache of an earlier pack.
        var environment = new Dictionary<string, string?>(BuildEnvironment) { ["NUGET_PACKAGES"] = Path.Combine(feed.WorkRoot, "tool-cache") };

        ProcessResult install = await ChildProcess.RunAsync(ChildProcess.Dotnet,
            ["tool", "install", "--tool-path", toolPath, "--add-source", packages, "FusedRnn.Cli", "--version", Version],
            StepTimeout, feed.WorkRoot, environment);
        Assert.True(install.ExitCode == 0, $"dotnet tool install: {install}");

        string fusedrnn = Path.Combine(toolPath, "fusedrnn");
        ProcessResult info = await ChildProcess.RunAsync(fusedrnn, ["info", "--json"], TimeSpan.FromMinutes(1), feed.WorkRoot,
            new Dictionary<string, string?> { [NativeLibraryResolver.PathVariable] = null });
        Assert.True(info.ExitCode == 0, info.ToString());
        System.Text.Json.Nodes.JsonNode json = System.Text.Json.Nodes.JsonNode.Parse(info.Stdout)!;
        Assert.Equal(Version, ((string)json["version"]!).Split('+')[0]);
        System.Text.Json.Nodes.JsonNode cpu = json["backends"]!.AsArray().Single(b => (string)b!["name"]! == RnnBackends.Cpu)!;
        Assert.True((bool)cpu["available"]!, info.Stdout);
        Assert.Contains(toolPath, (string)cpu["description"]!, StringComparison.Ordinal);

        ProcessResult help = await ChildProcess.RunAsync(fusedrnn, ["help"], TimeSpan.FromMinutes(1), feed.WorkRoot);
        Assert.True(help.ExitCode == 0, help.ToString());
        Assert.Contains("fusedrnn [command] [options]", help.Stdout, StringComparison.Ordinal);
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
