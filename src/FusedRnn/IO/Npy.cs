using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace FusedRnn.IO;

/// <summary>An array read from a <c>.npy</c> file.</summary>
/// <param name="Data">The elements in C (row-major) order.</param>
/// <param name="Shape">The dimensions, outermost first; empty for a 0-d array, which has one element.</param>
public sealed record NpyArray<T>(T[] Data, int[] Shape);

/// <summary>
/// Reads and writes NumPy <c>.npy</c> files (format versions 1.0, 2.0 and 3.0) holding little-endian, C-ordered
/// float32 or integer arrays.
/// </summary>
public static class Npy
{
    static ReadOnlySpan<byte> Magic => [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    // numpy aligns the data to 64 bytes so that it can be memory-mapped efficiently.
    const int DataAlignment = 64;

    /// <summary>Reads a float32 (<c>&lt;f4</c>) array from the file at <paramref name="path"/>.</summary>
    /// <exception cref="MalformedFileException">The file is not a valid .npy file or its dtype is not <c>&lt;f4</c>.</exception>
    public static NpyArray<float> ReadFloat32(string path) => ParseFloat32(File.ReadAllBytes(path), path);

    /// <summary>Reads a float32 (<c>&lt;f4</c>) array from the rest of <paramref name="stream"/>.</summary>
    /// <param name="stream">The .npy file's bytes; read to its end.</param>
    /// <param name="displayName">The name error messages use.</param>
    /// <exception cref="MalformedFileException">The bytes are not a valid .npy file or its dtype is not <c>&lt;f4</c>.</exception>
    public static NpyArray<float> ReadFloat32(Stream stream, string displayName) => ParseFloat32(ReadToEnd(stream), displayName);

    /// <summary>
    /// Reads an integer array from the file at <paramref name="path"/>, widened to 64 bits. Accepted dtypes:
    /// <c>&lt;i8</c>, <c>&lt;i4</c>, <c>&lt;u4</c>, <c>&lt;i2</c>, <c>&lt;u2</c>, <c>|i1</c>, <c>|u1</c>.
    /// </summary>
    /// <exception cref="MalformedFileException">The file is not a valid .npy file or its dtype is not one of those above.</exception>
    public static NpyArray<long> ReadIntegers(string path) => ParseIntegers(File.ReadAllBytes(path), path);

    /// <summary>As <see cref="ReadIntegers(string)"/>, from the rest of <paramref name="stream"/>.</summary>
    /// <param name="stream">The .npy file's bytes; read to its end.</param>
    /// <param name="displayName">The name error messages use.</param>
    /// <exception cref="MalformedFileException">The bytes are not a valid .npy file or its dtype is not an accepted integer dtype.</exception>
    public static NpyArray<long> ReadIntegers(Stream stream, string displayName) => ParseIntegers(ReadToEnd(stream), displayName);

    /// <summary>Writes a float32 array to a .npy file at <paramref name="path"/>.</summary>
    /// <inheritdoc cref="WriteFloat32(Stream, ReadOnlySpan{float}, ReadOnlySpan{int})"/>
    public static void WriteFloat32(string path, ReadOnlySpan<float> data, ReadOnlySpan<int> shape)
    {
        using FileStream stream = File.Create(path);
        WriteFloat32(stream, data, shape);
    }

    /// <summary>
    /// Writes a float32 array as numpy does: format version 1.0, dtype <c>&lt;f4</c>, C order, the header padded with
    /// spaces and ended with a newline so that the data starts at a multiple of 64 bytes.
    /// </summary>
    /// <param name="stream">Where to write.</param>
    /// <param name="data">The elements in C (row-major) order.</param>
    /// <param name="shape">The dimensions; empty for a 0-d array of one element.</param>
    /// <exception cref="ArgumentException">The shape has a negative dimension or does not match the data's length.</exception>
    public static void WriteFloat32(Stream stream, ReadOnlySpan<float> data, ReadOnlySpan<int> shape)
    {
        foreach (int dim in shape)
        {
            if (dim < 0)
                throw new ArgumentException($"shape {FormatShape(shape.ToArray())} has a negative dimension", nameof(shape));
        }
        if (!TensorSizes.TryByteSize(shape.ToArray(), 1, out long count) || count != data.Length)
            throw new ArgumentException(
                $"shape {FormatShape(shape.ToArray())} holds {(count >= 0 ? $"{count}" : $"more than {long.MaxValue}")} elements but data has {data.Length}",
                nameof(data));

        string dict = $"{{'descr': '<f4', 'fortran_order': False, 'shape': {FormatShape(shape.ToArray())}, }}";
        int prefixLength = Magic.Length + 4; // magic, version 1.0, u16 header length
        int paddedHeaderLength = (prefixLength + dict.Length + 1 + DataAlignment - 1) / DataAlignment * DataAlignment - prefixLength;
        if (paddedHeaderLength > ushort.MaxValue)
            throw new ArgumentException($"shape has {shape.Length} dimensions, too many for a version 1.0 header", nameof(shape));
        string header = dict.PadRight(paddedHeaderLength - 1) + "\n";

        Span<byte> prefix = stackalloc byte[prefixLength];
        Magic.CopyTo(prefix);
        prefix[6] = 1;
        prefix[7] = 0;
        BinaryPrimitives.WriteUInt16LittleEndian(prefix[8..], (ushort)header.Length);
        stream.Write(prefix);
        stream.Write(Encoding.ASCII.GetBytes(header));
        // The format is little-endian, as is every platform .NET runs on.
        stream.Write(MemoryMarshal.AsBytes(data));
    }

    static NpyArray<float> ParseFloat32(byte[] bytes, string file)
    {
        Header header = ParseHeader(bytes, file);
        if (header.Descr != "<f4")
            throw new MalformedFileException(file, $"dtype '{FileText.Escape(header.Descr)}' is not supported; expected float32 ('<f4')");
        return new(LittleEndianArrays.Float32(DataBytes(bytes, header, 4, file)), header.Shape);
    }

    static NpyArray<long> ParseIntegers(byte[] bytes, string file)
    {
        Header header = ParseHeader(bytes, file);
        (int ItemSize, Func<ReadOnlySpan<byte>, long> Read) codec = header.Descr switch
        {
            "<i8" => (8, static b => BinaryPrimitives.ReadInt64LittleEndian(b)),
            "<i4" => (4, static b => BinaryPrimitives.ReadInt32LittleEndian(b)),
            "<u4" => (4, static b => BinaryPrimitives.ReadUInt32LittleEndian(b)),
            "<i2" => (2, static b => BinaryPrimitives.ReadInt16LittleEndian(b)),
            "<u2" => (2, static b => BinaryPrimitives.ReadUInt16LittleEndian(b)),
            "|i1" => (1, static b => (sbyte)b[0]),
            "|u1" => (1, static b => b[0]),
            _ => throw new MalformedFileException(file,
                $"dtype '{FileText.Escape(header.Descr)}' is not supported; expected an integer dtype ('<i8', '<i4', '<u4', '<i2', '<u2', '|i1' or '|u1')"),
        };
        return new(LittleEndianArrays.Decode(DataBytes(bytes, header, codec.ItemSize, file), codec.ItemSize, codec.Read), header.Shape);
    }

    readonly record struct Header(string Descr, int[] Shape, int DataStart);

    static Header ParseHeader(byte[] bytes, string file)
    {
        if (bytes.Length < 8 || !bytes.AsSpan(0, Magic.Length).SequenceEqual(Magic))
            throw new MalformedFileException(file, "not a .npy file: it does not start with the magic string \\x93NUMPY and a version");
        byte major = bytes[6], minor = bytes[7];
        int lengthFieldSize = (major, minor) switch
        {
            (1, 0) => 2,
            (2, 0) or (3, 0) => 4,
            _ => throw new MalformedFileException(file, $"format version {major}.{minor} is not supported; expected 1.0, 2.0 or 3.0"),
        };
        int headerStart = 8 + lengthFieldSize;
        if (bytes.Length < headerStart)
            throw new MalformedFileException(file, $"file has {bytes.Length} bytes and ends inside the header length");
        long headerLength = lengthFieldSize == 2
            ? BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(8))
            : BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(8));
        if (headerLength > bytes.Length - headerStart)
            throw new MalformedFileException(file, $"header length {headerLength} runs past the end of the file ({bytes.Length} bytes)");

        // Versions 1.0 and 2.0 store the header in latin-1, version 3.0 in UTF-8.
        Encoding encoding = major == 3 ? Encoding.UTF8 : Encoding.Latin1;
        string text = encoding.GetString(bytes, headerStart, (int)headerLength);
        Dictionary<string, object> dict = new HeaderDictParser(text, file).Parse();

        foreach (string key in dict.Keys)
            if (key is not ("descr" or "fortran_order" or "shape"))
                throw new MalformedFileException(file, $"header has unexpected key '{FileText.Escape(key)}'");
        object descr = Required(dict, "descr", file), fortranOrder = Required(dict, "fortran_order", file), shape = Required(dict, "shape", file);
        if (descr is not string dtype)
            throw new MalformedFileException(file, "header's 'descr' is not a string; structured dtypes are not supported");
        if (fortranOrder is not bool isFortranOrder)
            throw new MalformedFileException(file, "header's 'fortran_order' is not True or False");
        if (isFortranOrder)
            throw new MalformedFileException(file, "Fortran-order arrays are not supported; save a C-contiguous array");
        if (dtype.StartsWith('>'))
            throw new MalformedFileException(file, $"dtype '{FileText.Escape(dtype)}' is big-endian; only little-endian arrays are supported");
        if (shape is not long[] dims)
            throw new MalformedFileException(file, "header's 'shape' is not a tuple of integers");
        if (dims.Any(dim => dim < 0))
            throw new MalformedFileException(file, $"shape {FormatShape(dims)} has a negative dimension");
        if (dims.Any(dim => dim > int.MaxValue))
            throw new MalformedFileException(file, $"shape {FormatShape(dims)} has a dimension larger than {int.MaxValue}");

        return new Header(dtype, dims.Select(dim => (int)dim).ToArray(), headerStart + (int)headerLength);
    }

    static object Required(Dictionary<string, object> dict, string key, string file) =>
        dict.TryGetValue(key, out object? value) ? value : throw new MalformedFileException(file, $"header has no '{key}' key");

    static ReadOnlySpan<byte> DataBytes(byte[] bytes, Header header, int itemSize, string file)
    {
        int actual = bytes.Length - header.DataStart;
        if (!TensorSizes.TryByteSize(header.Shape, itemSize, out long needed))
            throw new MalformedFileException(file, $"data has {actual} bytes but shape {FormatShape(header.Shape)} needs more than {long.MaxValue}");
        if (actual < needed)
            throw new MalformedFileException(file, $"data has {actual} bytes but shape {FormatShape(header.Shape)} needs {needed}");
        if (actual > needed)
            throw new MalformedFileException(file,
                $"data has {actual} bytes but shape {FormatShape(header.Shape)} needs only {needed}; the file has trailing bytes");
        return bytes.AsSpan(header.DataStart);
    }

    static byte[] ReadToEnd(Stream stream)
    {
        using var buffer = new MemoryStream();
        stream.CopyTo(buffer);
        return buffer.ToArray();
    }

    // Python's tuple syntax, as numpy writes shapes: (), (5,), (2, 3).
    static string FormatShape<T>(IReadOnlyList<T> shape) =>
        shape.Count == 1 ? $"({shape[0]},)" : $"({string.Join(", ", shape)})";

    /// <summary>
    /// Parses the Python dict literal of a .npy header: string keys mapped to strings, <c>True</c>/<c>False</c>
    /// (as bool) or tuples of integers (as long[]), with either quote style and optional trailing commas.
    /// </summary>
    sealed class HeaderDictParser(string text, string file)
    {
        int _position;

        public Dictionary<string, object> Parse()
        {
            var dict = new Dictionary<string, object>();
            Expect('{');
            while (!TryConsume('}'))
            {
                string key = ParseString();
                Expect(':');
                dict[key] = ParseValue();
                if (!TryConsume(','))
                {
                    Expect('}');
                    break;
                }
            }
            SkipWhitespace();
            if (_position < text.Length)
                throw Error("unexpected text after the closing '}'");
            return dict;
        }

        object ParseValue()
        {
            SkipWhitespace();
            if (TryConsumeWord("True"))
                return true;
            if (TryConsumeWord("False"))
                return false;
            return Peek() switch
            {
                '\'' or '"' => ParseString(),
                '(' => ParseTuple(),
                _ => throw Error("expected a string, True, False or a tuple"),
            };
        }

        long[] ParseTuple()
        {
            Expect('(');
            var items = new List<long>();
            while (!TryConsume(')'))
            {
                items.Add(ParseInteger());
                if (!TryConsume(','))
                {
                    Expect(')');
                    break;
                }
            }
            return items.ToArray();
        }

        long ParseInteger()
        {
            SkipWhitespace();
            int start = _position;
            if (Peek() == '-')
                _position++;
            while (char.IsAsciiDigit(Peek()))
                _position++;
            if (!long.TryParse(text.AsSpan(start, _position - start), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long value))
            {
                _position = start;
                throw Error("expected an integer");
            }
            return value;
        }

        string ParseString()
        {
            SkipWhitespace();
            char quote = Peek();
            if (quote is not ('\'' or '"'))
                throw Error("expected a quoted string");
            int end = text.IndexOf(quote, _position + 1);
            if (end < 0)
                throw Error("unterminated string");
            string value = text[(_position + 1)..end];
            _position = end + 1;
            return value;
        }

        void Expect(char c)
        {
            if (!TryConsume(c))
                throw Error($"expected '{c}'");
        }

        bool TryConsume(char c)
        {
            SkipWhitespace();
            if (Peek() != c)
                return false;
            _position++;
            return true;
        }

        bool TryConsumeWord(string word)
        {
            if (!text.AsSpan(_position).StartsWith(word))
                return false;
            _position += word.Length;
            return true;
        }

        void SkipWhitespace()
        {
            while (_position < text.Length && char.IsWhiteSpace(text[_position]))
                _position++;
        }

        // '\0' marks the end; it cannot occur in a valid header.
        char Peek() => _position < text.Length ? text[_position] : '\0';

        MalformedFileException Error(string problem) =>
            new(file, $"header {FileText.Escape(text.TrimEnd())} is not a valid Python dict literal: {problem} at position {_position}");
    }
}
