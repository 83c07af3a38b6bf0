using System.Buffers.Binary;
using System.Text;

namespace FusedRnn.IO.Hdf5;

/// <summary>
/// A read-only HDF5 reader for the files Keras writes, strict and bounded: built for bytes that may be damaged or
/// hostile. It reads superblocks 0 to 3, object headers 1 and 2 with their continuation blocks, old-style groups
/// (a v1 B-tree of symbol table nodes over a local heap) and compact new-style ones (link messages), hard links only,
/// compact and contiguous datasets, attributes stored in the header, and fixed- and variable-length strings (the
/// latter in global heap collections). Anything else — chunked or filtered data, dense link or attribute storage,
/// soft and external links, shared messages — is refused. Every offset and size is checked against the file before it
/// is used, every structure is visited at most once per lookup, so a read ends, allocates no more than the file
/// holds, and fails with <see cref="Hdf5FormatException"/> saying what is wrong.
/// </summary>
internal sealed class Hdf5File
{
    private readonly byte[] _bytes;
    private readonly ulong _baseAddress;

    private Hdf5File(byte[] bytes, int offsetSize, int lengthSize, ulong baseAddress)
    {
        _bytes = bytes;
        OffsetSize = offsetSize;
        LengthSize = lengthSize;
        _baseAddress = baseAddress;
    }

    /// <summary>The signature a file starts with.</summary>
    public static ReadOnlySpan<byte> Signature => [0x89, (byte)'H', (byte)'D', (byte)'F', (byte)'\r', (byte)'\n', 0x1a, (byte)'\n'];

    internal int OffsetSize { get; }

    internal int LengthSize { get; }

    /// <summary>The root group.</summary>
    public Hdf5Group Root { get; private set; } = null!;

    /// <summary>The file's length in bytes, which bounds every size it states.</summary>
    public long Length => _bytes.Length;

    /// <exception cref="Hdf5FormatException">The bytes are not an HDF5 file this reader reads.</exception>
    public static Hdf5File Open(byte[] bytes)
    {
        if (!bytes.AsSpan().StartsWith(Signature)) throw new Hdf5FormatException("not an HDF5 file (its signature is missing)");
        var reader = new Hdf5Reader(bytes, 8, bytes.Length, 8, 8, "the superblock");
        byte version = reader.Byte();
        Hdf5File file;
        ulong rootHeader;
        if (version is 0 or 1)
        {
            reader.Skip(4);  // free-space, root entry and shared-header versions, reserved
            int offsets = reader.Byte(), lengths = reader.Byte();
            CheckSizes(offsets, lengths);
            reader.Skip(1 + 2 + 2 + 4 + (version == 1 ? 4 : 0));  // reserved, group K values, flags, v1's storage K
            reader = reader.WithSizes(offsets, lengths);
            ulong baseAddress = reader.Offset();
            reader.Skip(3 * offsets);  // free-space info, end of file, driver info
            file = new Hdf5File(bytes, offsets, lengths, baseAddress);
            reader.Skip(offsets);  // the root entry's link name offset
            rootHeader = reader.Offset();
        }
        else if (version is 2 or 3)
        {
            int offsets = reader.Byte(), lengths = reader.Byte();
            CheckSizes(offsets, lengths);
            reader.Skip(1);  // consistency flags
            reader = reader.WithSizes(offsets, lengths);
            ulong baseAddress = reader.Offset();
            reader.Skip(2 * offsets);  // superblock extension, end of file
            file = new Hdf5File(bytes, offsets, lengths, baseAddress);
            rootHeader = reader.Offset();
        }
        else
        {
            throw new Hdf5FormatException($"superblock version {version} is not one this reader knows (0 to 3)");
        }

        file.Root = new Hdf5Group(file, "/", file.Header(rootHeader, "/"));
        return file;
    }

    private static void CheckSizes(int offsets, int lengths)
    {
        if (offsets is not (4 or 8) || lengths is not (4 or 8))
            throw new Hdf5FormatException($"the superblock gives {offsets}-byte offsets and {lengths}-byte lengths; 4 and 8 are read");
    }

    /// <summary>Whether an address is the undefined one (every bit set).</summary>
    internal bool IsUndefined(ulong address) => OffsetSize == 8 ? address == ulong.MaxValue : address == uint.MaxValue;

    /// <summary>A reader at a file address (relative to the base address) over <paramref name="length"/> bytes, which must lie in the file.</summary>
    internal Hdf5Reader At(ulong address, ulong length, string what)
    {
        if (IsUndefined(address)) throw new Hdf5FormatException($"{what} has an undefined address");
        ulong start = address + _baseAddress;
        if (start < address || start > (ulong)_bytes.Length || length > (ulong)_bytes.Length - start)
            throw new Hdf5FormatException($"{what} at {address} ({length} bytes) lies outside the file's {_bytes.Length} bytes");
        return new Hdf5Reader(_bytes, (int)start, (int)(start + length), OffsetSize, LengthSize, what);
    }

    /// <summary>A reader from an address to the end of the file.</summary>
    internal Hdf5Reader From(ulong address, string what)
    {
        ulong start = address + _baseAddress;
        return At(address, start <= (ulong)_bytes.Length ? (ulong)_bytes.Length - start : 0, what);
    }

    /// <summary>The messages of the object header at <paramref name="address"/>, continuation blocks included.</summary>
    internal Hdf5ObjectHeader Header(ulong address, string path) => Hdf5ObjectHeader.Read(this, address, path);
}

/// <summary>An HDF5 file is damaged, or uses a feature this reader does not read; the message says which.</summary>
internal sealed class Hdf5FormatException(string message, bool unsupported = false) : Exception(message)
{
    /// <summary>Whether the file is valid HDF5 that uses a feature this reader refuses (rather than damaged).</summary>
    public bool Unsupported { get; } = unsupported;
}

/// <summary>Little-endian reads within a bounded window of the file; reading past the window is a format error.</summary>
internal struct Hdf5Reader(byte[] bytes, int start, int end, int offsetSize, int lengthSize, string what)
{
    private int _position = start;

    public readonly int Position => _position;

    public readonly int Remaining => end - _position;

    public readonly Hdf5Reader WithSizes(int offsets, int lengths) => new(bytes, _position, end, offsets, lengths, what);

    public ReadOnlySpan<byte> Bytes(long count)
    {
        if (count < 0 || count > Remaining) throw new Hdf5FormatException($"{what} is cut short: it needs {count} more bytes, {Remaining} are left");
        var span = bytes.AsSpan(_position, (int)count);
        _position += (int)count;
        return span;
    }

    public void Skip(long count) => Bytes(count);

    public byte Byte() => Bytes(1)[0];

    public ushort UInt16() => BinaryPrimitives.ReadUInt16LittleEndian(Bytes(2));

    public uint UInt32() => BinaryPrimitives.ReadUInt32LittleEndian(Bytes(4));

    public ulong UInt64() => BinaryPrimitives.ReadUInt64LittleEndian(Bytes(8));

    /// <summary>An unsigned value of 1, 2, 4 or 8 bytes.</summary>
    public ulong Sized(int size) => size switch
    {
        1 => Byte(),
        2 => UInt16(),
        4 => UInt32(),
        8 => UInt64(),
        _ => throw new Hdf5FormatException($"{what}: a field of {size} bytes"),
    };

    public ulong Offset() => Sized(offsetSize);

    public ulong Length() => Sized(lengthSize);

    /// <summary>Moves to the next multiple of 8 from <paramref name="origin"/>.</summary>
    public void Align8(int origin)
    {
        int misalignment = (_position - origin) % 8;
        if (misalignment != 0) Skip(Math.Min(8 - misalignment, Remaining));
    }

    public readonly Hdf5Reader Sub(long length, string part)
    {
        if (length < 0 || length > Remaining) throw new Hdf5FormatException($"{what}: {part} of {length} bytes runs past its end ({Remaining} bytes left)");
        return new Hdf5Reader(bytes, _position, _position + (int)length, offsetSize, lengthSize, $"{what}, {part}");
    }

    /// <summary>A NUL-terminated (or window-ending) ASCII/UTF-8 string.</summary>
    public string NulTerminated()
    {
        ReadOnlySpan<byte> rest = bytes.AsSpan(_position, Remaining);
        int length = rest.IndexOf((byte)0);
        string text = Utf8(length < 0 ? rest : rest[..length]);
        Skip(length < 0 ? rest.Length : length + 1);
        return text;
    }

    public readonly string Utf8(ReadOnlySpan<byte> text)
    {
        try
        {
            return new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(text);
        }
        catch (DecoderFallbackException)
        {
            throw new Hdf5FormatException($"{what}: a name or string is not UTF-8");
        }
    }
}
