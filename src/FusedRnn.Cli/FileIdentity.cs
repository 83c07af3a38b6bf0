using System.Runtime.InteropServices;

namespace FusedRnn.Cli;

/// <summary>
/// What a path names on disk, from stat(2): the device and inode (equal for two names of one file, whether through a
/// symbolic link, a hard link or a symlinked folder) and whether it is a regular file. Linux on x64 and Arm64 only,
/// where the layout of <c>struct stat</c> is fixed; elsewhere <see cref="Of"/> returns null and callers compare
/// full paths instead.
/// </summary>
internal readonly record struct FileIdentity(ulong Device, ulong Inode, bool IsRegularFile, bool IsDirectory)
{
    const uint FileTypeMask = 0xF000, RegularFile = 0x8000, Directory = 0x4000;

    static readonly unsafe delegate* unmanaged<byte*, byte*, int> Stat = FindStat();

    /// <summary>The identity of the file <paramref name="path"/> names (following links), or null when it does not exist or cannot be asked.</summary>
    public static unsafe FileIdentity? Of(string path)
    {
        int modeOffset = RuntimeInformation.ProcessArchitecture switch
        {
            Architecture.X64 => 24, // st_dev, st_ino, st_nlink (8 bytes each), st_mode
            Architecture.Arm64 => 16, // st_dev, st_ino, st_mode (the generic layout)
            _ => -1,
        };
        if (Stat == null || modeOffset < 0) return null;
        byte[] name = System.Text.Encoding.UTF8.GetBytes(path + "\0");
        byte* buffer = stackalloc byte[256]; // struct stat is 144 bytes on x64, 128 on Arm64
        fixed (byte* pathBytes = name)
        {
            if (Stat(pathBytes, buffer) != 0) return null;
        }

        uint type = *(uint*)(buffer + modeOffset) & FileTypeMask;
        return new FileIdentity(*(ulong*)buffer, *(ulong*)(buffer + 8), type == RegularFile, type == Directory);
    }

    static unsafe delegate* unmanaged<byte*, byte*, int> FindStat()
    {
        if (!OperatingSystem.IsLinux()) return null;
        foreach (string library in new[] { "libc.so.6", "libc" })
        {
            // glibc exports stat itself since 2.33, musl always; older glibc only has __xstat, and then this is null.
            if (NativeLibrary.TryLoad(library, out IntPtr handle) && NativeLibrary.TryGetExport(handle, "stat", out IntPtr stat))
                return (delegate* unmanaged<byte*, byte*, int>)stat;
        }

        return null;
    }
}
