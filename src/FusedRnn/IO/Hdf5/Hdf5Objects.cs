namespace FusedRnn.IO.Hdf5;

/// <summary>One header message: its type, flags and body.</summary>
internal readonly record struct Hdf5Message(ushort Type, byte Flags, Hdf5Reader Body)
{
    public const ushort Dataspace = 0x01, LinkInfo = 0x02, Datatype = 0x03, Link = 0x06, Layout = 0x08, FilterPipeline = 0x0B,
        Attribute = 0x0C, Continuation = 0x10, SymbolTable = 0x11, AttributeInfo = 0x15;

    /// <summary>Whether the message is stored elsewhere and shared (not read).</summary>
    public bool IsShared => (Flags & 0x02) != 0;
}

/// <summary>An object header's messages, gathered over its continuation blocks (each visited once).</summary>
internal sealed class Hdf5ObjectHeader
{
    /// <summary>More messages than any object of a Keras file has; a bound on what a damaged header can make the reader gather.</summary>
    private const int MaxMessages = 1 << 16;

    private Hdf5ObjectHeader(List<Hdf5Message> messages) => Messages = messages;

    public IReadOnlyList<Hdf5Message> Messages { get; }

    public IEnumerable<Hdf5Message> OfType(ushort type) => Messages.Where(message => message.Type == type);

    public static Hdf5ObjectHeader Read(Hdf5File file, ulong address, string path)
    {
        var messages = new List<Hdf5Message>();
        var visited = new HashSet<ulong>();
        Hdf5Reader prefix = file.From(address, $"the object header of {path}");
        var blocks = new Queue<(ulong Address, ulong Length)>();
        bool version2 = prefix.Remaining >= 4 && prefix.Sub(4, "signature").Bytes(4).SequenceEqual("OHDR"u8);
        if (version2)
        {
            prefix.Skip(4);
            byte version = prefix.Byte();
            if (version != 2) throw new Hdf5FormatException($"the object header of {path} has version {version}, not 2");
            byte flags = prefix.Byte();
            if ((flags & 0x20) != 0) prefix.Skip(16);  // access, modification, change and birth times
            if ((flags & 0x10) != 0) prefix.Skip(4);  // attribute storage phase change values
            ulong chunkSize = prefix.Sized(1 << (flags & 0x03));
            Gather(prefix.Sub((long)Math.Min(chunkSize, (ulong)prefix.Remaining + 1), "its first chunk"), version2: true, (flags & 0x04) != 0, messages, blocks, path);
            while (blocks.TryDequeue(out var block))
            {
                if (!visited.Add(block.Address)) throw new Hdf5FormatException($"the object header of {path} continues into a block it already read");
                Hdf5Reader chunk = file.At(block.Address, block.Length, $"a continuation block of {path}");
                if (block.Length < 8 || !chunk.Bytes(4).SequenceEqual("OCHK"u8))
                    throw new Hdf5FormatException($"a continuation block of {path} lacks its OCHK signature");
                Gather(chunk.Sub(chunk.Remaining - 4, "its messages"), version2: true, (flags & 0x04) != 0, messages, blocks, path);
            }
        }
        else
        {
            byte version = prefix.Byte();
            if (version != 1) throw new Hdf5FormatException($"the object header of {path} has version {version}, neither 1 nor an OHDR signature");
            prefix.Skip(1 + 2 + 4);  // reserved, message count, reference count
            uint size = prefix.UInt32();
            prefix.Skip(4);  // padding to the 8-byte-aligned first message
            Gather(prefix.Sub(size, "its messages"), version2: false, false, messages, blocks, path);
            while (blocks.TryDequeue(out var block))
            {
                if (!visited.Add(block.Address)) throw new Hdf5FormatException($"the object header of {path} continues into a block it already read");
                Gather(file.At(block.Address, block.Length, $"a continuation block of {path}"), version2: false, false, messages, blocks, path);
            }
        }

        return new Hdf5ObjectHeader(messages);
    }

    private static void Gather(Hdf5Reader block, bool version2, bool creationOrder, List<Hdf5Message> messages, Queue<(ulong, ulong)> continuations, string path)
    {
        int headerSize = version2 ? 4 + (creationOrder ? 2 : 0) : 8;
        while (block.Remaining >= headerSize)
        {
            ushort type = version2 ? block.Byte() : block.UInt16();
            ushort size = block.UInt16();
            byte flags = block.Byte();
            block.Skip(version2 ? (creationOrder ? 2 : 0) : 3);
            Hdf5Reader body = block.Sub(size, $"message {type}");
            block.Skip(size);
            if (messages.Count >= MaxMessages) throw new Hdf5FormatException($"the object header of {path} has more than {MaxMessages} messages");
            if (type == Hdf5Message.Continuation)
            {
                ulong address = body.Offset(), length = body.Length();
                continuations.Enqueue((address, length));
            }
            else
            {
                messages.Add(new Hdf5Message(type, flags, body));
            }
        }
    }

    /// <summary>The one message of a type the object must have.</summary>
    public Hdf5Message Required(ushort type, string what, string path)
    {
        Hdf5Message[] found = [.. OfType(type)];
        if (found.Length != 1) throw new Hdf5FormatException($"{path} has {found.Length} {what} messages, not one");
        if (found[0].IsShared) throw new Hdf5FormatException($"{path} shares its {what} message with other objects, which this reader does not read", unsupported: true);
        return found[0];
    }
}

/// <summary>An element type: its class, its size, and for a variable-length string its base.</summary>
internal sealed record Hdf5Type(int Class, uint Size, bool LittleEndian, bool VariableLengthString)
{
    public const int FixedPoint = 0, FloatingPoint = 1, String = 3, VariableLength = 9;

    public override string ToString() => Class switch
    {
        FloatingPoint => $"float{Size * 8}",
        FixedPoint => $"integer of {Size} bytes",
        String => $"fixed-length string of {Size} bytes",
        VariableLength => VariableLengthString ? "variable-length string" : "variable-length sequence",
        _ => $"HDF5 type class {Class}",
    };

    public static Hdf5Type Read(Hdf5Reader reader, string path, int depth = 0)
    {
        byte classAndVersion = reader.Byte();
        int typeClass = classAndVersion & 0x0F;
        byte bits0 = reader.Byte();
        reader.Skip(2);
        uint size = reader.UInt32();
        bool variableString = false;
        if (typeClass == VariableLength)
        {
            variableString = (bits0 & 0x0F) == 1;
            if (depth > 0) throw new Hdf5FormatException($"{path}: a variable-length type inside another one");
            Read(reader, path, depth + 1);  // the base type, a character for a string
        }

        return new Hdf5Type(typeClass, size, (bits0 & 0x01) == 0, variableString);
    }
}

/// <summary>A dataspace: its dimensions (none for a scalar; null for the null dataspace).</summary>
internal static class Hdf5Dataspace
{
    public static ulong[]? Read(Hdf5Reader reader, string path)
    {
        byte version = reader.Byte();
        int rank = reader.Byte();
        byte flags = reader.Byte();
        if (version == 1)
        {
            reader.Skip(5);
        }
        else if (version == 2)
        {
            byte type = reader.Byte();
            if (type == 2) return null;
        }
        else
        {
            throw new Hdf5FormatException($"{path}: dataspace version {version} (1 and 2 are read)");
        }

        if (rank > 32) throw new Hdf5FormatException($"{path}: a dataspace of rank {rank} (HDF5 allows 32)");
        var dimensions = new ulong[rank];
        for (int i = 0; i < rank; i++) dimensions[i] = reader.Length();
        return dimensions;
    }

    /// <summary>The element count, or null when it overflows 64 bits.</summary>
    public static ulong? Count(ulong[] dimensions)
    {
        ulong count = 1;
        foreach (ulong dimension in dimensions)
        {
            if (dimension != 0 && count > ulong.MaxValue / dimension) return null;
            count *= dimension;
        }

        return count;
    }
}

/// <summary>An object in a group: a group or a dataset, with its attributes.</summary>
internal abstract class Hdf5Object
{
    private protected Hdf5Object(Hdf5File file, string path, Hdf5ObjectHeader header)
    {
        File = file;
        Path = path;
        Header = header;
    }

    protected Hdf5File File { get; }

    public string Path { get; }

    internal Hdf5ObjectHeader Header { get; }

    /// <summary>The attributes stored in the header (dense attribute storage is refused).</summary>
    public IReadOnlyDictionary<string, Hdf5Attribute> Attributes => _attributes ??= ReadAttributes();

    private Dictionary<string, Hdf5Attribute>? _attributes;

    /// <summary>
    /// Refuses an attribute or link info message (version, flags, an optional maximum creation index, then the
    /// fractal heap's address) whose fractal heap is defined: the members are in dense storage, not in the header.
    /// </summary>
    private protected void RejectDenseStorage(ushort infoMessage, int maxCreationIndexBytes, string members)
    {
        foreach (Hdf5Message info in Header.OfType(infoMessage))
        {
            Hdf5Reader body = info.Body;
            body.Skip(1);
            byte flags = body.Byte();
            if ((flags & 0x01) != 0) body.Skip(maxCreationIndexBytes);
            if (!File.IsUndefined(body.Offset()))
                throw new Hdf5FormatException($"{Path} keeps its {members} in dense storage (a fractal heap), which this reader does not read", unsupported: true);
        }
    }

    private Dictionary<string, Hdf5Attribute> ReadAttributes()
    {
        RejectDenseStorage(Hdf5Message.AttributeInfo, maxCreationIndexBytes: 2, "attributes");
        var attributes = new Dictionary<string, Hdf5Attribute>(StringComparer.Ordinal);
        foreach (Hdf5Message message in Header.OfType(Hdf5Message.Attribute))
        {
            Hdf5Attribute attribute = Hdf5Attribute.Read(File, message.Body, Path);
            attributes[attribute.Name] = attribute;
        }

        return attributes;
    }
}

/// <summary>An attribute: name, type, dimensions and raw value.</summary>
internal sealed class Hdf5Attribute
{
    private readonly Hdf5File _file;
    private readonly byte[] _data;

    private Hdf5Attribute(Hdf5File file, string name, Hdf5Type type, ulong[] dimensions, byte[] data, string path)
    {
        _file = file;
        Name = name;
        Type = type;
        Dimensions = dimensions;
        _data = data;
        Path = path;
    }

    public string Name { get; }

    public Hdf5Type Type { get; }

    public ulong[] Dimensions { get; }

    private string Path { get; }

    public static Hdf5Attribute Read(Hdf5File file, Hdf5Reader body, string path)
    {
        int origin = body.Position;
        byte version = body.Byte();
        if (version is < 1 or > 3) throw new Hdf5FormatException($"{path}: attribute message version {version} (1 to 3 are read)");
        byte flags = body.Byte();
        if (version >= 2 && (flags & 0x03) != 0) throw new Hdf5FormatException($"{path}: an attribute with a shared type or dataspace, which this reader does not read", unsupported: true);
        ushort nameSize = body.UInt16(), typeSize = body.UInt16(), spaceSize = body.UInt16();
        if (version == 3) body.Skip(1);  // name encoding
        string name = body.Sub(nameSize, "attribute name").NulTerminated();
        body.Skip(nameSize);
        if (version == 1) body.Align8(origin);
        Hdf5Type type = Hdf5Type.Read(body.Sub(typeSize, "attribute type"), $"{path}@{name}");
        body.Skip(typeSize);
        if (version == 1) body.Align8(origin);
        ulong[] dimensions = Hdf5Dataspace.Read(body.Sub(spaceSize, "attribute dataspace"), $"{path}@{name}") ?? [0];
        body.Skip(spaceSize);
        if (version == 1) body.Align8(origin);
        ulong count = Hdf5Dataspace.Count(dimensions) ?? ulong.MaxValue;
        ulong elementSize = type.Class == Hdf5Type.VariableLength ? (ulong)(4 + file.OffsetSize + 4) : type.Size;
        if (count > 0 && (elementSize == 0 || count > (ulong)body.Remaining / elementSize))
            throw new Hdf5FormatException($"{path}: attribute '{FileText.Escape(name)}' claims {count} values of {elementSize} bytes, which its message does not hold");
        return new Hdf5Attribute(file, name, type, dimensions, body.Bytes((long)(count * elementSize)).ToArray(), path);
    }

    /// <summary>The value as strings: one per element of a fixed- or variable-length string attribute.</summary>
    public string[] ReadStrings()
    {
        var reader = new Hdf5Reader(_data, 0, _data.Length, _file.OffsetSize, _file.LengthSize, $"{Path}@{Name}");
        ulong count = Hdf5Dataspace.Count(Dimensions) ?? 0;
        var strings = new string[count];
        for (ulong i = 0; i < count; i++)
        {
            if (Type.Class == Hdf5Type.String)
            {
                ReadOnlySpan<byte> text = reader.Bytes(Type.Size);
                int end = text.IndexOf((byte)0);
                strings[i] = reader.Utf8(end < 0 ? text : text[..end]);
            }
            else if (Type is { Class: Hdf5Type.VariableLength, VariableLengthString: true })
            {
                uint length = reader.UInt32();
                ulong collection = reader.Offset();
                uint index = reader.UInt32();
                strings[i] = reader.Utf8(Hdf5GlobalHeap.Object(_file, collection, index, length, $"{Path}@{Name}")).TrimEnd('\0');
            }
            else
            {
                throw new Hdf5FormatException($"{Path}: attribute '{FileText.Escape(Name)}' holds {Type}, not strings");
            }
        }

        return strings;
    }
}

/// <summary>Objects of a global heap collection, which hold variable-length data.</summary>
internal static class Hdf5GlobalHeap
{
    public static ReadOnlySpan<byte> Object(Hdf5File file, ulong collection, uint index, uint length, string what)
    {
        Hdf5Reader header = file.From(collection, $"the global heap collection of {what}");
        if (!header.Bytes(4).SequenceEqual("GCOL"u8)) throw new Hdf5FormatException($"{what} points at a global heap collection without its GCOL signature");
        header.Skip(4);  // version, reserved
        ulong size = header.Length();
        Hdf5Reader heap = file.At(collection, size, $"the global heap collection of {what}");
        heap.Skip(8 + file.LengthSize);
        while (heap.Remaining >= 8 + file.LengthSize)
        {
            ushort objectIndex = heap.UInt16();
            heap.Skip(6);  // reference count, reserved
            ulong objectSize = heap.Length();
            if (objectIndex == 0) break;  // the free space at the collection's end
            if (objectSize > (ulong)heap.Remaining) throw new Hdf5FormatException($"{what}: a global heap object of {objectSize} bytes overruns its collection");
            ReadOnlySpan<byte> data = heap.Bytes((long)objectSize);
            if (objectIndex == index)
            {
                if (length > objectSize) throw new Hdf5FormatException($"{what}: a string of {length} bytes in a heap object of {objectSize}");
                return data[..(int)length];
            }

            heap.Skip(Math.Min((8 - (long)(objectSize % 8)) % 8, heap.Remaining));
        }

        throw new Hdf5FormatException($"{what}: global heap object {index} is not in its collection");
    }
}

/// <summary>A dataset: its type, dimensions and (compact or contiguous) data.</summary>
internal sealed class Hdf5Dataset : Hdf5Object
{
    internal Hdf5Dataset(Hdf5File file, string path, Hdf5ObjectHeader header)
        : base(file, path, header)
    {
        Type = Hdf5Type.Read(header.Required(Hdf5Message.Datatype, "datatype", path).Body, path);
        Dimensions = Hdf5Dataspace.Read(header.Required(Hdf5Message.Dataspace, "dataspace", path).Body, path) ?? [0];
    }

    public Hdf5Type Type { get; }

    public ulong[] Dimensions { get; }

    /// <summary>The raw bytes of the data: compact (in the header) or contiguous; chunked and filtered data are refused.</summary>
    public ReadOnlySpan<byte> RawData(ulong expectedBytes)
    {
        if (Header.OfType(Hdf5Message.FilterPipeline).Any())
            throw new Hdf5FormatException($"{Path} is stored through filters (compression), which this reader does not read", unsupported: true);
        Hdf5Reader layout = Header.Required(Hdf5Message.Layout, "data layout", Path).Body;
        byte version = layout.Byte();
        if (version is not (3 or 4)) throw new Hdf5FormatException($"{Path}: data layout version {version} (3 and 4 are read)", unsupported: true);
        byte layoutClass = layout.Byte();
        switch (layoutClass)
        {
            case 0:
                ushort size = layout.UInt16();
                if (size != expectedBytes) throw new Hdf5FormatException($"{Path}: compact data of {size} bytes for {expectedBytes} bytes of values");
                return layout.Bytes(size);
            case 1:
                ulong address = layout.Offset(), length = layout.Length();
                if (length != expectedBytes) throw new Hdf5FormatException($"{Path}: contiguous data of {length} bytes for {expectedBytes} bytes of values");
                return File.At(address, length, $"the data of {Path}").Bytes((long)length);
            default:
                throw new Hdf5FormatException($"{Path} is stored in layout class {layoutClass} (chunked or virtual), which this reader does not read", unsupported: true);
        }
    }
}

/// <summary>A group: its links to other objects, by name (hard links only).</summary>
internal sealed class Hdf5Group : Hdf5Object
{
    /// <summary>More entries than a B-tree node of any HDF5 file holds (2K with K below 2^15).</summary>
    private const int MaxEntries = 1 << 16;

    private Dictionary<string, ulong>? _links;

    internal Hdf5Group(Hdf5File file, string path, Hdf5ObjectHeader header)
        : base(file, path, header)
    {
    }

    /// <summary>The names of the group's members.</summary>
    public IReadOnlyCollection<string> Names => Links.Keys;

    private Dictionary<string, ulong> Links => _links ??= ReadLinks();

    /// <summary>The member <paramref name="name"/>, or null when the group has none of that name.</summary>
    public Hdf5Object? Get(string name)
    {
        if (!Links.TryGetValue(name, out ulong address)) return null;
        string path = Path == "/" ? "/" + name : $"{Path}/{name}";
        Hdf5ObjectHeader header = File.Header(address, path);
        bool group = header.OfType(Hdf5Message.SymbolTable).Any() || header.OfType(Hdf5Message.LinkInfo).Any() || header.OfType(Hdf5Message.Link).Any();
        bool dataset = header.OfType(Hdf5Message.Layout).Any();
        return dataset ? new Hdf5Dataset(File, path, header)
            : group || !header.OfType(Hdf5Message.Datatype).Any() ? new Hdf5Group(File, path, header)
            : throw new Hdf5FormatException($"{path} is neither a group nor a dataset", unsupported: true);
    }

    /// <summary>The member at a slash-separated path below this group, or null.</summary>
    public Hdf5Object? Find(string path)
    {
        Hdf5Object? current = this;
        foreach (string part in path.Split('/'))
        {
            if (current is not Hdf5Group group) return null;
            current = group.Get(part);
        }

        return current;
    }

    private Dictionary<string, ulong> ReadLinks()
    {
        var links = new Dictionary<string, ulong>(StringComparer.Ordinal);
        foreach (Hdf5Message message in Header.OfType(Hdf5Message.SymbolTable))
        {
            Hdf5Reader body = message.Body;
            ulong tree = body.Offset(), heap = body.Offset();
            ReadSymbolTable(tree, LocalHeap(heap), links);
        }

        RejectDenseStorage(Hdf5Message.LinkInfo, maxCreationIndexBytes: 8, "links");

        foreach (Hdf5Message message in Header.OfType(Hdf5Message.Link))
        {
            (string name, ulong? address) = ReadLink(message.Body);
            if (address is null) throw new Hdf5FormatException($"{Path}/{FileText.Escape(name)} is a soft or external link, which this reader does not follow", unsupported: true);
            links[name] = address.Value;
        }

        return links;
    }

    /// <summary>A link message: the name, and the address of a hard link's object (null for another kind of link).</summary>
    private (string Name, ulong? Address) ReadLink(Hdf5Reader body)
    {
        byte version = body.Byte();
        if (version != 1) throw new Hdf5FormatException($"{Path}: link message version {version} (1 is read)");
        byte flags = body.Byte();
        byte type = (flags & 0x08) != 0 ? body.Byte() : (byte)0;
        if ((flags & 0x04) != 0) body.Skip(8);  // creation order
        if ((flags & 0x10) != 0) body.Skip(1);  // name encoding
        ulong nameLength = body.Sized(1 << (flags & 0x03));
        if (nameLength == 0 || nameLength > (ulong)body.Remaining) throw new Hdf5FormatException($"{Path}: a link name of {nameLength} bytes");
        string name = body.Utf8(body.Bytes((long)nameLength));
        return (name, type == 0 ? body.Offset() : null);
    }

    /// <summary>An old-style group's local heap: the data segment its names are offsets into.</summary>
    private byte[] LocalHeap(ulong address)
    {
        Hdf5Reader header = File.From(address, $"the local heap of {Path}");
        if (!header.Bytes(4).SequenceEqual("HEAP"u8)) throw new Hdf5FormatException($"the local heap of {Path} lacks its HEAP signature");
        header.Skip(4);
        ulong size = header.Length();
        header.Length();  // free list
        ulong data = header.Offset();
        return File.At(data, size, $"the local heap data of {Path}").Bytes((long)size).ToArray();
    }

    /// <summary>
    /// Walks an old-style group's v1 B-tree: each level-L node's children must be nodes of level L − 1, down to the
    /// symbol table nodes under level 0, and no node is visited twice — so the walk ends on any file.
    /// </summary>
    private void ReadSymbolTable(ulong root, byte[] heap, Dictionary<string, ulong> links)
    {
        var visited = new HashSet<ulong>();
        var pending = new Stack<(ulong Address, int Level)>();
        pending.Push((root, -1));
        while (pending.TryPop(out var node))
        {
            if (!visited.Add(node.Address)) throw new Hdf5FormatException($"the B-tree of {Path} reaches a node twice");
            Hdf5Reader reader = File.From(node.Address, $"a B-tree node of {Path}");
            if (!reader.Bytes(4).SequenceEqual("TREE"u8)) throw new Hdf5FormatException($"a B-tree node of {Path} lacks its TREE signature");
            byte type = reader.Byte();
            int level = reader.Byte();
            int entries = reader.UInt16();
            if (type != 0) throw new Hdf5FormatException($"the B-tree of {Path} is not a group's (node type {type})");
            if (node.Level >= 0 && level != node.Level) throw new Hdf5FormatException($"a B-tree node of {Path} has level {level} under a node of level {node.Level + 1}");
            if (entries > MaxEntries) throw new Hdf5FormatException($"a B-tree node of {Path} claims {entries} entries");
            reader.Skip(2 * File.OffsetSize);  // siblings
            for (int i = 0; i < entries; i++)
            {
                reader.Length();  // key
                ulong child = reader.Offset();
                if (level > 0) pending.Push((child, level - 1));
                else ReadSymbolNode(child, heap, links, visited);
            }
        }
    }

    private void ReadSymbolNode(ulong address, byte[] heap, Dictionary<string, ulong> links, HashSet<ulong> visited)
    {
        if (!visited.Add(address)) throw new Hdf5FormatException($"the B-tree of {Path} reaches a symbol table node twice");
        Hdf5Reader reader = File.From(address, $"a symbol table node of {Path}");
        if (!reader.Bytes(4).SequenceEqual("SNOD"u8)) throw new Hdf5FormatException($"a symbol table node of {Path} lacks its SNOD signature");
        reader.Skip(2);  // version, reserved
        int symbols = reader.UInt16();
        for (int i = 0; i < symbols; i++)
        {
            ulong nameOffset = reader.Offset(), header = reader.Offset();
            uint cacheType = reader.UInt32();
            reader.Skip(4 + 16);
            if (nameOffset >= (ulong)heap.Length) throw new Hdf5FormatException($"a member of {Path} has its name outside the local heap");
            var name = new Hdf5Reader(heap, (int)nameOffset, heap.Length, File.OffsetSize, File.LengthSize, $"the local heap of {Path}").NulTerminated();
            if (cacheType == 2) throw new Hdf5FormatException($"{Path}/{FileText.Escape(name)} is a soft link, which this reader does not follow", unsupported: true);
            if (links.Count >= MaxEntries) throw new Hdf5FormatException($"{Path} has more than {MaxEntries} members");
            links[name] = header;
        }
    }
}
