using System.Text.Json;

namespace FusedRnn.BindGen;

/// <summary>The generator's settings (bindgen.json, next to this project). Paths are relative to the repository root.</summary>
internal sealed record BindGenConfig
{
    public const string FileName = "bindgen.json";

    /// <summary>The C header to bind.</summary>
    public required string Header { get; init; }

    /// <summary>Where the *.g.cs files go.</summary>
    public required string OutputDirectory { get; init; }

    public required string Namespace { get; init; }

    /// <summary>The static class holding the imported functions and constants.</summary>
    public required string FunctionsClass { get; init; }

    /// <summary>The name every import uses; the managed side's resolver maps it to a file.</summary>
    public required string LibraryName { get; init; }

    /// <summary>Only functions with this prefix are bound.</summary>
    public required string FunctionPrefix { get; init; }

    /// <summary>C type names start with this prefix, which becomes <see cref="TypeNameReplacement"/> in C#.</summary>
    public required string TypeNamePrefix { get; init; }

    public required string TypeNameReplacement { get; init; }

    /// <summary>Object-like macros written as C# constants.</summary>
    public IReadOnlyList<string> ConstantMacros { get; init; } = [];

    /// <summary>Arguments for clang (language, standard, defines).</summary>
    public IReadOnlyList<string> ClangArguments { get; init; } = [];

    /// <summary>libclang files to try, in order.</summary>
    public required IReadOnlyList<string> LibclangCandidates { get; init; }

    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        UnmappedMemberHandling = System.Text.Json.Serialization.JsonUnmappedMemberHandling.Disallow,
    };

    /// <summary>The checked-in settings of the repository at <paramref name="repositoryRoot"/>.</summary>
    public static BindGenConfig Load(string repositoryRoot)
    {
        string path = Path.Combine(repositoryRoot, "src", "FusedRnn.BindGen", FileName);
        try
        {
            return JsonSerializer.Deserialize<BindGenConfig>(File.ReadAllText(path), JsonOptions)
                ?? throw new InvalidDataException($"{path} is empty");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: {e.Message}", e);
        }
    }
}
