using System.CommandLine;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using FusedRnn.Backends.Managed;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace FusedRnn.Cli;

/// <summary><c>fusedrnn info</c>: what this machine and build offer, for bug reports and for choosing a backend.</summary>
internal sealed class InfoCommand : Command
{
    readonly Option<bool> _json = new("--json") { Description = "Print the same facts as one JSON object" };

    // Relaxed escaping keeps "+" and non-ASCII text readable; the output is printed, not embedded in HTML.
    static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public InfoCommand(CliConsole console)
        : base("info", "Show the version, runtime, CPU features and which backends can run here")
    {
        Options.Add(_json);
        SetAction(parseResult => console.Guard(() =>
        {
            SystemFacts facts = SystemFacts.Collect();
            if (parseResult.GetValue(_json)) console.Out.WriteLine(facts.ToJson().ToJsonString(JsonOptions));
            else facts.Render(console.CreateAnsiConsole());
            return ExitCodes.Success;
        }));
    }
}

/// <summary>The facts <c>fusedrnn info</c> reports.</summary>
internal sealed record SystemFacts(
    string Version,
    string Runtime,
    string OperatingSystem,
    Architecture Architecture,
    string Processor,
    int ProcessorCount,
    IReadOnlyList<(string Name, bool Supported)> CpuFeatures,
    SimdLevel ManagedVectorWidth,
    string? IsaOverride,
    RnnPrecision DefaultPrecision,
    IReadOnlyList<BackendStatus> Backends)
{
    public static SystemFacts Collect() => new(
        ApplicationVersion,
        RuntimeInformation.FrameworkDescription,
        RuntimeInformation.OSDescription,
        RuntimeInformation.ProcessArchitecture,
        ProcessorName(),
        Environment.ProcessorCount,
        CollectCpuFeatures(),
        ManagedBackend.DefaultLevel,
        Environment.GetEnvironmentVariable(ManagedBackend.IsaVariable),
        RnnOptions.Default.Precision,
        RnnBackends.Describe());

    /// <summary>The processor's model name (Linux: /proc/cpuinfo), or "unknown".</summary>
    static string ProcessorName()
    {
        try
        {
            if (!File.Exists("/proc/cpuinfo")) return "unknown";
            foreach (string line in File.ReadLines("/proc/cpuinfo"))
            {
                int colon = line.IndexOf(':');
                if (colon > 0 && line[..colon].Trim() is "model name" or "Model" or "Hardware") return line[(colon + 1)..].Trim();
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }

        return "unknown";
    }

    public static string ApplicationVersion =>
        typeof(SystemFacts).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";

    /// <summary>The instruction sets the kernels care about, for the architecture this process runs on.</summary>
    static (string, bool)[] CollectCpuFeatures() =>
        X86Base.IsSupported
            ?
            [
                ("AVX2", Avx2.IsSupported), ("FMA", Fma.IsSupported), ("AVX-512F", Avx512F.IsSupported),
                ("AVX-512BW", Avx512BW.IsSupported), ("AVX-512VBMI", Avx512Vbmi.IsSupported), ("AVX-VNNI", AvxVnni.IsSupported),
                ("AVX10.1", Avx10v1.IsSupported), ("AVX10.2", Avx10v2.IsSupported),
            ]
            : ArmBase.IsSupported
                ? [("AdvSIMD", AdvSimd.IsSupported), ("DotProd", Dp.IsSupported)]
                : [];

    static string VectorWidthText(SimdLevel level) => level switch
    {
        SimdLevel.Vector512 => "512-bit",
        SimdLevel.Vector256 => "256-bit",
        SimdLevel.Vector128 => "128-bit",
        _ => "scalar",
    };

    public void Render(IAnsiConsole console)
    {
        var table = new Table().Border(TableBorder.Rounded).AddColumn("Property").AddColumn("Value");
        void Row(string name, string value) => table.AddRow(new Text(name), new Text(value));
        Row("Version", Version);
        Row(".NET runtime", Runtime);
        Row("OS", OperatingSystem);
        Row("Architecture", Architecture.ToString());
        Row("Processor", CliText.Escape(Processor));
        Row("Processors", ProcessorCount.ToString());
        Row("CPU features", FeatureList(supported: true));
        Row("CPU features missing", FeatureList(supported: false));
        Row("Managed vector width", $"{VectorWidthText(ManagedVectorWidth)} ({ManagedVectorWidth})");
        Row(ManagedBackend.IsaVariable, IsaOverride is null ? "not set" : CliText.Escape(IsaOverride));
        Row("Default precision", $"{CommonOptions.NameOf(DefaultPrecision)} (--precision float32|float64 on run, demo and bench)");
        console.Write(table);

        var backends = new Table().Border(TableBorder.Rounded).AddColumn("Backend").AddColumn("Status");
        foreach (BackendStatus backend in Backends)
        {
            IRenderable status = backend.IsAvailable
                ? new Markup($"[green]available[/]: {Markup.Escape(CliText.Escape(backend.Description ?? ""))}")
                : new Markup($"[yellow]unavailable[/]: {Markup.Escape(CliText.Escape(backend.UnavailableReason!))}");
            backends.AddRow(new Text(backend.Name), status);
        }

        console.Write(backends);
    }

    string FeatureList(bool supported)
    {
        string[] names = [.. CpuFeatures.Where(feature => feature.Supported == supported).Select(feature => feature.Name)];
        return names.Length == 0 ? "none" : string.Join(", ", names);
    }

    public JsonObject ToJson()
    {
        var features = new JsonObject();
        foreach ((string name, bool supported) in CpuFeatures) features[name] = supported;
        var backends = new JsonArray();
        foreach (BackendStatus backend in Backends)
            backends.Add(new JsonObject { ["name"] = backend.Name, ["available"] = backend.IsAvailable, ["reason"] = backend.UnavailableReason, ["description"] = backend.Description });
        return new JsonObject
        {
            ["version"] = Version,
            ["runtime"] = Runtime,
            ["os"] = OperatingSystem,
            ["architecture"] = Architecture.ToString(),
            ["processor"] = Processor,
            ["processorCount"] = ProcessorCount,
            ["cpuFeatures"] = features,
            ["managedVectorWidth"] = ManagedVectorWidth.ToString(),
            ["isaOverride"] = IsaOverride,
            ["defaultPrecision"] = CommonOptions.NameOf(DefaultPrecision),
            ["backends"] = backends,
        };
    }
}
