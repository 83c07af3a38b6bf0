using System.Runtime.CompilerServices;
using System.Text.RegularExpressions;
using FusedRnn.Fuzzing;

namespace FusedRnn.Tests.IO;

/// <summary>
/// Replays every file of fuzz/corpus through the fuzz target it belongs to, in-process and uninstrumented: the seeds
/// and every finding kept as a regress-* file are regression tests without libFuzzer (fuzz/README.md).
/// </summary>
public class FuzzCorpusTests
{
    /// <summary>fuzz/corpus in the source tree, found from this file's path (the tests may run from any artifacts path).</summary>
    static string CorpusRoot([CallerFilePath] string thisFile = "") =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(thisFile)!, "..", "..", "..", "fuzz", "corpus"));

    public static TheoryData<string, string> CorpusFiles()
    {
        var data = new TheoryData<string, string>();
        foreach (string target in FuzzTargets.All.Keys)
        {
            string folder = Path.Combine(CorpusRoot(), target);
            if (!Directory.Exists(folder))
                continue; // EveryTargetHasSeeds fails instead
            foreach (string file in Directory.EnumerateFiles(folder).Order(StringComparer.Ordinal))
                data.Add(target, Path.GetFileName(file));
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(CorpusFiles))]
    public void CorpusFileIsAcceptedOrRejectedAsDocumented(string target, string file)
    {
        byte[] bytes = File.ReadAllBytes(Path.Combine(CorpusRoot(), target, file));
        // Any exception but the documented ones escapes the target and fails the test.
        FuzzTargets.All[target](bytes);
    }

    [Fact]
    public void EveryTargetHasSeedsAndEveryCorpusFolderATarget()
    {
        Assert.True(Directory.Exists(CorpusRoot()), $"no corpus at {CorpusRoot()}");
        foreach (string target in FuzzTargets.All.Keys)
        {
            string folder = Path.Combine(CorpusRoot(), target);
            Assert.True(Directory.Exists(folder) && Directory.EnumerateFiles(folder).Any(), $"target '{target}' has no seeds in {folder}");
        }
        Assert.Equal(FuzzTargets.All.Keys.Order(StringComparer.Ordinal),
            Directory.EnumerateDirectories(CorpusRoot()).Select(Path.GetFileName).Order(StringComparer.Ordinal)!);
    }

    [Fact]
    public void CorpusStaysSmallAndNamed()
    {
        // libFuzzer names what it writes by SHA-1; committed files are chosen and named for what they show.
        foreach (string file in Directory.EnumerateFiles(CorpusRoot(), "*", SearchOption.AllDirectories))
        {
            if (Path.GetDirectoryName(file) == CorpusRoot())
                continue; // make_seeds.py
            Assert.False(Regex.IsMatch(Path.GetFileName(file), "^[0-9a-f]{40}$"), $"{file}: name it for what it is (fuzz/README.md)");
            Assert.True(new FileInfo(file).Length <= 16 * 1024, $"{file}: seeds stay under 16 KiB");
        }
    }

    [Fact]
    public void FuzzScriptRunsEveryTarget()
    {
        // fuzz/fuzz.sh keeps its own list (CI fuzzes what it names); it must be this one.
        string script = File.ReadAllText(Path.Combine(CorpusRoot(), "..", "fuzz.sh"));
        Match targets = Regex.Match(script, @"^TARGETS=\(([^)]*)\)", RegexOptions.Multiline);
        Assert.True(targets.Success, "fuzz/fuzz.sh has no TARGETS=(...) line");
        Assert.Equal(FuzzTargets.All.Keys.Order(StringComparer.Ordinal),
            targets.Groups[1].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries).Order(StringComparer.Ordinal));
    }
}
