using System.Buffers.Binary;
using System.Text;
using FusedRnn.IO;

namespace FusedRnn.Tests.IO;

public class NpyTests
{
    static string DataPath(string relative) => Path.Combine(AppContext.BaseDirectory, "data", relative);

    /// <summary>A .npy file with the given header dict (padded with spaces and a newline) and data.</summary>
    static byte[] NpyBytes(string dict, byte[] data, byte major = 1, byte minor = 0)
    {
        int lengthFieldSize = major == 1 ? 2 : 4;
        byte[] header = Encoding.UTF8.GetBytes(dict.PadRight(118 - lengthFieldSize) + "\n");
        var bytes = new List<byte> { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', major, minor };
        bytes.AddRange(major == 1 ? BitConverter.GetBytes((ushort)header.Length) : BitConverter.GetBytes((uint)header.Length));
        bytes.AddRange(header);
        bytes.AddRange(data);
        return bytes.ToArray();
    }

    static byte[] FloatBytes(params float[] values) => values.SelectMany(BitConverter.GetBytes).ToArray();

    static MalformedFileException ReadFloat32Fails(byte[] bytes) =>
        Assert.Throws<MalformedFileException>(() => Npy.ReadFloat32(new MemoryStream(bytes), "x.npy"));

    [Fact]
    public void ReadsOnnxFloat32Input()
    {
        NpyArray<float> x = Npy.ReadFloat32(DataPath("onnx/test_lstm_defaults/X.npy"));
        Assert.Equal([1, 3, 2], x.Shape);
        Assert.Equal([1f, 2f, 3f, 4f, 5f, 6f], x.Data);
    }

    [Fact]
    public void ReadsOnnxInt32SequenceLengths()
    {
        string path = DataPath("onnx/test_lstm_with_peepholes/sequence_lens.npy");
        NpyArray<long> lengths = Npy.ReadIntegers(path);
        Assert.Equal([2], lengths.Shape);
        Assert.Equal([1L, 1L], lengths.Data);

        var e = Assert.Throws<MalformedFileException>(() => Npy.ReadFloat32(path));
        Assert.Equal($"{path}: dtype '<i4' is not supported; expected float32 ('<f4')", e.Message);
    }

    [Fact]
    public void EveryOnnxFileReads()
    {
        string[] paths = Directory.GetFiles(DataPath("onnx"), "*.npy", SearchOption.AllDirectories);
        Assert.NotEmpty(paths);
        foreach (string path in paths)
        {
            // sequence_lens is the only integer input of these ONNX test cases.
            int[] shape = Path.GetFileName(path) == "sequence_lens.npy" ? Npy.ReadIntegers(path).Shape : Npy.ReadFloat32(path).Shape;
            Assert.All(shape, dim => Assert.True(dim > 0));
        }
    }

    [Fact]
    public void WritesTheSameBytesAsNumpy()
    {
        string numpyFile = DataPath("onnx/test_lstm_defaults/X.npy");
        using var written = new MemoryStream();
        Npy.WriteFloat32(written, [1f, 2f, 3f, 4f, 5f, 6f], [1, 3, 2]);
        Assert.Equal(File.ReadAllBytes(numpyFile), written.ToArray());
    }

    [Theory]
    [InlineData(new int[0], "()")]
    [InlineData(new[] { 5 }, "(5,)")]
    [InlineData(new[] { 2, 3 }, "(2, 3)")]
    [InlineData(new[] { 2, 0, 3 }, "(2, 0, 3)")]
    [InlineData(new[] { 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2 }, "(1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2)")]
    public void RoundTripsThroughFile(int[] shape, string shapeLiteral)
    {
        float[] data = Enumerable.Range(0, shape.Aggregate(1, (count, dim) => count * dim)).Select(i => i * 0.37f - 5f).ToArray();
        string path = Path.Combine(Path.GetTempPath(), $"fusedrnn-{Guid.NewGuid():N}.npy");
        try
        {
            Npy.WriteFloat32(path, data, shape);
            byte[] bytes = File.ReadAllBytes(path);
            int headerLength = BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(8));
            string header = Encoding.ASCII.GetString(bytes, 10, headerLength);

            Assert.Equal(1, bytes[6]);
            Assert.Equal(0, (10 + headerLength) % 64);
            Assert.Equal($"{{'descr': '<f4', 'fortran_order': False, 'shape': {shapeLiteral}, }}", header.TrimEnd(' ', '\n'));
            Assert.EndsWith("\n", header);

            NpyArray<float> read = Npy.ReadFloat32(path);
            Assert.Equal(shape, read.Shape);
            Assert.Equal(data, read.Data);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void ZeroDimensionalArrayHasOneElement()
    {
        NpyArray<float> scalar = Npy.ReadFloat32(new MemoryStream(NpyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': ()}", FloatBytes(7.5f))), "s.npy");
        Assert.Empty(scalar.Shape);
        Assert.Equal([7.5f], scalar.Data);
    }

    [Theory]
    [InlineData("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }")]
    [InlineData("{\"shape\": (2, 3), \"descr\": \"<f4\", \"fortran_order\": False}")]
    [InlineData("{ 'fortran_order' : False ,'shape':(2,3,),'descr':'<f4' }")]
    [InlineData("{'descr':'<f4','fortran_order':False,'shape':( 2 , 3 ),}")]
    public void ParsesHeaderVariants(string dict)
    {
        NpyArray<float> array = Npy.ReadFloat32(new MemoryStream(NpyBytes(dict, FloatBytes(1, 2, 3, 4, 5, 6))), "v.npy");
        Assert.Equal([2, 3], array.Shape);
        Assert.Equal([1f, 2f, 3f, 4f, 5f, 6f], array.Data);
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void ReadsVersions2And3(byte major)
    {
        NpyArray<float> array = Npy.ReadFloat32(new MemoryStream(NpyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", FloatBytes(-1, 1), major)), "v.npy");
        Assert.Equal([2], array.Shape);
        Assert.Equal([-1f, 1f], array.Data);
    }

    [Theory]
    [InlineData("<i8", new byte[] { 0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 5, 0, 0, 0, 0, 0, 0, 0 }, new long[] { -2, 5 })]
    [InlineData("<i4", new byte[] { 0xFE, 0xFF, 0xFF, 0xFF, 5, 0, 0, 0 }, new long[] { -2, 5 })]
    [InlineData("<i2", new byte[] { 0xFE, 0xFF, 5, 0 }, new long[] { -2, 5 })]
    [InlineData("<u2", new byte[] { 0xFE, 0xFF, 5, 0 }, new long[] { 65534, 5 })]
    [InlineData("|i1", new byte[] { 0xFE, 5 }, new long[] { -2, 5 })]
    [InlineData("|u1", new byte[] { 0xFE, 5 }, new long[] { 254, 5 })]
    public void WidensIntegerDtypes(string descr, byte[] data, long[] expected)
    {
        byte[] bytes = NpyBytes($"{{'descr': '{descr}', 'fortran_order': False, 'shape': (2,), }}", data);
        NpyArray<long> array = Npy.ReadIntegers(new MemoryStream(bytes), "i.npy");
        Assert.Equal([2], array.Shape);
        Assert.Equal(expected, array.Data);
    }

    [Fact]
    public void ReadIntegersRejectsFloatDtype()
    {
        byte[] bytes = NpyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", FloatBytes(1));
        var e = Assert.Throws<MalformedFileException>(() => Npy.ReadIntegers(new MemoryStream(bytes), "f.npy"));
        Assert.Contains("dtype '<f4' is not supported; expected an integer dtype", e.Message);
    }

    [Fact]
    public void ReadFloat32RejectsFloat64()
    {
        var e = ReadFloat32Fails(NpyBytes("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }", new byte[8]));
        Assert.Equal("x.npy: dtype '<f8' is not supported; expected float32 ('<f4')", e.Message);
        Assert.Equal("x.npy", e.FilePath);
    }

    [Fact]
    public void RejectsBadMagic()
    {
        byte[] bytes = NpyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", FloatBytes(1));
        bytes[1] = (byte)'n';
        Assert.Contains("does not start with the magic string", ReadFloat32Fails(bytes).Message);
        Assert.Contains("does not start with the magic string", ReadFloat32Fails([0x93, (byte)'N']).Message);
    }

    [Theory]
    [InlineData(4, 0)]
    [InlineData(1, 1)]
    public void RejectsUnsupportedVersion(byte major, byte minor)
    {
        byte[] bytes = NpyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", FloatBytes(1), major, minor);
        Assert.Contains($"format version {major}.{minor} is not supported", ReadFloat32Fails(bytes).Message);
    }

    [Fact]
    public void RejectsHeaderLengthPastEndOfFile()
    {
        byte[] bytes = NpyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", FloatBytes(1));
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(8), 500);
        Assert.Contains($"header length 500 runs past the end of the file ({bytes.Length} bytes)", ReadFloat32Fails(bytes).Message);
    }

    [Fact]
    public void RejectsDataShorterThanShape()
    {
        byte[] bytes = NpyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", FloatBytes(1, 2, 3, 4, 5));
        Assert.Contains("data has 20 bytes but shape (2, 3) needs 24", ReadFloat32Fails(bytes).Message);
    }

    [Fact]
    public void RejectsTrailingBytes()
    {
        byte[] bytes = NpyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }", FloatBytes(1, 2, 3, 4, 5, 6));
        Assert.Contains("data has 24 bytes but shape (5,) needs only 20; the file has trailing bytes", ReadFloat32Fails(bytes).Message);
    }

    [Theory]
    [InlineData("{'descr': '<f4', 'shape': (1,), }", "header has no 'fortran_order' key")]
    [InlineData("{'descr': '<f4', 'fortran_order': False}", "header has no 'shape' key")]
    [InlineData("{'fortran_order': False, 'shape': (1,)}", "header has no 'descr' key")]
    [InlineData("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'extra': True}", "header has unexpected key 'extra'")]
    [InlineData("{'descr': '<f4', 'fortran_order': True, 'shape': (1,), }", "Fortran-order arrays are not supported; save a C-contiguous array")]
    [InlineData("{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }", "dtype '>f4' is big-endian")]
    [InlineData("{'descr': '<f4', 'fortran_order': False, 'shape': (2, -1), }", "shape (2, -1) has a negative dimension")]
    [InlineData("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296,), }", "shape (4294967296,) has a dimension larger than")]
    [InlineData("{'descr': '<f4', 'fortran_order': 'no', 'shape': (1,), }", "'fortran_order' is not True or False")]
    [InlineData("{'descr': '<f4', 'fortran_order': False, 'shape': '1', }", "'shape' is not a tuple of integers")]
    [InlineData("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }", "is not a valid Python dict literal")]
    [InlineData("{'descr': '<f4', 'fortran_order': False, 'shape': (1, x), }", "expected an integer")]
    [InlineData("{'descr': '<f4' 'fortran_order': False, 'shape': (1,), }", "expected '}'")]
    [InlineData("{'descr: '<f4', 'fortran_order': False, 'shape': (1,), }", "is not a valid Python dict literal")]
    [InlineData("'descr': '<f4'", "expected '{'")]
    public void RejectsMalformedHeader(string dict, string expectedPhrase)
    {
        var e = ReadFloat32Fails(NpyBytes(dict, FloatBytes(1)));
        Assert.StartsWith("x.npy: ", e.Message);
        Assert.Contains(expectedPhrase, e.Message);
    }

    [Fact]
    public void WriterRejectsShapeThatDoesNotMatchData()
    {
        var e = Assert.Throws<ArgumentException>(() => Npy.WriteFloat32(new MemoryStream(), [1f, 2f, 3f], [2, 2]));
        Assert.Contains("shape (2, 2) holds 4 elements but data has 3", e.Message);
        Assert.Throws<ArgumentException>(() => Npy.WriteFloat32(new MemoryStream(), [], [2, -1]));
    }

    // File text in a message is escaped (FileText): a header with an ANSI escape must not act on a terminal.
    [Fact]
    public void EscapesControlCharactersOfTheHeaderInMessages()
    {
        var dtype = ReadFloat32Fails(NpyBytes("{'descr': '<f4\u001b[2J', 'fortran_order': False, 'shape': (1,), }", FloatBytes(1)));
        Assert.Equal(@"x.npy: dtype '<f4\x1b[2J' is not supported; expected float32 ('<f4')", dtype.Message);

        var key = ReadFloat32Fails(NpyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), '\u009b\u202e': True}", FloatBytes(1), major: 3));
        Assert.Contains(@"unexpected key '\x9b\u202e'", key.Message);

        var literal = ReadFloat32Fails(NpyBytes("{'descr': '<f4', \u0007\u0000}", FloatBytes(1)));
        Assert.Contains(@"header {'descr': '<f4', \x07\x00} is not a valid Python dict literal", literal.Message);
        foreach (var e in new[] { dtype, key, literal })
            Assert.DoesNotContain(e.Message, c => char.IsControl(c) || c == '\u202e');
    }

    [Fact]
    public void QuotesAtMostThe256FirstCharactersOfAHeader()
    {
        var e = ReadFloat32Fails(NpyBytes("{'descr': '<f4', " + new string('x', 100_000), FloatBytes(1), major: 2));
        Assert.Contains("... (", e.Message);
        Assert.Contains(" more characters) is not a valid Python dict literal", e.Message);
        Assert.True(e.Message.Length < 600, e.Message);
    }

    // Sizes are overflow-checked 64-bit products, and a zero dimension empties an array whatever comes before it.
    [Fact]
    public void ShapeWhoseSizeOverflowsIsMalformed()
    {
        var e = ReadFloat32Fails(NpyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2147483647, 2147483647, 2147483647, 2), }", FloatBytes(1)));
        Assert.Contains($"needs more than {long.MaxValue}", e.Message);
    }

    [Fact]
    public void ZeroDimensionAfterHugeOnesIsAnEmptyArray()
    {
        NpyArray<float> x = Npy.ReadFloat32(new MemoryStream(NpyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2147483647, 2147483647, 0), }", [])), "x.npy");
        Assert.Equal([2147483647, 2147483647, 0], x.Shape);
        Assert.Empty(x.Data);
    }
}
