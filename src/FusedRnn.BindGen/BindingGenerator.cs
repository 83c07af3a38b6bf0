namespace FusedRnn.BindGen;

/// <summary>Header in, C# files out; no file is written here, so a test can compare without touching the tree.</summary>
internal static class BindingGenerator
{
    /// <summary>The interop files for the repository at <paramref name="repositoryRoot"/>: file name → content.</summary>
    public static IReadOnlyDictionary<string, string> Generate(string repositoryRoot, BindGenConfig config)
    {
        HeaderModel header = HeaderParser.Parse(Path.Combine(repositoryRoot, config.Header), config);
        return new CSharpWriter(header, config).Write();
    }

    /// <summary>The directory holding Interop.sln at or above <paramref name="start"/>.</summary>
    public static string FindRepositoryRoot(string start)
    {
        for (DirectoryInfo? directory = new(start); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Interop.sln"))) return directory.FullName;
        }
        throw new DirectoryNotFoundException($"no Interop.sln at or above {start}; pass --repo <repository root>");
    }
}
