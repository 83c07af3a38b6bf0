using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;
using FusedRnn.BindGen;
using FusedRnn.Native;
using FusedRnn.Native.Interop;

namespace FusedRnn.Tests.Native;

/// <summary>The generated bindings: up to date with the header, and laid out as the compiled library lays out its structs.</summary>
public partial class BindingTests
{
    [Fact]
    public void CheckedInBindingsAreWhatTheGeneratorWritesFromTheHeader()
    {
        string root = RepositoryRoot();
        BindGenConfig config = BindGenConfig.Load(root);
        IReadOnlyDictionary<string, string> generated = BindingGenerator.Generate(root, config);

        string outputDirectory = Path.Combine(root, config.OutputDirectory);
        string[] checkedIn = [.. Directory.GetFiles(outputDirectory, "*.g.cs").Select(Path.GetFileName).Order(StringComparer.Ordinal)!];
        Assert.Equal(generated.Keys.Order(StringComparer.Ordinal), checkedIn);
        foreach ((string name, string content) in generated)
        {
            string onDisk = File.ReadAllText(Path.Combine(outputDirectory, name));
            Assert.True(onDisk == content, $"{config.OutputDirectory}/{name} differs from the generator's output; run ./build.sh bindings\n{FirstDifference(content, onDisk)}");
        }
    }

    [Fact]
    public unsafe void EveryStructMatchesTheLibrarysLayoutReport()
    {
        NativeTestSupport.RequireLibrary();
        Assert.NotEmpty(FrnnStructLayouts.All);
        foreach (FrnnStructLayout layout in FrnnStructLayouts.All)
        {
            long nativeSize;
            fixed (byte* structName = Utf8(layout.CName))
            {
                NativeCall.Check(FrnnNative.frnn_struct_size(structName, &nativeSize), nameof(FrnnNative.frnn_struct_size));
                Assert.True(nativeSize == ManagedSize(layout.Type), $"{layout.CName}: native {nativeSize} bytes, C# {ManagedSize(layout.Type)}");

                FieldInfo[] managedFields = layout.Type.GetFields(BindingFlags.Public | BindingFlags.Instance);
                Assert.Equal(managedFields.Select(f => f.Name).Order(), layout.Fields.Select(f => f.Field).Order());
                foreach ((string cField, string field) in layout.Fields)
                {
                    long nativeOffset;
                    fixed (byte* fieldName = Utf8(cField))
                    {
                        NativeCall.Check(FrnnNative.frnn_struct_field_offset(structName, fieldName, &nativeOffset), nameof(FrnnNative.frnn_struct_field_offset));
                    }
                    int managedOffset = layout.Type.GetField(field)!.GetCustomAttribute<FieldOffsetAttribute>()!.Value;
                    Assert.True(nativeOffset == managedOffset, $"{layout.CName}.{cField}: native offset {nativeOffset}, C# {managedOffset}");
                }
            }
        }
    }

    [Fact]
    public void LoadedLibraryHasTheAbiVersionTheBindingsWereGeneratedFor()
    {
        NativeTestSupport.RequireLibrary();
        Assert.Equal((uint)FrnnNative.AbiVersion, FrnnNative.frnn_abi_version());
    }

    [Fact]
    public void NoImportIsWrittenByHandOutsideTheGenerator()
    {
        string root = RepositoryRoot();
        string libclangImports = Path.Combine(root, "src", "FusedRnn.BindGen", "LibClang.cs");
        string[] offenders = [.. new[] { "src", "tests", "bench" }
            .SelectMany(folder => Directory.EnumerateFiles(Path.Combine(root, folder), "*.cs", SearchOption.AllDirectories))
            .Where(path => !path.EndsWith(".g.cs", StringComparison.Ordinal) && path != libclangImports)
            .Where(path => !path.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .Where(path => ImportAttribute().IsMatch(File.ReadAllText(path)))];
        Assert.Empty(offenders);
    }

    [Fact]
    public void CommentTextIsCleanedOfItsMarkers()
    {
        Assert.Equal("a value", HeaderParser.CleanComment("/**< a value */"));
        Assert.Equal("First line.\nSecond line.", HeaderParser.CleanComment("/**\n * First line.\n * Second line.\n */"));
        Assert.Null(HeaderParser.CleanComment(""));
        Assert.Equal("WeightIhCount", CSharpWriter.Pascal("weight_ih_count"));
        Assert.Equal("OutOfMemory", CSharpWriter.Pascal("OUT_OF_MEMORY"));
    }

    [GeneratedRegex(@"^\s*\[(DllImport|LibraryImport)\b", RegexOptions.Multiline)]
    private static partial Regex ImportAttribute();

    private static int ManagedSize(Type type) =>
        (int)typeof(Unsafe).GetMethod(nameof(Unsafe.SizeOf))!.MakeGenericMethod(type).Invoke(null, null)!;

    private static byte[] Utf8(string text) => Encoding.UTF8.GetBytes(text + "\0");

    private static string FirstDifference(string expected, string actual)
    {
        string[] expectedLines = expected.Split('\n'), actualLines = actual.Split('\n');
        for (int i = 0; i < Math.Max(expectedLines.Length, actualLines.Length); i++)
        {
            string? wanted = i < expectedLines.Length ? expectedLines[i] : null, got = i < actualLines.Length ? actualLines[i] : null;
            if (wanted != got) return $"line {i + 1}: generator writes \"{wanted}\", file has \"{got}\"";
        }
        return "";
    }

    /// <summary>The checkout under test: above the test binaries, or (with ArtifactsPath elsewhere) above this source file.</summary>
    internal static string RepositoryRoot([CallerFilePath] string sourceFile = "")
    {
        try
        {
            return BindingGenerator.FindRepositoryRoot(AppContext.BaseDirectory);
        }
        catch (DirectoryNotFoundException)
        {
            return BindingGenerator.FindRepositoryRoot(Path.GetDirectoryName(sourceFile)!);
        }
    }
}
