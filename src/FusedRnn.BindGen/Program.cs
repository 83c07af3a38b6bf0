using FusedRnn.BindGen;

// FusedRnn.BindGen [--repo DIR] [--check]
//   Regenerates the C# bindings of native/include/fusedrnn.h (settings in bindgen.json next to this project).
//   --check writes nothing and exits 1 when a checked-in file differs from what it would write.
string? repository = null;
bool check = false;
for (int i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--repo" when i + 1 < args.Length: repository = args[++i]; break;
        case "--check": check = true; break;
        default:
            Console.Error.WriteLine($"bindgen: unknown argument '{args[i]}'; usage: FusedRnn.BindGen [--repo DIR] [--check]");
            return 2;
    }
}

try
{
    string root = repository ?? BindingGenerator.FindRepositoryRoot(Directory.GetCurrentDirectory());
    BindGenConfig config = BindGenConfig.Load(root);
    string outputDirectory = Path.Combine(root, config.OutputDirectory);
    int stale = 0;
    IReadOnlyDictionary<string, string> generated = BindingGenerator.Generate(root, config);
    foreach ((string name, string content) in generated)
    {
        string path = Path.Combine(outputDirectory, name);
        if (File.Exists(path) && File.ReadAllText(path) == content) continue;
        stale++;
        if (check)
        {
            Console.Error.WriteLine($"bindgen: {Path.GetRelativePath(root, path)} is out of date; run ./build.sh bindings");
            continue;
        }
        Directory.CreateDirectory(outputDirectory);
        File.WriteAllText(path, content);
        Console.WriteLine($"bindgen: wrote {Path.GetRelativePath(root, path)}");
    }
    var written = generated.Keys.ToHashSet(StringComparer.Ordinal);
    foreach (string orphan in Directory.Exists(outputDirectory) ? Directory.GetFiles(outputDirectory, "*.g.cs") : [])
    {
        if (written.Contains(Path.GetFileName(orphan))) continue;
        stale++;
        Console.Error.WriteLine($"bindgen: {Path.GetRelativePath(root, orphan)} is not generated from the header any more{(check ? "" : "; deleted")}");
        if (!check) File.Delete(orphan);
    }
    if (stale == 0) Console.WriteLine("bindgen: bindings are up to date");
    return check && stale > 0 ? 1 : 0;
}
catch (Exception e) when (e is IOException or InvalidDataException or DllNotFoundException or UnauthorizedAccessException)
{
    Console.Error.WriteLine($"bindgen: error: {e.Message}");
    return 1;
}
