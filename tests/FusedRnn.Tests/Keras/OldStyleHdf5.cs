using System.Buffers.Binary;
using System.Text;

namespace FusedRnn.Tests.Keras;

/// <summary>
/// Writes HDF5 the way libhdf5 does by default, and so h5py and Keras 2: superblock 0 with the root's symbol table
/// entry, version 1 object headers, old-style groups (a leaf v1 B-tree over one symbol table node and a local heap),
/// contiguous float32 datasets (dataspace 1, datatype 1, layout 3), and version 1 attributes (padded to 8 bytes) holding
/// fixed-length strings, as h5py writes bytes, or a variable-length string in a global heap collection, as it writes
/// str. PureHDF writes none of these structures, so the tests need this writer to reach the reader's paths for them;
/// PureHDF reading its files back checks the writer.
/// </summary>
public static class OldStyleHdf5
{
    public abstract record Node(Dictionary<string, object> Attributes);

    public sealed record Group(Dictionary<string, Node> Members, Dictionary<string, object> Attributes) : Node(Attributes)
    {
        public Group() : this([], []) { }
    }

    public sealed record Dataset(float[] Values, int[] Shape) : Node(new Dictionary<string, object>());

    /// <summary>A string attribute written fixed-length (h5py's bytes), as opposed to a plain string (variable-length).</summary>
    public sealed record FixedStrings(string[] Values);

    private const ulong Undefined = ulong.MaxValue;

    public static byte[] Write(Group root)
    {
        var file = new List<byte>(new byte[96]);
        (ulong header, ulong tree, ulong heap) = WriteGroup(file, root);
        Span<byte> superblock = new byte[96];
        new byte[] { 0x89, (byte)'H', (byte)'D', (byte)'F', (byte)'\r', (byte)'\n', 0x1a, (byte)'\n' }.CopyTo(superblock);
        superblock[13] = 8;  // offset size
        superblock[14] = 8;  // length size
        BinaryPrimitives.WriteUInt16LittleEndian(superblock[16..], 4);   // group leaf K
        BinaryPrimitives.WriteUInt16LittleEndian(superblock[18..], 16);  // group internal K
        BinaryPrimitives.WriteUInt64LittleEndian(superblock[24..], 0);   // base address
        BinaryPrimitives.WriteUInt64LittleEndian(superblock[32..], Undefined);
        BinaryPrimitives.WriteUInt64LittleEndian(superblock[40..], (ulong)file.Count);
        BinaryPrimitives.WriteUInt64LittleEndian(superblock[48..], Undefined);
        // the root symbol table entry, cache type 1: the scratch pad names the root's B-tree and local heap
        BinaryPrimitives.WriteUInt64LittleEndian(superblock[56..], 0);
        BinaryPrimitives.WriteUInt64LittleEndian(superblock[64..], header);
        BinaryPrimitives.WriteUInt32LittleEndian(superblock[72..], 1);
        BinaryPrimitives.WriteUInt64LittleEndian(superblock[80..], tree);
        BinaryPrimitives.WriteUInt64LittleEndian(superblock[88..], heap);
        byte[] bytes = [.. file];
        superblock.CopyTo(bytes);
        return bytes;
    }

    private static ulong Append(List<byte> file, ReadOnlySpan<byte> block)
    {
        while (file.Count % 8 != 0) file.Add(0);
        ulong address = (ulong)file.Count;
        file.AddRange(block.ToArray());
        return address;
    }

    private static byte[] U16(int value) => BitConverter.GetBytes((ushort)value);

    private static byte[] U32(long value) => BitConverter.GetBytes((uint)value);

    private static byte[] U64(ulong value) => BitConverter.GetBytes(value);

    private static byte[] Padded(IEnumerable<byte> bytes)
    {
        var list = bytes.ToList();
        while (list.Count % 8 != 0) list.Add(0);
        return [.. list];
    }

    private static (ulong Header, ulong Tree, ulong Heap) WriteGroup(List<byte> file, Group group)
    {
        var names = group.Members.Keys.Order(StringComparer.Ordinal).ToList();
        var addresses = names.Select(name => group.Members[name] switch
        {
            Group child => WriteGroup(file, child).Header,
            Dataset dataset => WriteDataset(file, dataset),
            _ => throw new ArgumentException(name),
        }).ToList();

        // The local heap: "" at offset 0, then each name NUL-terminated and padded to 8.
        var heapData = new List<byte>(new byte[8]);
        var offsets = new List<ulong>();
        foreach (string name in names)
        {
            offsets.Add((ulong)heapData.Count);
            heapData.AddRange(Padded([.. Encoding.UTF8.GetBytes(name), 0]));
        }

        ulong heapDataAddress = Append(file, heapData.ToArray());
        ulong heap = Append(file, [.. "HEAP"u8, 0, 0, 0, 0, .. U64((ulong)heapData.Count), .. U64(Undefined), .. U64(heapDataAddress)]);

        var node = new List<byte>([.. "SNOD"u8, 1, 0, .. U16(names.Count)]);
        for (int i = 0; i < names.Count; i++) node.AddRange([.. U64(offsets[i]), .. U64(addresses[i]), .. U32(0), .. U32(0), .. new byte[16]]);
        ulong symbolNode = Append(file, node.ToArray());
        ulong tree = Append(file,
            [.. "TREE"u8, 0, 0, .. U16(1), .. U64(Undefined), .. U64(Undefined), .. U64(0), .. U64(symbolNode), .. U64(offsets.Count > 0 ? offsets[^1] : 0)]);

        var messages = new List<(ushort Type, byte[] Body)> { (0x11, [.. U64(tree), .. U64(heap)]) };
        messages.AddRange(Attributes(file, group.Attributes));
        return (Header(file, messages), tree, heap);
    }

    private static ulong WriteDataset(List<byte> file, Dataset dataset)
    {
        byte[] data = new byte[dataset.Values.Length * 4];
        Buffer.BlockCopy(dataset.Values, 0, data, 0, data.Length);
        ulong dataAddress = Append(file, data);
        var messages = new List<(ushort, byte[])>
        {
            (0x01, Dataspace(dataset.Shape)),
            (0x03, Float32Type()),
            (0x08, [3, 1, .. U64(dataAddress), .. U64((ulong)data.Length)]),
        };
        return Header(file, messages);
    }

    private static byte[] Dataspace(int[] shape) =>
        [1, (byte)shape.Length, 0, 0, 0, 0, 0, 0, .. shape.SelectMany(dimension => U64((ulong)dimension))];

    /// <summary>IEEE float32, little-endian: class 1 version 1, sign at bit 31, exponent 23+8 biased 127, mantissa 0+23.</summary>
    private static byte[] Float32Type() => [0x11, 0x20, 31, 0, .. U32(4), .. U16(0), .. U16(32), 23, 8, 0, 23, .. U32(127)];

    private static IEnumerable<(ushort, byte[])> Attributes(List<byte> file, Dictionary<string, object> attributes)
    {
        foreach ((string name, object value) in attributes)
        {
            byte[] type, space, data;
            switch (value)
            {
                case FixedStrings strings:
                    int size = Math.Max(1, strings.Values.Max(text => Encoding.UTF8.GetByteCount(text)));
                    type = [0x13, 0x01, 0, 0, .. U32(size)];  // string, null-padded, ASCII
                    space = Dataspace([strings.Values.Length]);
                    data = [.. strings.Values.SelectMany(text => { var bytes = new byte[size]; Encoding.UTF8.GetBytes(text, bytes); return bytes; })];
                    break;
                case string text:
                    byte[] utf8 = Encoding.UTF8.GetBytes(text);
                    // A global heap collection holding the one string (object 1), then the free-space object 0.
                    // libhdf5 makes every collection at least 4096 bytes (and PureHDF insists on it).
                    byte[] heapObject = [.. U16(1), .. U16(1), .. U32(0), .. U64((ulong)utf8.Length), .. Padded(utf8)];
                    const int collectionSize = 4096;
                    int free = collectionSize - 16 - heapObject.Length;
                    byte[] collectionBytes = new byte[collectionSize];
                    byte[] head = [.. "GCOL"u8, 1, 0, 0, 0, .. U64(collectionSize), .. heapObject, .. U16(0), .. U16(0), .. U32(0), .. U64((ulong)free)];
                    head.CopyTo(collectionBytes, 0);
                    ulong collection = Append(file, collectionBytes);
                    // variable-length string (type 1, UTF-8) of 1-byte characters
                    type = [0x19, 0x01, 0x01, 0, .. U32(16), 0x10, 0, 0, 0, .. U32(1), .. U16(0), .. U16(8)];
                    space = [1, 0, 0, 0, 0, 0, 0, 0];  // scalar
                    data = [.. U32(utf8.Length), .. U64(collection), .. U32(1)];
                    break;
                default:
                    throw new ArgumentException($"attribute {name}: {value.GetType()}");
            }

            byte[] nameBytes = [.. Encoding.UTF8.GetBytes(name), 0];
            yield return (0x0C, [1, 0, .. U16(nameBytes.Length), .. U16(type.Length), .. U16(space.Length), .. Padded(nameBytes), .. Padded(type), .. Padded(space), .. data]);
        }
    }

    private static ulong Header(List<byte> file, List<(ushort Type, byte[] Body)> messages)
    {
        var body = new List<byte>();
        foreach ((ushort type, byte[] message) in messages)
        {
            byte[] padded = Padded(message);
            body.AddRange([.. U16(type), .. U16(padded.Length), 0, 0, 0, 0, .. padded]);
        }

        return Append(file, [1, 0, .. U16(messages.Count), .. U32(1), .. U32(body.Count), 0, 0, 0, 0, .. body]);
    }
}
