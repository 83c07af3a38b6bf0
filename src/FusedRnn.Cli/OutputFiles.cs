using System.CommandLine;
using System.Runtime.InteropServices;
using FusedRnn.IO;

namespace FusedRnn.Cli;

/// <summary>
/// The .npy files one command writes, all or none: each is reserved before the model runs (its folder checked, a
/// temporary file created beside the destination), written to that temporary, and renamed over the destination
/// only once every output was written in full. A failure — a missing folder, no permission, a full disk — deletes
/// the temporaries and leaves every existing file as it was. A destination that is not a regular file (a device or
/// a pipe such as <c>/dev/stdout</c>) cannot be replaced and is written in place, after the regular files.
/// </summary>
internal sealed class OutputFiles : IDisposable
{
    readonly CliConsole _console;
    readonly List<Entry> _entries = [];
    readonly Lock _lock = new();

    /// <summary>Ctrl+C, a kill or a closed terminal end the process without running finally blocks: the temporaries go first.</summary>
    readonly PosixSignalRegistration[] _signals;

    public OutputFiles(CliConsole console)
    {
        _console = console;
        _signals = OperatingSystem.IsWindows() ? [] :
            [.. new[] { PosixSignal.SIGINT, PosixSignal.SIGTERM, PosixSignal.SIGHUP }.Select(signal => PosixSignalRegistration.Create(signal, _ => DeleteTemporaries()))];
    }

    sealed class Entry(Option option, string path, string destination, bool inPlace)
    {
        public Option Option { get; } = option;

        /// <summary>As the user gave it, for messages.</summary>
        public string Path { get; } = path;

        /// <summary>The full path written, symbolic links followed (the link stays a link).</summary>
        public string Destination { get; } = destination;

        public bool InPlace { get; } = inPlace;

        public string? Temporary { get; set; }

        public FileStream? Stream { get; set; }

        public FloatTensor? Tensor { get; set; }
    }

    /// <summary>Checks that <paramref name="path"/> can be written and creates its temporary file.</summary>
    /// <exception cref="CliException">It cannot (<see cref="ExitCodes.CannotWrite"/>), with the option and the path.</exception>
    public void Reserve(Option option, string path)
    {
        string destination = FollowLinks(Path.GetFullPath(path));
        if (Directory.Exists(destination)) throw CannotWrite(option, path, "it is a folder");
        string folder = Path.GetDirectoryName(destination)!;
        if (!Directory.Exists(folder)) throw CannotWrite(option, path, $"the folder '{folder}' does not exist");
        bool inPlace = FileIdentity.Of(destination) is { IsRegularFile: false };
        var entry = new Entry(option, path, destination, inPlace);
        try
        {
            if (inPlace)
            {
                entry.Stream = new FileStream(destination, FileMode.Open, FileAccess.Write, FileShare.ReadWrite);
            }
            else
            {
                entry.Temporary = Path.Combine(folder, $".{Path.GetFileName(destination)}.{Guid.NewGuid().ToString("N")[..12]}.tmp");
                entry.Stream = new FileStream(entry.Temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            entry.Temporary = null; // CreateNew failed: there is nothing to delete, and the name may be someone else's
            throw CannotWrite(option, path, Reason(e, entry));
        }

        lock (_lock) _entries.Add(entry);
    }

    /// <summary>Sets what the output reserved for <paramref name="option"/> will hold; <see cref="Commit"/> writes it.</summary>
    public void Set(Option option, FloatTensor tensor) => _entries.Single(entry => entry.Option == option).Tensor = tensor;

    /// <summary>Writes every output and renames the temporaries into place.</summary>
    /// <exception cref="CliException">An output could not be written (<see cref="ExitCodes.CannotWrite"/>).</exception>
    public void Commit()
    {
        foreach (Entry entry in _entries.OrderBy(entry => entry.InPlace)) Write(entry);
        foreach (Entry entry in _entries.Where(entry => entry.Temporary is not null))
        {
            try
            {
                KeepMode(entry);
                lock (_lock)
                {
                    File.Move(entry.Temporary!, entry.Destination, overwrite: true);
                    entry.Temporary = null;
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new CliException($"{entry.Option.Name}: cannot write '{entry.Path}': {Reason(e, entry)}", ExitCodes.CannotWrite);
            }
        }
    }

    void Write(Entry entry)
    {
        FileStream file = entry.Stream!;
        FloatTensor tensor = entry.Tensor ?? throw new InvalidOperationException($"no tensor was set for {entry.Option.Name}");
        try
        {
            Stream stream = _console.OutputStreamFilter?.Invoke(file, entry.Path) ?? file;
            Npy.WriteFloat32(stream, tensor.Span, tensor.Shape);
            stream.Flush();
            // Some file systems report a full disk only when the data is flushed or the file closed.
            if (!entry.InPlace) file.Flush(flushToDisk: true);
            file.Dispose();
            entry.Stream = null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw CannotWrite(entry.Option, entry.Path, Reason(e, entry));
        }
    }

    /// <summary>A replaced file keeps its permissions (a temporary is created with the default ones).</summary>
    static void KeepMode(Entry entry)
    {
        if (OperatingSystem.IsWindows() || !File.Exists(entry.Destination)) return;
        try
        {
            File.SetUnixFileMode(entry.Temporary!, File.GetUnixFileMode(entry.Destination));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The data matters more than the mode.
        }
    }

    /// <summary>Closes what is open and deletes the temporaries that were not renamed into place.</summary>
    public void Dispose()
    {
        foreach (PosixSignalRegistration signal in _signals) signal.Dispose();
        foreach (Entry entry in _entries)
        {
            try
            {
                entry.Stream?.Dispose();
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Closing a file that failed to write can fail again; the file is deleted below either way.
            }
        }

        DeleteTemporaries();
    }

    void DeleteTemporaries()
    {
        lock (_lock)
        {
            foreach (Entry entry in _entries)
            {
                try
                {
                    if (entry.Temporary is not null) File.Delete(entry.Temporary);
                    entry.Temporary = null;
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    // Nothing better to do: the error already reported is the one that matters.
                }
            }
        }
    }

    static CliException CannotWrite(Option option, string path, string reason) =>
        new($"{option.Name}: cannot write '{path}': {reason}; no output file was changed", ExitCodes.CannotWrite);

    /// <summary>.NET's message without the temporary's name, which the user never gave: "No space left on device".</summary>
    static string Reason(Exception e, Entry entry)
    {
        string message = CliConsole.MessageOf(e);
        if (entry.Temporary is { } temporary)
            message = message.Replace($" : '{temporary}'", "", StringComparison.Ordinal).Replace(temporary, entry.Destination, StringComparison.Ordinal);
        return message.Replace($" : '{entry.Destination}'", "", StringComparison.Ordinal).TrimEnd('.');
    }

    /// <summary>The final target of a symbolic link (written through, so that the link stays), else the path itself.</summary>
    internal static string FollowLinks(string fullPath)
    {
        try
        {
            return new FileInfo(fullPath).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? fullPath;
        }
        catch (IOException)
        {
            return fullPath; // a loop of links: opening it fails with a message that says so
        }
    }
}

/// <summary>Rejects, before anything runs, an output that would overwrite an input or another output.</summary>
internal static class PathConflicts
{
    /// <summary>What two names of one file have in common.</summary>
    readonly record struct Key(ulong Device, ulong Inode, string? Name);

    /// <exception cref="CliException">Two paths name one file (<see cref="ExitCodes.Usage"/>).</exception>
    public static void Reject(IEnumerable<(Option Option, string Path)> inputs, IEnumerable<(Option Option, string Path)> outputs)
    {
        var seen = new List<(Option Option, string Path, Key Key, bool IsOutput)>();
        foreach ((Option option, string path) in inputs) seen.Add((option, path, KeyOf(path), false));
        foreach ((Option option, string path) in outputs)
        {
            Key key = KeyOf(path);
            foreach ((Option other, string otherPath, Key otherKey, bool isOutput) in seen)
            {
                if (otherKey != key) continue;
                string same = otherPath == path ? $"'{path}'" : $"'{path}' and '{otherPath}', one file";
                throw new CliException(isOutput
                    ? $"{other.Name} and {option.Name} both name {same}; give each output its own file"
                    : $"{option.Name} names the file {other.Name} reads ({same}); writing it would overwrite the input", ExitCodes.Usage);
            }

            seen.Add((option, path, key, true));
        }
    }

    /// <summary>
    /// An existing file by its device and inode (links included); a new one by its folder's and its name; where
    /// stat(2) cannot be asked, the full path with symbolic links followed.
    /// </summary>
    static Key KeyOf(string path)
    {
        string full = Path.GetFullPath(path);
        if (FileIdentity.Of(full) is { } file) return new Key(file.Device, file.Inode, null);
        string target = OutputFiles.FollowLinks(full);
        if (Path.GetDirectoryName(target) is { } folder && FileIdentity.Of(folder) is { } directory)
            return new Key(directory.Device, directory.Inode, Path.GetFileName(target));
        return new Key(0, 0, target);
    }
}
