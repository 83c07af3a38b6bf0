using FusedRnn.IO;
using FusedRnn.IO.Hdf5;
using PureHDF;
using PureHDF.VOL.Native;

namespace FusedRnn.Tests.IO;

/// <summary>
/// The library's HDF5 reader against PureHDF on the same bytes: files libhdf5 wrote (old-style groups, version 1
/// headers — what h5py writes) and files PureHDF wrote (version 2 headers, link messages, attributes, strings); and its
/// refusals: a B-tree that loops, soft links, dense or chunked storage, sizes beyond the file.
/// </summary>
public class Hdf5FileTests
{
    private static string DataFile(string name) => Path.Combine(AppContext.BaseDirectory, "data", "hdf5", name);

    /// <summary>Every dataset under a group, by path, as both readers see it.</summary>
    private static void AssertSameTree(IH5Group expected, Hdf5Group actual)
    {
        Assert.Equal(expected.Children().Select(child => child.Name).Order(), actual.Names.Order());
        foreach (IH5Object child in expected.Children())
        {
            Hdf5Object? mine = actual.Get(child.Name);
            switch (child)
            {
                case IH5Group group:
                    AssertSameTree(group, Assert.IsType<Hdf5Group>(mine));
                    break;
                case IH5Dataset dataset:
                    Hdf5Dataset ours = Assert.IsType<Hdf5Dataset>(mine);
                    Assert.Equal(dataset.Space.Dimensions, ours.Dimensions);
                    Assert.Equal((int)dataset.Type.Size, (int)ours.Type.Size);
                    byte[] theirs = dataset.Read<byte[]>();
                    Assert.Equal(theirs, ours.RawData((ulong)theirs.Length).ToArray());
                    break;
            }
        }
    }

    [Theory]
    [InlineData("libhdf5-nested-groups.h5")]
    [InlineData("libhdf5-compact-dataset.h5")]
    public void ReadsWhatLibhdf5WritesAsPureHdfDoes(string name)
    {
        byte[] bytes = File.ReadAllBytes(DataFile(name));
        using NativeFile expected = H5File.Open(new MemoryStream(bytes));
        AssertSameTree(expected, Hdf5File.Open(bytes).Root);
    }

    [Fact]
    public void ReadsWhatPureHdfWritesWithItsAttributes()
    {
        var file = new H5File
        {
            Attributes = new() { ["text"] = "variable-length é", ["list"] = new[] { "a", "bc", "" }, ["number"] = 3.5 },
            ["group"] = new H5Group
            {
                Attributes = new() { ["inner"] = "x" },
                ["floats"] = new float[,] { { 1, 2, 3 }, { 4, 5, 6 } },
                ["doubles"] = new double[] { 1.5, -2 },
                ["nested"] = new H5Group { ["deep"] = new float[] { 7 } },
            },
        };
        using var memory = new MemoryStream();
        file.Write(memory);
        Hdf5File read = Hdf5File.Open(memory.ToArray());
        Assert.Equal(["variable-length é"], read.Root.Attributes["text"].ReadStrings());
        Assert.Equal(["a", "bc", ""], read.Root.Attributes["list"].ReadStrings());
        Assert.Throws<Hdf5FormatException>(() => read.Root.Attributes["number"].ReadStrings());
        var group = Assert.IsType<Hdf5Group>(read.Root.Get("group"));
        Assert.Equal(["x"], group.Attributes["inner"].ReadStrings());
        var floats = Assert.IsType<Hdf5Dataset>(group.Get("floats"));
        Assert.Equal([2UL, 3], floats.Dimensions);
        Assert.Equal([1f, 2, 3, 4, 5, 6], System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(floats.RawData(24)).ToArray());
        Assert.Equal(Hdf5Type.FloatingPoint, floats.Type.Class);
        Assert.Equal(8U, Assert.IsType<Hdf5Dataset>(read.Root.Find("group/doubles")).Type.Size);
        Assert.IsType<Hdf5Dataset>(read.Root.Find("group/nested/deep"));
        Assert.Null(read.Root.Find("group/missing"));
        Assert.Null(read.Root.Find("group/floats/below-a-dataset"));
        Assert.Throws<Hdf5FormatException>(() => floats.RawData(20));

        var fixedLength = new MemoryStream();
        new H5File { Attributes = new() { ["names"] = new[] { "lstm", "dense" } } }.Write(fixedLength, new H5WriteOptions(DefaultStringLength: 16));
        Assert.Equal(["lstm", "dense"], Hdf5File.Open(fixedLength.ToArray()).Root.Attributes["names"].ReadStrings());
    }

    /// <summary>The tests' writer of libhdf5's layout, checked by PureHDF reading its file; then the library's reader on the same bytes.</summary>
    [Fact]
    public void ReadsLibhdf5sLayoutWithAttributesAsPureHdfDoes()
    {
        var root = new Keras.OldStyleHdf5.Group();
        root.Attributes["names"] = new Keras.OldStyleHdf5.FixedStrings(["lstm", "dense_1", ""]);
        root.Attributes["config"] = "{\"class_name\": \"Sequential\", \"é\": 1}";
        var inner = new Keras.OldStyleHdf5.Group();
        inner.Attributes["weight_names"] = new Keras.OldStyleHdf5.FixedStrings(["a/kernel:0"]);
        inner.Members["kernel:0"] = new Keras.OldStyleHdf5.Dataset([1, 2, 3, 4, 5, 6], [2, 3]);
        inner.Members["bias:0"] = new Keras.OldStyleHdf5.Dataset([7, 8], [2]);
        root.Members["weights"] = inner;
        root.Members["alone"] = new Keras.OldStyleHdf5.Dataset([9], [1]);
        byte[] bytes = Keras.OldStyleHdf5.Write(root);

        using NativeFile expected = H5File.Open(new MemoryStream(bytes));
        Assert.Equal(["lstm", "dense_1", ""], expected.Attribute("names").Read<string[]>().Select(text => text.TrimEnd('\0')));
        Assert.Equal("{\"class_name\": \"Sequential\", \"é\": 1}", expected.Attribute("config").Read<string>());
        Assert.Equal([1f, 2, 3, 4, 5, 6], expected.Dataset("weights/kernel:0").Read<float[]>());
        Hdf5File file = Hdf5File.Open(bytes);
        AssertSameTree(expected, file.Root);
        Assert.Equal(["lstm", "dense_1", ""], file.Root.Attributes["names"].ReadStrings());
        Assert.Equal(["{\"class_name\": \"Sequential\", \"é\": 1}"], file.Root.Attributes["config"].ReadStrings());
        Assert.Equal(["a/kernel:0"], Assert.IsType<Hdf5Group>(file.Root.Get("weights")).Attributes["weight_names"].ReadStrings());
    }

    [Fact]
    public void AGroupBTreeThatLoopsIsAnErrorNotARecursion()
    {
        Hdf5File file = Hdf5File.Open(File.ReadAllBytes(DataFile("btree-cycle.h5")));
        Assert.Contains("reaches a node twice", Assert.Throws<Hdf5FormatException>(() => file.Root.Get("layers")).Message);
        var error = Assert.Throws<MalformedFileException>(() => KerasModel.Parse(File.ReadAllBytes(DataFile("btree-cycle.h5")), "cycle.h5"));
        Assert.Contains("reaches a node twice", error.Message);
    }

    [Fact]
    public void SoftLinksAreRefused()
    {
        var file = new H5File { ["target"] = new float[] { 1 }, ["link"] = new H5SoftLink("/link") };
        using var memory = new MemoryStream();
        file.Write(memory);
        var error = Assert.Throws<Hdf5FormatException>(() => Hdf5File.Open(memory.ToArray()).Root.Get("target"));
        Assert.True(error.Unsupported);
        Assert.Contains("/link is a soft or external link", error.Message);
    }

    [Fact]
    public void ChunkedDataIsRefused()
    {
        var file = new H5File { ["chunked"] = new H5Dataset(new float[64], chunks: [8]) };
        using var memory = new MemoryStream();
        file.Write(memory);
        var dataset = Assert.IsType<Hdf5Dataset>(Hdf5File.Open(memory.ToArray()).Root.Get("chunked"));
        var error = Assert.Throws<Hdf5FormatException>(() => dataset.RawData(256));
        Assert.True(error.Unsupported);
    }

    [Fact]
    public void EveryTruncationOfAFileIsAFormatErrorOrTheSameTree()
    {
        byte[] bytes = File.ReadAllBytes(DataFile("libhdf5-nested-groups.h5"));
        for (int length = 0; length < bytes.Length; length += 97)
        {
            byte[] cut = bytes[..length];
            Exception? error = Record.Exception(() =>
            {
                Hdf5File file = Hdf5File.Open(cut);
                foreach (string path in new[] { "dataset1", "group1/sub_group1/sub_sub_dataset1", "group2/sub_dataset1" })
                    if (file.Root.Find(path) is Hdf5Dataset dataset) dataset.RawData(80);
            });
            if (error is not null) Assert.IsType<Hdf5FormatException>(error);
        }
    }
}
