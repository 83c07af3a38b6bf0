using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using FusedRnn.IO;

namespace FusedRnn.Tests.IO;

public class SafetensorsTests
{
    static string DataPath(string relative) => Path.Combine(AppContext.BaseDirectory, "data", relative);

    /// <summary>A safetensors file with the given header text (unpadded) and data section.</summary>
    static byte[] FileBytes(string header, byte[] data)
    {
        byte[] headerBytes = Encoding.UTF8.GetBytes(header);
        var bytes = new byte[8 + headerBytes.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)headerBytes.Length);
        headerBytes.CopyTo(bytes, 8);
        data.CopyTo(bytes, 8 + headerBytes.Length);
        return bytes;
    }

    static int[] Bits(float[] values) => values.Select(BitConverter.SingleToInt32Bits).ToArray();

    static KeyValuePair<string, (int[] Shape, float[] Data)> FloatTensor(string name, int[] shape, float[] data) => new(name, (shape, data));

    [Fact]
    public void RoundTripPreservesOrderShapesValuesAndMetadata()
    {
        float[] special = [0f, -0f, float.NaN, float.PositiveInfinity, float.Epsilon, -1.5e-38f, 3.4028235e38f, 1f / 3];
        var tensors = new[]
        {
            FloatTensor("z.last.alphabetically", [2, 4], special),
            FloatTensor("scalar", [], [42.5f]),
            FloatTensor("empty", [3, 0], []),
            FloatTensor("a.first", [3], [1f, 2f, 3f]),
        };
        var metadata = new Dictionary<string, string> { ["config"] = "{\"mode\": \"LSTM\"}", ["producer"] = "tests" };

        SafetensorsFile file = SafetensorsFile.Parse(SafetensorsWriter.ToBytes(tensors, metadata), "<memory>");

        Assert.Equal("<memory>", file.FilePath);
        Assert.Equal(tensors.Select(t => t.Key), file.TensorNames);
        Assert.Equal(metadata, file.Metadata);
        foreach (var (name, (shape, data)) in tensors)
        {
            SafetensorsTensorInfo info = file.GetInfo(name);
            Assert.Equal("F32", info.DType);
            Assert.Equal(shape, info.Shape);
            Assert.Equal(data.Length, info.ElementCount);
            Assert.Equal(Bits(data), Bits(file.ReadFloat32(name)));
        }
    }

    [Fact]
    public void WriteThenLoadFromDisk()
    {
        string path = Path.Combine(Path.GetTempPath(), $"fusedrnn-{Guid.NewGuid():N}.safetensors");
        try
        {
            SafetensorsWriter.Write(path, [FloatTensor("w", [2, 2], [1f, -2f, 3f, -4f])]);
            SafetensorsFile file = SafetensorsFile.Load(path);
            Assert.Equal(path, file.FilePath);
            Assert.Empty(file.Metadata);
            Assert.True(file.Contains("w"));
            Assert.False(file.Contains("v"));
            Assert.Equal([1f, -2f, 3f, -4f], file.ReadFloat32("w"));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void WriterPadsHeaderWithSpacesToMultipleOfEight()
    {
        byte[] bytes = SafetensorsWriter.ToBytes([FloatTensor("abc", [1], [1f])]);
        int headerLength = (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        string header = Encoding.UTF8.GetString(bytes, 8, headerLength);

        Assert.Equal(0, headerLength % 8);
        Assert.Equal(8 + headerLength + 4, bytes.Length);
        Assert.Equal("{\"abc\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", header.TrimEnd(' '));
    }

    [Fact]
    public void WriterRejectsShapeThatDoesNotMatchData()
    {
        var e = Assert.Throws<ArgumentException>(() => SafetensorsWriter.ToBytes([FloatTensor("bad.weight", [2, 3], new float[5])]));
        Assert.Contains("'bad.weight'", e.Message);
        Assert.Contains("[2, 3]", e.Message);
    }

    [Fact]
    public void WriterRejectsDuplicateNames()
    {
        var e = Assert.Throws<ArgumentException>(() => SafetensorsWriter.ToBytes([FloatTensor("w", [1], [1f]), FloatTensor("w", [1], [2f])]));
        Assert.Contains("'w'", e.Message);
    }

    [Fact]
    public void ReadsPyTorchReferenceFile()
    {
        SafetensorsFile file = SafetensorsFile.Load(DataPath("pytorch/lstm_basic.safetensors"));

        Assert.Equal([28, 5], file.GetInfo("rnn.weight_ih_l0").Shape);
        Assert.Equal(28 * 5, file.ReadFloat32("rnn.weight_ih_l0").Length);
        Assert.Equal([6, 3, 5], file.GetInfo("x").Shape);
        float[] x = file.ReadFloat32("x");
        Assert.Equal(90, x.Length);
        Assert.All(x, value => Assert.True(float.IsFinite(value)));
        Assert.Contains(x, value => value != 0);
        Assert.Equal("c0", file.TensorNames[0]);
        Assert.Equal(10, file.TensorNames.Count);

        using JsonDocument config = JsonDocument.Parse(file.Metadata["config"]);
        Assert.Equal("LSTM", config.RootElement.GetProperty("mode").GetString());
        Assert.Equal(7, config.RootElement.GetProperty("hidden_size").GetInt32());
    }

    [Fact]
    public void EveryReferenceFileParsesAndReads()
    {
        string[] paths = Directory.GetFiles(DataPath("pytorch"), "*.safetensors");
        Assert.NotEmpty(paths);
        foreach (string path in paths)
        {
            SafetensorsFile file = SafetensorsFile.Load(path);
            Assert.Contains("config", file.Metadata.Keys);
            foreach (string name in file.TensorNames)
            {
                SafetensorsTensorInfo info = file.GetInfo(name);
                long count = info.DType == "I64" ? file.ReadInt64(name).Length : file.ReadFloat32(name).Length;
                Assert.Equal(info.ElementCount, count);
            }
        }
    }

    [Fact]
    public void ReadsInt64LengthsFromReferenceFile()
    {
        SafetensorsFile file = SafetensorsFile.Load(DataPath("pytorch/lstm_packed_bidirectional.safetensors"));

        Assert.Equal("I64", file.GetInfo("lengths").DType);
        Assert.Equal([6L, 3L, 1L], file.ReadInt64("lengths"));
        var e = Assert.Throws<MalformedFileException>(() => file.ReadFloat32("lengths"));
        Assert.Contains("tensor 'lengths' has dtype I64, expected a floating-point dtype", e.Message);
        e = Assert.Throws<MalformedFileException>(() => file.ReadInt64("x"));
        Assert.Contains("tensor 'x' has dtype F32, expected an integer dtype", e.Message);
    }

    [Fact]
    public void GetInfoOfMissingTensorNamesTensorAndFile()
    {
        SafetensorsFile file = SafetensorsFile.Parse(SafetensorsWriter.ToBytes([FloatTensor("w", [1], [1f])]), "model.safetensors");
        var e = Assert.Throws<KeyNotFoundException>(() => file.GetInfo("rnn.weight_hh_l3"));
        Assert.Contains("'rnn.weight_hh_l3'", e.Message);
        Assert.Contains("model.safetensors", e.Message);
        Assert.Throws<KeyNotFoundException>(() => file.ReadFloat32("missing"));
    }

    [Fact]
    public void ConvertsF64F16AndBF16ToFloat32()
    {
        double[] doubles = [1.5, -2.25, 1e-3, 1e300];
        Half[] halves = [(Half)0.5f, (Half)(-65504f), Half.Epsilon];
        float[] bfloatValues = [1f, -2.5f, 3.140625f]; // exactly representable in bfloat16
        var data = new List<byte>();
        foreach (double value in doubles)
            data.AddRange(BitConverter.GetBytes(value));
        foreach (Half value in halves)
            data.AddRange(BitConverter.GetBytes(value));
        foreach (float value in bfloatValues)
            data.AddRange(BitConverter.GetBytes((ushort)(BitConverter.SingleToUInt32Bits(value) >> 16)));
        string header = """
            {"d": {"dtype": "F64", "shape": [4], "data_offsets": [0, 32]},
             "h": {"dtype": "F16", "shape": [3], "data_offsets": [32, 38]},
             "b": {"dtype": "BF16", "shape": [3, 1], "data_offsets": [38, 44]}}
            """;

        SafetensorsFile file = SafetensorsFile.Parse(FileBytes(header, data.ToArray()), "<memory>");

        Assert.Equal(doubles.Select(d => (float)d), file.ReadFloat32("d"));
        Assert.Equal(halves.Select(h => (float)h), file.ReadFloat32("h"));
        Assert.Equal(bfloatValues, file.ReadFloat32("b"));
        Assert.Equal(["d", "h", "b"], file.TensorNames);
    }

    [Fact]
    public void WidensIntegerDtypesToInt64()
    {
        var data = new List<byte>();
        data.AddRange(BitConverter.GetBytes(-7));
        data.AddRange(BitConverter.GetBytes(int.MaxValue));
        data.AddRange(BitConverter.GetBytes((short)-300));
        data.AddRange([0xFF, 0xFF, 1, 0]);
        string header = """
            {"i32": {"dtype": "I32", "shape": [2], "data_offsets": [0, 8]},
             "i16": {"dtype": "I16", "shape": [1], "data_offsets": [8, 10]},
             "i8": {"dtype": "I8", "shape": [1], "data_offsets": [10, 11]},
             "u8": {"dtype": "U8", "shape": [1], "data_offsets": [11, 12]},
             "flag": {"dtype": "BOOL", "shape": [], "data_offsets": [12, 13]},
             "pad": {"dtype": "U8", "shape": [1], "data_offsets": [13, 14]}}
            """;

        SafetensorsFile file = SafetensorsFile.Parse(FileBytes(header, data.ToArray()), "<memory>");

        Assert.Equal([-7L, int.MaxValue], file.ReadInt64("i32"));
        Assert.Equal([-300L], file.ReadInt64("i16"));
        Assert.Equal([-1L], file.ReadInt64("i8"));
        Assert.Equal([255L], file.ReadInt64("u8"));
        Assert.Equal([1L], file.ReadInt64("flag"));
        Assert.Equal(1, file.GetInfo("flag").ElementCount);
    }

    [Fact]
    public void RejectsFileShorterThanHeaderLength()
    {
        var e = Assert.Throws<MalformedFileException>(() => SafetensorsFile.Parse([1, 2, 3, 4, 5], "tiny.safetensors"));
        Assert.Equal("tiny.safetensors", e.FilePath);
        Assert.StartsWith("tiny.safetensors: ", e.Message);
        Assert.Contains("file has 5 bytes", e.Message);
    }

    [Fact]
    public void RejectsHeaderLengthPastEndOfFile()
    {
        byte[] bytes = FileBytes("{}", []);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, 99999);
        var e = Assert.Throws<MalformedFileException>(() => SafetensorsFile.Parse(bytes, "model.safetensors"));
        Assert.Equal("model.safetensors: header length 99999 runs past the end of the file (10 bytes)", e.Message);
    }

    [Fact]
    public void RejectsHeaderThatIsNotUtf8()
    {
        byte[] bytes = FileBytes("{\"x\": \"\u00e9\"}", []);
        bytes[Array.IndexOf(bytes, (byte)0xC3)] = 0xFF; // break the two-byte sequence of 'é'
        var e = Assert.Throws<MalformedFileException>(() => SafetensorsFile.Parse(bytes, "<memory>"));
        Assert.Contains("header is not valid UTF-8", e.Message);
    }

    [Fact]
    public void RejectsDataSectionBytesThatBelongToNoTensor()
    {
        string header = """{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}""";
        var e = Assert.Throws<MalformedFileException>(() => SafetensorsFile.Parse(FileBytes(header, new byte[8]), "<memory>"));
        Assert.Contains("bytes [4, 8) of the data section belong to no tensor", e.Message);
    }

    [Theory]
    [InlineData("""{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]""", 4, "header is not valid JSON")]
    [InlineData("""[1, 2]""", 0, "header is a JSON array, expected an object")]
    [InlineData("""{"a": [1]}""", 0, "tensor 'a' is a JSON array, expected an object")]
    [InlineData("""{"a": {"shape": [1], "data_offsets": [0, 4]}}""", 4, "tensor 'a' has no 'dtype'")]
    [InlineData("""{"a": {"dtype": "F32", "data_offsets": [0, 4]}}""", 4, "tensor 'a' has no 'shape'")]
    [InlineData("""{"a": {"dtype": "F32", "shape": [1]}}""", 4, "tensor 'a' has no 'data_offsets'")]
    [InlineData("""{"a": {"dtype": 4, "shape": [1], "data_offsets": [0, 4]}}""", 4, "'dtype' of JSON type number, expected string")]
    [InlineData("""{"a": {"dtype": "F32", "shape": "1", "data_offsets": [0, 4]}}""", 4, "'shape' of JSON type string, expected array")]
    [InlineData("""{"a": {"dtype": "F32", "shape": [1.5], "data_offsets": [0, 4]}}""", 4, "shape entry 1.5, expected an integer")]
    [InlineData("""{"a": {"dtype": "F32", "shape": [1], "data_offsets": {"begin": 0}}}""", 4, "'data_offsets' of JSON type object, expected array")]
    [InlineData("""{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4, 8]}}""", 4, "expected [begin, end] with non-negative integers")]
    [InlineData("""{"a": {"dtype": "F32", "shape": [1], "data_offsets": [-4, 0]}}""", 4, "expected [begin, end] with non-negative integers")]
    [InlineData("""{"a": {"dtype": "F33", "shape": [1], "data_offsets": [0, 4]}}""", 4, "tensor 'a' has unknown dtype 'F33'")]
    [InlineData("""{"a": {"dtype": "F32", "shape": [2, -3], "data_offsets": [0, 4]}}""", 4, "tensor 'a' has negative dimension -3")]
    [InlineData("""{"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 0]}}""", 4, "data_offsets [4, 0]: begin is after end")]
    [InlineData("""{"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}""", 8, "past the end of the data section (8 bytes)")]
    [InlineData("""{"a": {"dtype": "F32", "shape": [2, 5], "data_offsets": [0, 24]}}""", 24, "tensor 'a' has 24 bytes (data_offsets [0, 24]) but shape [2, 5] of F32 needs 40")]
    [InlineData("""{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}""", 12, "tensors 'a' and 'b' overlap")]
    [InlineData("""{"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}""", 8, "bytes [0, 4) of the data section belong to no tensor")]
    [InlineData("""{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, "a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}""", 8, "two entries named 'a'")]
    [InlineData("""{"__metadata__": {"version": 2}}""", 0, "'__metadata__' entry 'version' is a JSON number, expected a string")]
    [InlineData("""{"__metadata__": ["x"]}""", 0, "'__metadata__' is a JSON array")]
    public void RejectsMalformedHeader(string header, int dataLength, string expectedPhrase)
    {
        var e = Assert.Throws<MalformedFileException>(() => SafetensorsFile.Parse(FileBytes(header, new byte[dataLength]), "bad.safetensors"));
        Assert.StartsWith("bad.safetensors: ", e.Message);
        Assert.Contains(expectedPhrase, e.Message);
    }

    // Found by fuzz/ (safetensors target): an escaped unpaired surrogate threw InvalidOperationException from
    // System.Text.Json, at the first lookup that passed the string, instead of MalformedFileException.
    [Theory]
    [InlineData("""{"\ud800": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}""")]
    [InlineData("""{"a": {"\udc00x": 1, "dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}""")]
    [InlineData("""{"a": {"dtype": "F32\ud800", "shape": [1], "data_offsets": [0, 4]}}""")]
    [InlineData("""{"__metadata__": {"k": "\ud83d"}, "a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}""")]
    public void RejectsUnpairedSurrogateEscapes(string header)
    {
        var e = Assert.Throws<MalformedFileException>(() => SafetensorsFile.Parse(FileBytes(header, new byte[4]), "bad.safetensors"));
        Assert.Contains("header has a string with an invalid escape at byte", e.Message);
    }

    [Fact]
    public void AcceptsEscapedSurrogatePairs()
    {
        var file = SafetensorsFile.Parse(FileBytes("""{"\ud83d\ude00": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}""", new byte[4]), "x");
        Assert.Equal(["\U0001F600"], file.TensorNames);
    }

    // A tensor entry with a key twice was read with whichever value System.Text.Json returned; the file is ambiguous.
    [Theory]
    [InlineData("""{"a": {"dtype": "F32", "dtype": "I32", "shape": [1], "data_offsets": [0, 4]}}""", "tensor 'a' has 2 'dtype' entries")]
    [InlineData("""{"a": {"dtype": "F32", "shape": [1], "shape": [1], "data_offsets": [0, 4]}}""", "tensor 'a' has 2 'shape' entries")]
    [InlineData("""{"__metadata__": {"k": "1", "k": "2"}}""", "'__metadata__' has two entries named 'k'")]
    public void RejectsRepeatedKeys(string header, string expectedPhrase)
    {
        var e = Assert.Throws<MalformedFileException>(() => SafetensorsFile.Parse(FileBytes(header, new byte[header.Contains("\"a\"") ? 4 : 0]), "bad.safetensors"));
        Assert.Contains(expectedPhrase, e.Message);
    }

    // Sizes are overflow-checked 64-bit products, and a zero dimension empties a tensor whatever comes before it.
    [Fact]
    public void ZeroDimensionAfterHugeOnesIsAnEmptyTensor()
    {
        var file = SafetensorsFile.Parse(FileBytes("""{"z": {"dtype": "F64", "shape": [2147483647, 2147483647, 2147483647, 0], "data_offsets": [0, 0]}}""", []), "x");
        Assert.Equal(0, file.GetInfo("z").ElementCount);
        Assert.Empty(file.ReadFloat32("z"));
    }

    [Fact]
    public void ShapeWhoseSizeOverflowsIsMalformed()
    {
        var e = Assert.Throws<MalformedFileException>(() => SafetensorsFile.Parse(
            FileBytes("""{"a": {"dtype": "F32", "shape": [2147483647, 2147483647, 2147483647], "data_offsets": [0, 4]}}""", new byte[4]), "bad.safetensors"));
        Assert.Contains($"shape [2147483647, 2147483647, 2147483647] of F32 needs more than {long.MaxValue}", e.Message);
    }

    // File text in a message is escaped: a name with an ANSI escape or a bidi override must not act on a terminal.
    [Fact]
    public void EscapesControlCharactersOfNamesInMessages()
    {
        const string header = """{"\u001b[31mred\u202e\\": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}""";
        var e = Assert.Throws<MalformedFileException>(() => SafetensorsFile.Parse(FileBytes(header, new byte[8]), "bad.safetensors"));
        Assert.Contains(@"tensor '\x1b[31mred\u202e\\' has 8 bytes", e.Message);
        Assert.DoesNotContain(e.Message, c => char.IsControl(c) || c == '\u202e');
    }

    [Fact]
    public void EscapesControlCharactersOfDTypesAndJsonErrorsInMessages()
    {
        var dtype = Assert.Throws<MalformedFileException>(() => SafetensorsFile.Parse(
            FileBytes("""{"a": {"dtype": "F32\u009b2J", "shape": [1], "data_offsets": [0, 4]}}""", new byte[4]), "bad.safetensors"));
        Assert.Contains(@"has unknown dtype 'F32\x9b2J'", dtype.Message);
        var json = Assert.Throws<MalformedFileException>(() => SafetensorsFile.Parse(FileBytes("{\u0085", []), "bad.safetensors"));
        Assert.DoesNotContain(json.Message, char.IsControl);
    }
}
