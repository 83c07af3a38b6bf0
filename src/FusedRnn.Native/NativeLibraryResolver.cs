using System.Reflection;
using System.Runtime.InteropServices;
using FusedRnn.Native.Interop;

namespace FusedRnn.Native;

/// <summary>The outcome of looking for libfusedrnn: the file that loaded, or what was tried.</summary>
/// <param name="Handle">The loaded library, or 0.</param>
/// <param name="Path">The file that loaded (or the name the system loader resolved), or null.</param>
/// <param name="Problem">Null when loaded; else every place tried and why each failed.</param>
internal sealed record NativeLibraryLoad(nint Handle, string? Path, string? Problem);

/// <summary>
/// Finds libfusedrnn for every import of this assembly, once: <c>runtimes/&lt;rid&gt;/native/</c> next to the assembly
/// (where the package and project references put it) or the assembly's own folder (a flattened publish), then
/// <c>FUSEDRNN_NATIVE_PATH</c> (a file or a folder), then the system loader (LD_LIBRARY_PATH, the ld cache).
/// </summary>
internal static class NativeLibraryResolver
{
    /// <summary>Names a libfusedrnn file, or a folder holding one, to load when none ships next to the assembly.</summary>
    public const string PathVariable = "FUSEDRNN_NATIVE_PATH";

    private static readonly Lazy<NativeLibraryLoad> Loaded = new(() =>
    {
        Assembly assembly = typeof(NativeLibraryResolver).Assembly;
        NativeLibraryLoad load = Locate(FrnnNative.LibraryName, AssemblyDirectory(assembly), Environment.GetEnvironmentVariable(PathVariable));
        NativeLibrary.SetDllImportResolver(assembly, (name, _, _) => name switch
        {
            FrnnNative.LibraryName when load.Handle != 0 => load.Handle,
            FrnnNative.LibraryName => throw new DllNotFoundException(load.Problem),
            _ => 0,
        });
        return load;
    });

    /// <summary>Loads the library on first use and routes the generated imports to it.</summary>
    public static NativeLibraryLoad Load() => Loaded.Value;

    /// <summary>
    /// Tries, in order, the places a library named <paramref name="libraryName"/> may be; loads the first that
    /// works. Nothing is registered: <see cref="Load"/> does that for the real library.
    /// </summary>
    internal static NativeLibraryLoad Locate(string libraryName, string assemblyDirectory, string? overridePath)
    {
        string fileName = PlatformFileName(libraryName);
        var tried = new List<string>();
        var candidates = new List<string>
        {
            Path.Combine(assemblyDirectory, "runtimes", PortableRuntimeIdentifier(), "native", fileName),
            Path.Combine(assemblyDirectory, fileName),
        };
        if (string.IsNullOrWhiteSpace(overridePath))
        {
            tried.Add($"{PathVariable} (not set)");
        }
        else
        {
            candidates.Add(Directory.Exists(overridePath) ? Path.Combine(overridePath, fileName) : overridePath);
        }

        foreach (string candidate in candidates)
        {
            if (!File.Exists(candidate))
            {
                tried.Add($"{candidate} (no such file)");
                continue;
            }
            if (TryLoad(candidate, out nint handle, out string? error)) return new(handle, candidate, null);
            tried.Add($"{candidate} ({error})");
        }
        if (TryLoad(fileName, out nint systemHandle, out string? systemError)) return new(systemHandle, fileName, null);
        tried.Add($"the system loader for {fileName} ({systemError})");
        return new(0, null, $"lib{libraryName} could not be loaded; tried: {string.Join("; ", tried)}");
    }

    private static bool TryLoad(string path, out nint handle, out string? error)
    {
        try
        {
            handle = NativeLibrary.Load(path);
            error = null;
            return true;
        }
        catch (Exception e) when (e is DllNotFoundException or BadImageFormatException)
        {
            handle = 0;
            // The loader's own message ends with the dlerror() text; keep it on one line.
            error = e.Message.ReplaceLineEndings(" ").Trim();
            return false;
        }
    }

    private static string AssemblyDirectory(Assembly assembly) =>
        string.IsNullOrEmpty(assembly.Location) ? AppContext.BaseDirectory : Path.GetDirectoryName(assembly.Location)!;

    private static string PlatformFileName(string libraryName) =>
        OperatingSystem.IsWindows() ? $"{libraryName}.dll"
        : OperatingSystem.IsMacOS() ? $"lib{libraryName}.dylib"
        : $"lib{libraryName}.so";

    /// <summary>The portable RID NuGet lays native assets out by (linux-x64, win-arm64 ...).</summary>
    private static string PortableRuntimeIdentifier()
    {
        string os = OperatingSystem.IsWindows() ? "win" : OperatingSystem.IsMacOS() ? "osx" : "linux";
        return $"{os}-{RuntimeInformation.ProcessArchitecture.ToString().ToLowerInvariant()}";
    }
}
