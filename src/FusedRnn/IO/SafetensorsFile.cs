using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Unicode;

namespace FusedRnn.IO;

/// <summary>
/// A safetensors file held in memory: an 8-byte little-endian header length, a JSON header naming every tensor's
/// dtype, shape and byte range, then the data section. Everything is validated when the file is parsed, so the
/// read methods fail only when a tensor is missing or has a dtype of the wrong kind.
/// </summary>
public sealed class SafetensorsFile
{
    const string MetadataKey = "__metadata__";

    // Bytes per element of every dtype the reference implementation writes with a whole number of bytes.
    static readonly Dictionary<string, int> DTypeSizes = new()
    {
        ["BOOL"] = 1, ["U8"] = 1, ["I8"] = 1, ["F8_E5M2"] = 1, ["F8_E4M3"] = 1,
        ["U16"] = 2, ["I16"] = 2, ["F16"] = 2, ["BF16"] = 2,
        ["U32"] = 4, ["I32"] = 4, ["F32"] = 4,
        ["U64"] = 8, ["I64"] = 8, ["F64"] = 8,
    };

    readonly byte[] _bytes;
    readonly int _dataStart;
    readonly Dictionary<string, SafetensorsTensorInfo> _tensors;

    SafetensorsFile(string filePath, byte[] bytes, int dataStart, Dictionary<string, string> metadata,
        IReadOnlyList<SafetensorsTensorInfo> tensorsInOffsetOrder)
    {
        FilePath = filePath;
        _bytes = bytes;
        _dataStart = dataStart;
        Metadata = metadata;
        TensorNames = tensorsInOffsetOrder.Select(t => t.Name).ToArray();
        _tensors = tensorsInOffsetOrder.ToDictionary(t => t.Name);
    }

    /// <summary>Reads and validates the whole file at <paramref name="path"/>.</summary>
    /// <exception cref="MalformedFileException">The file is not a valid safetensors file.</exception>
    public static SafetensorsFile Load(string path) => Parse(File.ReadAllBytes(path), path);

    /// <summary>Validates a safetensors file already in memory, e.g. an embedded resource.</summary>
    /// <param name="bytes">The whole file; it is kept, not copied.</param>
    /// <param name="displayName">The name error messages and <see cref="FilePath"/> use.</param>
    /// <exception cref="MalformedFileException">The bytes are not a valid safetensors file.</exception>
    public static SafetensorsFile Parse(byte[] bytes, string displayName)
    {
        if (bytes.Length < 8)
            throw new MalformedFileException(displayName, $"file has {bytes.Length} bytes, too few for the 8-byte header length");
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        if (headerLength > (ulong)(bytes.Length - 8))
            throw new MalformedFileException(displayName, $"header length {headerLength} runs past the end of the file ({bytes.Length} bytes)");
        int dataStart = 8 + (int)headerLength;
        long dataLength = bytes.Length - dataStart;

        // JsonDocument checks the UTF-8 of strings only when they are read, so check it up front.
        if (!Utf8.IsValid(bytes.AsSpan(8, (int)headerLength)))
            throw new MalformedFileException(displayName, "header is not valid UTF-8");
        JsonDocument header;
        try
        {
            header = JsonDocument.Parse(bytes.AsMemory(8, (int)headerLength));
        }
        catch (JsonException e)
        {
            throw new MalformedFileException(displayName, $"header is not valid JSON: {FileText.Escape(e.Message)}", e);
        }

        using (header)
        {
            CheckEscapedStrings(bytes.AsSpan(8, (int)headerLength), displayName);
            JsonElement root = header.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw new MalformedFileException(displayName, $"header is a JSON {KindName(root.ValueKind)}, expected an object");

            var metadata = new Dictionary<string, string>();
            var tensors = new List<SafetensorsTensorInfo>();
            var names = new HashSet<string>();
            foreach (JsonProperty entry in root.EnumerateObject())
            {
                if (!names.Add(entry.Name))
                    throw new MalformedFileException(displayName, $"header has two entries named '{FileText.Escape(entry.Name)}'");
                if (entry.Name == MetadataKey)
                    ReadMetadata(entry.Value, metadata, displayName);
                else
                    tensors.Add(ReadTensorInfo(entry.Name, entry.Value, dataLength, displayName));
            }

            var inOffsetOrder = tensors.OrderBy(t => t.ByteOffset).ThenBy(t => t.ByteLength).ToArray();
            CheckTensorsTileDataSection(inOffsetOrder, dataLength, displayName);
            return new SafetensorsFile(displayName, bytes, dataStart, metadata, inOffsetOrder);
        }
    }

    /// <summary>The path the file was loaded from, or the display name it was parsed under.</summary>
    public string FilePath { get; }

    /// <summary>The header's <c>__metadata__</c> string pairs; empty if the file has none.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>The tensors' names, in the order their data lies in the file.</summary>
    public IReadOnlyList<string> TensorNames { get; }

    /// <summary>Whether the file has a tensor named <paramref name="name"/>.</summary>
    public bool Contains(string name) => _tensors.ContainsKey(name);

    /// <summary>The dtype, shape and byte range of tensor <paramref name="name"/>.</summary>
    /// <exception cref="KeyNotFoundException">The file has no such tensor.</exception>
    public SafetensorsTensorInfo GetInfo(string name) =>
        _tensors.TryGetValue(name, out SafetensorsTensorInfo? info)
            ? info
            : throw new KeyNotFoundException($"{FilePath} has no tensor named '{FileText.Escape(name)}'");

    /// <summary>
    /// The elements of tensor <paramref name="name"/> in row-major order; F64, F16 and BF16 are converted to float32.
    /// </summary>
    /// <exception cref="KeyNotFoundException">The file has no such tensor.</exception>
    /// <exception cref="MalformedFileException">The tensor's dtype is not F32, F64, F16 or BF16.</exception>
    public float[] ReadFloat32(string name)
    {
        SafetensorsTensorInfo info = GetInfo(name);
        ReadOnlySpan<byte> raw = RawBytes(info);
        return info.DType switch
        {
            "F32" => LittleEndianArrays.Float32(raw),
            "F64" => LittleEndianArrays.Decode(raw, 8, static b => (float)BinaryPrimitives.ReadDoubleLittleEndian(b)),
            "F16" => LittleEndianArrays.Decode(raw, 2, static b => (float)BinaryPrimitives.ReadHalfLittleEndian(b)),
            // bfloat16 is the upper half of a float32.
            "BF16" => LittleEndianArrays.Decode(raw, 2, static b => BitConverter.Int32BitsToSingle(BinaryPrimitives.ReadUInt16LittleEndian(b) << 16)),
            _ => throw new MalformedFileException(FilePath,
                $"tensor '{FileText.Escape(name)}' has dtype {info.DType}, expected a floating-point dtype (F32, F64, F16 or BF16)"),
        };
    }

    /// <summary>
    /// The elements of integer tensor <paramref name="name"/> in row-major order, widened to 64 bits. I64, I32, I16, I8,
    /// U32, U16, U8 and BOOL are accepted.
    /// </summary>
    /// <exception cref="KeyNotFoundException">The file has no such tensor.</exception>
    /// <exception cref="MalformedFileException">The tensor's dtype is not one of those above.</exception>
    public long[] ReadInt64(string name)
    {
        SafetensorsTensorInfo info = GetInfo(name);
        ReadOnlySpan<byte> raw = RawBytes(info);
        return info.DType switch
        {
            "I64" => LittleEndianArrays.Decode(raw, 8, static b => BinaryPrimitives.ReadInt64LittleEndian(b)),
            "I32" => LittleEndianArrays.Decode(raw, 4, static b => (long)BinaryPrimitives.ReadInt32LittleEndian(b)),
            "U32" => LittleEndianArrays.Decode(raw, 4, static b => (long)BinaryPrimitives.ReadUInt32LittleEndian(b)),
            "I16" => LittleEndianArrays.Decode(raw, 2, static b => (long)BinaryPrimitives.ReadInt16LittleEndian(b)),
            "U16" => LittleEndianArrays.Decode(raw, 2, static b => (long)BinaryPrimitives.ReadUInt16LittleEndian(b)),
            "I8" => LittleEndianArrays.Decode(raw, 1, static b => (long)(sbyte)b[0]),
            "U8" or "BOOL" => LittleEndianArrays.Decode(raw, 1, static b => (long)b[0]),
            _ => throw new MalformedFileException(FilePath,
                $"tensor '{FileText.Escape(name)}' has dtype {info.DType}, expected an integer dtype (I64, I32, U32, I16, U16, I8, U8 or BOOL)"),
        };
    }

    // Parse checked that every tensor lies inside the file, which is an array: these fit in an int.
    ReadOnlySpan<byte> RawBytes(SafetensorsTensorInfo info) =>
        _bytes.AsSpan(checked(_dataStart + (int)info.ByteOffset), checked((int)info.ByteLength));

    /// <summary>
    /// JsonDocument decodes a string's escapes only when the string is read, and a <c>\u</c> escape of an unpaired
    /// surrogate then throws InvalidOperationException, from any lookup that passes the string. Read every escaped
    /// string once here, so that such a header is a malformed file.
    /// </summary>
    static void CheckEscapedStrings(ReadOnlySpan<byte> json, string file)
    {
        var reader = new Utf8JsonReader(json);
        while (reader.Read())
        {
            if (reader.TokenType is not (JsonTokenType.PropertyName or JsonTokenType.String) || !reader.ValueIsEscaped)
                continue;
            try
            {
                _ = reader.GetString();
            }
            catch (InvalidOperationException e)
            {
                throw new MalformedFileException(file,
                    $"header has a string with an invalid escape at byte {reader.TokenStartIndex} of the header: {FileText.Escape(e.Message)}", e);
            }
        }
    }

    static void ReadMetadata(JsonElement value, Dictionary<string, string> metadata, string file)
    {
        if (value.ValueKind != JsonValueKind.Object)
            throw new MalformedFileException(file, $"'{MetadataKey}' is a JSON {KindName(value.ValueKind)}, expected an object of strings");
        foreach (JsonProperty pair in value.EnumerateObject())
        {
            if (pair.Value.ValueKind != JsonValueKind.String)
                throw new MalformedFileException(file,
                    $"'{MetadataKey}' entry '{FileText.Escape(pair.Name)}' is a JSON {KindName(pair.Value.ValueKind)}, expected a string");
            if (!metadata.TryAdd(pair.Name, pair.Value.GetString()!))
                throw new MalformedFileException(file, $"'{MetadataKey}' has two entries named '{FileText.Escape(pair.Name)}'");
        }
    }

    static SafetensorsTensorInfo ReadTensorInfo(string name, JsonElement entry, long dataLength, string file)
    {
        string shown = FileText.Escape(name);
        if (entry.ValueKind != JsonValueKind.Object)
            throw new MalformedFileException(file,
                $"tensor '{shown}' is a JSON {KindName(entry.ValueKind)}, expected an object with dtype, shape and data_offsets");

        string dtype = Field(entry, "dtype", JsonValueKind.String, shown, file).GetString()!;
        if (!DTypeSizes.TryGetValue(dtype, out int itemSize))
            throw new MalformedFileException(file, $"tensor '{shown}' has unknown dtype '{FileText.Escape(dtype)}'");

        var shape = new List<int>();
        foreach (JsonElement dim in Field(entry, "shape", JsonValueKind.Array, shown, file).EnumerateArray())
        {
            if (dim.ValueKind != JsonValueKind.Number || !dim.TryGetInt64(out long size))
                throw new MalformedFileException(file, $"tensor '{shown}' has shape entry {FileText.Escape(dim.GetRawText())}, expected an integer");
            if (size < 0)
                throw new MalformedFileException(file, $"tensor '{shown}' has negative dimension {size} in its shape");
            if (size > int.MaxValue)
                throw new MalformedFileException(file, $"tensor '{shown}' has dimension {size}, more than {int.MaxValue}");
            shape.Add((int)size);
        }

        JsonElement offsets = Field(entry, "data_offsets", JsonValueKind.Array, shown, file);
        if (offsets.GetArrayLength() != 2 || !TryGetOffset(offsets[0], out long begin) || !TryGetOffset(offsets[1], out long end))
            throw new MalformedFileException(file,
                $"tensor '{shown}' has data_offsets {FileText.Escape(offsets.GetRawText())}, expected [begin, end] with non-negative integers");
        if (begin > end)
            throw new MalformedFileException(file, $"tensor '{shown}' has data_offsets [{begin}, {end}]: begin is after end");
        if (end > dataLength)
            throw new MalformedFileException(file,
                $"tensor '{shown}' has data_offsets [{begin}, {end}], past the end of the data section ({dataLength} bytes)");

        if (!TensorSizes.TryByteSize(shape, itemSize, out long neededBytes) || neededBytes != end - begin)
            throw new MalformedFileException(file,
                $"tensor '{shown}' has {end - begin} bytes (data_offsets [{begin}, {end}]) but shape [{string.Join(", ", shape)}] of {dtype} needs " +
                (neededBytes >= 0 ? $"{neededBytes}" : $"more than {long.MaxValue}"));

        return new SafetensorsTensorInfo(name, dtype, shape.ToArray(), begin, end - begin);
    }

    /// <summary>The value of <paramref name="key"/> in a tensor's entry, which must occur once and be of <paramref name="kind"/>.</summary>
    static JsonElement Field(JsonElement entry, string key, JsonValueKind kind, string shownTensor, string file)
    {
        JsonElement value = default;
        int count = 0;
        foreach (JsonProperty property in entry.EnumerateObject())
        {
            if (property.NameEquals(key))
            {
                value = property.Value;
                count++;
            }
        }
        if (count == 0)
            throw new MalformedFileException(file, $"tensor '{shownTensor}' has no '{key}'");
        if (count > 1)
            throw new MalformedFileException(file, $"tensor '{shownTensor}' has {count} '{key}' entries, so which one applies is ambiguous");
        if (value.ValueKind != kind)
            throw new MalformedFileException(file,
                $"tensor '{shownTensor}' has '{key}' of JSON type {KindName(value.ValueKind)}, expected {KindName(kind)}");
        return value;
    }

    static bool TryGetOffset(JsonElement value, out long offset)
    {
        offset = 0;
        return value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out offset) && offset >= 0;
    }

    // Like the reference implementation, require the tensors to cover the data section exactly: no byte belongs to
    // two tensors or to none.
    static void CheckTensorsTileDataSection(SafetensorsTensorInfo[] inOffsetOrder, long dataLength, string file)
    {
        long covered = 0;
        SafetensorsTensorInfo? previous = null;
        foreach (SafetensorsTensorInfo tensor in inOffsetOrder)
        {
            if (tensor.ByteOffset < covered)
                throw new MalformedFileException(file,
                    $"tensors '{FileText.Escape(previous!.Name)}' and '{FileText.Escape(tensor.Name)}' overlap: bytes [{previous.ByteOffset}, {covered}) and [{tensor.ByteOffset}, {tensor.ByteOffset + tensor.ByteLength})");
            if (tensor.ByteOffset > covered)
                throw new MalformedFileException(file, $"bytes [{covered}, {tensor.ByteOffset}) of the data section belong to no tensor");
            covered = tensor.ByteOffset + tensor.ByteLength;
            previous = tensor;
        }
        if (covered != dataLength)
            throw new MalformedFileException(file, $"bytes [{covered}, {dataLength}) of the data section belong to no tensor");
    }

    static string KindName(JsonValueKind kind) => kind switch
    {
        JsonValueKind.True or JsonValueKind.False => "boolean",
        _ => kind.ToString().ToLowerInvariant(),
    };
}

/// <summary>Where one tensor lies in a safetensors file and what it holds.</summary>
/// <param name="Name">The tensor's name in the header.</param>
/// <param name="DType">The dtype as the header spells it: <c>F32</c>, <c>F16</c>, <c>BF16</c>, <c>I64</c>, ...</param>
/// <param name="Shape">The dimensions, outermost first; empty for a scalar.</param>
/// <param name="ByteOffset">Where the data starts, counted from the start of the data section (after the header).</param>
/// <param name="ByteLength">The data's length in bytes.</param>
public sealed record SafetensorsTensorInfo(string Name, string DType, int[] Shape, long ByteOffset, long ByteLength)
{
    /// <summary>The number of elements: the product of <see cref="Shape"/>, 1 for a scalar, 0 when any dimension is 0.</summary>
    /// <exception cref="OverflowException">The product exceeds <see cref="long.MaxValue"/> (never for a parsed file's tensor).</exception>
    public long ElementCount => Shape.Contains(0) ? 0 : Shape.Aggregate(1L, (count, dim) => checked(count * dim));
}

/// <summary>Writes float32 tensors in the safetensors format.</summary>
public static class SafetensorsWriter
{
    /// <summary>Writes <paramref name="tensors"/> to a safetensors file at <paramref name="path"/>.</summary>
    /// <inheritdoc cref="ToBytes"/>
    public static void Write(string path, IEnumerable<KeyValuePair<string, (int[] Shape, float[] Data)>> tensors,
        IReadOnlyDictionary<string, string>? metadata = null) =>
        File.WriteAllBytes(path, ToBytes(tensors, metadata));

    /// <summary>
    /// Encodes <paramref name="tensors"/> as a safetensors file: F32 data in the given order, the header padded with
    /// spaces to a multiple of 8 bytes as the reference implementation does.
    /// </summary>
    /// <param name="tensors">Name, shape and row-major data of each tensor, in the order to store them.</param>
    /// <param name="metadata">The <c>__metadata__</c> string pairs, or null to write none.</param>
    /// <exception cref="ArgumentException">A shape has a negative dimension or does not match its data's length, or a name repeats.</exception>
    public static byte[] ToBytes(IEnumerable<KeyValuePair<string, (int[] Shape, float[] Data)>> tensors,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        var entries = tensors.ToArray();
        var names = new HashSet<string> { "__metadata__" };
        using var header = new MemoryStream();
        using (var json = new Utf8JsonWriter(header))
        {
            json.WriteStartObject();
            if (metadata is not null)
            {
                json.WriteStartObject("__metadata__");
                foreach (var (key, value) in metadata)
                    json.WriteString(key, value);
                json.WriteEndObject();
            }

            long offset = 0;
            foreach (var (name, (shape, data)) in entries)
            {
                if (!names.Add(name))
                    throw new ArgumentException($"tensor name '{name}' is used twice or is reserved", nameof(tensors));
                if (shape.Any(dim => dim < 0))
                    throw new ArgumentException($"tensor '{name}' has a negative dimension in shape [{string.Join(", ", shape)}]", nameof(tensors));
                if (!TensorSizes.TryByteSize(shape, 1, out long count) || count != data.Length)
                    throw new ArgumentException(
                        $"tensor '{name}' has shape [{string.Join(", ", shape)}] but {data.Length} elements", nameof(tensors));

                json.WriteStartObject(name);
                json.WriteString("dtype", "F32");
                json.WriteStartArray("shape");
                foreach (int dim in shape)
                    json.WriteNumberValue(dim);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset += 4L * data.Length);
                json.WriteEndArray();
                json.WriteEndObject();
            }
            json.WriteEndObject();
        }

        int paddedHeaderLength = (int)(header.Length + 7) / 8 * 8;
        var bytes = new byte[8 + paddedHeaderLength + entries.Sum(e => 4L * e.Value.Data.Length)];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)paddedHeaderLength);
        header.GetBuffer().AsSpan(0, (int)header.Length).CopyTo(bytes.AsSpan(8));
        bytes.AsSpan(8 + (int)header.Length, paddedHeaderLength - (int)header.Length).Fill((byte)' ');
        int position = 8 + paddedHeaderLength;
        foreach (var (_, (_, data)) in entries)
        {
            // The format is little-endian, as is every platform .NET runs on.
            MemoryMarshal.AsBytes(data.AsSpan()).CopyTo(bytes.AsSpan(position));
            position += 4 * data.Length;
        }
        return bytes;
    }
}

/// <summary>Sizes of tensors, for the file readers and writers.</summary>
static class TensorSizes
{
    /// <summary>
    /// The bytes a tensor of <paramref name="shape"/> takes (its element count for an <paramref name="itemSize"/> of 1),
    /// in overflow-checked 64-bit arithmetic; false, and -1, when that is more than <see cref="long.MaxValue"/>. Any zero
    /// dimension makes it 0 whatever the others are, as a checked running product would not.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">A dimension is negative; callers reject those first.</exception>
    public static bool TryByteSize(IEnumerable<int> shape, int itemSize, out long bytes)
    {
        bytes = 0;
        foreach (int dim in shape)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(dim, nameof(shape));
            if (dim == 0)
                return true;
        }
        long product = itemSize;
        foreach (int dim in shape)
        {
            if (product > long.MaxValue / dim)
            {
                bytes = -1;
                return false;
            }
            product = checked(product * dim);
        }
        bytes = product;
        return true;
    }
}

/// <summary>Decodes little-endian element arrays for the file readers.</summary>
static class LittleEndianArrays
{
    /// <summary>Copies float32 elements; both file formats are little-endian, as is every platform .NET runs on.</summary>
    public static float[] Float32(ReadOnlySpan<byte> raw)
    {
        var values = new float[raw.Length / 4];
        raw.CopyTo(MemoryMarshal.AsBytes(values.AsSpan()));
        return values;
    }

    /// <summary>Decodes each <paramref name="itemSize"/>-byte element of <paramref name="raw"/> with <paramref name="read"/>.</summary>
    public static T[] Decode<T>(ReadOnlySpan<byte> raw, int itemSize, Func<ReadOnlySpan<byte>, T> read)
    {
        var values = new T[raw.Length / itemSize];
        for (int i = 0; i < values.Length; i++)
            values[i] = read(raw.Slice(i * itemSize, itemSize));
        return values;
    }
}
