using System.IO.Compression;
using System.Text.Json.Nodes;
using FusedRnn.IO;
using FusedRnn.Tests.Support;

namespace FusedRnn.Tests.Keras;

/// <summary>
/// Damaged, contradictory and unsupported Keras files and configs, and misuse of the API: each gets its typed
/// exception with a message naming the layer, dataset or setting — never a crash or a wrong answer.
/// </summary>
public class KerasBadInputTests
{
    private static readonly KerasLayerFixture Lstm = KerasLayerFixture.Random("LSTM", "lstm", 3, 4, 1);

    /// <summary>Keras 3 weights with a config changed by <paramref name="edit"/> (of the first recurrent layer's config).</summary>
    private static Exception ReadWithConfig(Action<JsonObject> edit, params KerasLayerFixture[] layers)
    {
        layers = layers.Length == 0 ? [Lstm] : layers;
        JsonObject config = KerasFiles.ModelConfig(layers, keras3: true);
        edit((JsonObject)config["config"]!["layers"]![1]!["config"]!);
        return Record.Exception(() => KerasModel.Parse(KerasFiles.Keras3Weights(layers), "model.weights.h5", config.ToJsonString()))!;
    }

    public static TheoryData<byte[], string> TruncatedFiles()
    {
        var data = new TheoryData<byte[], string>();
        foreach ((string name, byte[] file) in new[]
        {
            ("keras", KerasFiles.KerasArchive([Lstm])),
            ("stored keras", KerasFiles.KerasArchive([Lstm], compression: CompressionLevel.NoCompression)),
            ("legacy", KerasFiles.LegacyH5([Lstm])),
        })
        {
            for (int cut = 0; cut < 24; cut++) data.Add(file[..(int)((long)file.Length * cut / 24)], $"{name} cut at {cut}/24");
        }

        return data;
    }

    /// <summary>A file cut short is a <see cref="MalformedFileException"/>, or — where only bytes nothing points to were cut — the same model.</summary>
    [Theory]
    [MemberData(nameof(TruncatedFiles))]
    public void ATruncatedFileIsMalformedOrTheSameModel(byte[] file, string what)
    {
        KerasModel intact = KerasModel.Parse(KerasFiles.KerasArchive([Lstm]));
        Exception? error = Record.Exception(() =>
        {
            KerasModel model = KerasModel.Parse(file, what);
            Assert.Equal(intact.Layers[0].Weights.Layers[0], model.Layers[0].Weights.Layers[0], LayerWeightsComparer.Instance);
        });
        if (error is not null) Assert.IsType<MalformedFileException>(error);
    }

    private sealed class LayerWeightsComparer : IEqualityComparer<LayerWeights>
    {
        public static LayerWeightsComparer Instance { get; } = new();

        public bool Equals(LayerWeights? a, LayerWeights? b) => a!.WeightIh.SequenceEqual(b!.WeightIh) && a.WeightHh.SequenceEqual(b.WeightHh)
            && (a.BiasIh ?? []).SequenceEqual(b.BiasIh ?? []) && (a.BiasHh ?? []).SequenceEqual(b.BiasHh ?? []);

        public int GetHashCode(LayerWeights weights) => weights.WeightIh.Length;
    }

    [Fact]
    public void BytesOfNeitherFormatAreMalformed()
    {
        var error = Assert.Throws<MalformedFileException>(() => KerasModel.Parse("not a model"u8.ToArray(), "x.keras"));
        Assert.Contains("neither a .keras archive", error.Message);
        Assert.StartsWith("x.keras: ", error.Message);
    }

    private static byte[] Archive(params (string Name, byte[] Content)[] entries)
    {
        using var memory = new MemoryStream();
        using (var zip = new ZipArchive(memory, ZipArchiveMode.Create, leaveOpen: true))
        {
            foreach ((string name, byte[] content) in entries)
            {
                using Stream stream = zip.CreateEntry(name).Open();
                stream.Write(content);
            }
        }

        return memory.ToArray();
    }

    private static byte[] Utf8(string text) => System.Text.Encoding.UTF8.GetBytes(text);

    private static string ConfigText => KerasFiles.ModelConfig([Lstm], keras3: true).ToJsonString();

    public static TheoryData<string, string> BrokenArchives() => new()
    {
        { "no config.json", "has no config.json" },
        { "no weights", "has no model.weights.h5" },
        { "config not JSON", "config is not valid JSON" },
        { "config not an object", "not a JSON object" },
        { "config without layers", "has no \"layers\"" },
        { "metadata not JSON", "metadata.json is not valid JSON" },
        { "version not a number", "is not a version number" },
        { "weights not HDF5", "not an HDF5 file" },
        { "weights without layers", "holds no Keras weights" },
        { "config not UTF-8", "not UTF-8" },
        { "deeply nested config", "not valid JSON" },
    };

    [Theory]
    [MemberData(nameof(BrokenArchives))]
    public void ABrokenArchiveIsMalformedAndSaysWhy(string defect, string expected)
    {
        byte[] weights = KerasFiles.Keras3Weights([Lstm]);
        byte[] metadata = Utf8("{\"keras_version\": \"3.6.0\"}");
        byte[] config = Utf8(ConfigText);
        byte[] file = defect switch
        {
            "no config.json" => Archive(("metadata.json", metadata), ("model.weights.h5", weights)),
            "no weights" => Archive(("config.json", config), ("metadata.json", metadata)),
            "config not JSON" => Archive(("config.json", Utf8("{\"class_name\": ")), ("model.weights.h5", weights)),
            "config not an object" => Archive(("config.json", Utf8("[1, 2]")), ("model.weights.h5", weights)),
            "config without layers" => Archive(("config.json", Utf8("{\"class_name\": \"Sequential\", \"config\": {}}")), ("model.weights.h5", weights)),
            "metadata not JSON" => Archive(("config.json", config), ("metadata.json", Utf8("{")), ("model.weights.h5", weights)),
            "version not a number" => Archive(("config.json", config), ("metadata.json", Utf8("{\"keras_version\": \"x.y\"}")), ("model.weights.h5", weights)),
            "weights not HDF5" => Archive(("config.json", config), ("model.weights.h5", Utf8("nope"))),
            "weights without layers" => Archive(("config.json", config), ("model.weights.h5", EmptyHdf5())),
            "config not UTF-8" => Archive(("config.json", [0xff, 0xfe, 0x7b]), ("model.weights.h5", weights)),
            "deeply nested config" => Archive(("config.json", Utf8(new string('[', 5000) + new string(']', 5000))), ("model.weights.h5", weights)),
            _ => throw new ArgumentException(defect),
        };
        var error = Assert.Throws<MalformedFileException>(() => KerasModel.Parse(file, "m.keras"));
        Assert.Contains(expected, error.Message);
    }

    private static byte[] EmptyHdf5()
    {
        using var memory = new MemoryStream();
        new PureHDF.H5File { ["other"] = new PureHDF.H5Group() }.Write(memory);
        return memory.ToArray();
    }

    [Fact]
    public void ConfigsGoWithWeightsOnlyFiles()
    {
        var extra = Assert.Throws<ArgumentException>(() => KerasModel.Parse(KerasFiles.KerasArchive([Lstm]), "m.keras", ConfigText));
        Assert.Contains("holds its own config", extra.Message);
        var missing = Assert.Throws<ArgumentException>(() => KerasModel.Parse(KerasFiles.Keras3Weights([Lstm]), "m.weights.h5"));
        Assert.Contains("holds no architecture", missing.Message);
        var legacy = Assert.Throws<ArgumentException>(() => KerasModel.Parse(KerasFiles.LegacyH5([Lstm], modelConfig: false), "w.h5"));
        Assert.Contains("weights only", legacy.Message);
    }

    public static TheoryData<string, Type, string> BadConfigs() => new()
    {
        { "units disagree with the arrays", typeof(MalformedFileException), "kernel has shape [3, 16] but the layer needs [3, 20]" },
        { "units zero", typeof(MalformedFileException), "\"units\" is 0, not a positive 32-bit integer" },
        { "units not a number", typeof(MalformedFileException), "\"units\" is \"four\"" },
        { "unknown activation", typeof(UnsupportedModelException), "activation 'selu' is not an activation this library computes" },
        { "activation of another type", typeof(UnsupportedModelException), "activation is 42, not the name of a built-in activation" },
        { "use_bias not a bool", typeof(MalformedFileException), "\"use_bias\" is \"yes\", not true or false" },
        { "no bias in the file", typeof(MalformedFileException), "has 3 weight arrays, but LSTM layers with use_bias=False have 2" },
    };

    [Theory]
    [MemberData(nameof(BadConfigs))]
    public void AConfigThatContradictsTheFileNamesTheLayer(string defect, Type expectedType, string expected)
    {
        Exception error = ReadWithConfig(config =>
        {
            switch (defect)
            {
                case "units disagree with the arrays": config["units"] = 5; break;
                case "units zero": config["units"] = 0; break;
                case "units not a number": config["units"] = "four"; break;
                case "unknown activation": config["activation"] = "selu"; break;
                case "activation of another type": config["activation"] = 42; break;
                case "use_bias not a bool": config["use_bias"] = "yes"; break;
                case "no bias in the file": config["use_bias"] = false; break;
            }
        });
        Assert.IsType(expectedType, error);
        Assert.Contains("'lstm'", error.Message);
        Assert.Contains(expected, error.Message);
    }

    [Fact]
    public void AMissingDatasetOrLayerGroupIsNamed()
    {
        KerasLayerFixture second = KerasLayerFixture.Random("LSTM", "lstm_1", 4, 4, 2);
        JsonObject config = KerasFiles.ModelConfig([Lstm, second], keras3: true);
        var error = Assert.Throws<MalformedFileException>(() => KerasModel.Parse(KerasFiles.Keras3Weights([Lstm]), "w.weights.h5", config.ToJsonString()));
        Assert.Contains("no layers/lstm_1/cell/vars for layer 'lstm_1'", error.Message);

        var legacy = Assert.Throws<MalformedFileException>(() =>
            KerasModel.Parse(KerasFiles.LegacyH5([Lstm], modelConfig: false), "w.h5", KerasFiles.ModelConfig([Lstm, second], keras3: false).ToJsonString()));
        Assert.Contains("no layer 'lstm_1'", legacy.Message);
    }

    [Fact]
    public void IntegerWeightsAreUnsupported()
    {
        using var memory = new MemoryStream();
        new PureHDF.H5File
        {
            ["layers"] = new PureHDF.H5Group
            {
                ["lstm"] = new PureHDF.H5Group { ["cell"] = new PureHDF.H5Group { ["vars"] = new PureHDF.H5Group { ["0"] = new int[3, 16], ["1"] = new int[4, 16], ["2"] = new int[16] } } },
            },
        }.Write(memory);
        var error = Assert.Throws<UnsupportedModelException>(() => KerasModel.Parse(memory.ToArray(), "w.weights.h5", ConfigText));
        Assert.Contains("layers/lstm/cell/vars/0", error.Message);
        Assert.Contains("float32 and float64 weights are read", error.Message);
    }

    [Fact]
    public void UnsupportedLayersAndGraphsAreNamed()
    {
        JsonObject onlyDense = KerasFiles.ModelConfig([Lstm], keras3: true);
        ((JsonArray)onlyDense["config"]!["layers"]!).RemoveAt(1);
        ((JsonArray)onlyDense["config"]!["layers"]!).Add(new JsonObject { ["class_name"] = "Dense", ["config"] = new JsonObject { ["name"] = "head" } });
        var dense = Assert.Throws<UnsupportedModelException>(() => KerasModel.Parse(KerasFiles.Keras3Weights([Lstm]), "w.weights.h5", onlyDense.ToJsonString()));
        Assert.Contains("no LSTM, GRU or SimpleRNN layer; its layers are 'head' (Dense)", dense.Message);

        KerasLayerFixture bidirectional = KerasLayerFixture.Random("LSTM", "bidirectional", 3, 4, 3, bidirectional: true);
        Exception wrapped = ReadWithConfig(config => config["layer"]!["class_name"] = "ConvLSTM1D", bidirectional);
        Assert.IsType<UnsupportedModelException>(wrapped);
        Assert.Contains("wraps a ConvLSTM1D layer", wrapped.Message);

        Exception noMerge = ReadWithConfig(config => config["merge_mode"] = null, bidirectional);
        Assert.IsType<UnsupportedModelException>(noMerge);
        Assert.Contains("merge_mode=None", noMerge.Message);

        Exception otherMerge = ReadWithConfig(config => config["merge_mode"] = "max", bidirectional);
        Assert.IsType<UnsupportedModelException>(otherMerge);
        Assert.Contains("merge_mode 'max'", otherMerge.Message);

        Exception otherUnits = ReadWithConfig(config => config["backward_layer"]!["config"]!["units"] = 5, bidirectional);
        Assert.IsType<MalformedFileException>(otherUnits);
        Assert.Contains("differs from the forward one", otherUnits.Message);

        KerasLayerFixture gru = KerasLayerFixture.Random("GRU", "gru", 3, 4, 4), lstm = KerasLayerFixture.Random("LSTM", "lstm", 4, 3, 5);
        string branching = KerasImportTests.FunctionalConfig([gru, lstm], ["input_layer", "input_layer"], ["input_layer", "gru", "lstm"]);
        var graph = Assert.Throws<UnsupportedModelException>(() => KerasModel.Parse(KerasFiles.Keras3Weights([gru, lstm]), "f.weights.h5", branching));
        Assert.Contains("not a chain of layers: 'LSTM' layer 'lstm' takes its inputs from 'input_layer' rather than from 'gru' alone", graph.Message);
    }

    [Fact]
    public void AStackWhoseLayersCannotFeedEachOtherIsRefusedWhenMade()
    {
        KerasLayerFixture first = KerasLayerFixture.Random("LSTM", "lstm", 3, 4, 6) with { ReturnSequences = false };
        KerasLayerFixture second = KerasLayerFixture.Random("LSTM", "lstm_1", 4, 4, 7);
        KerasModel lastOnly = KerasModel.Parse(KerasFiles.KerasArchive([first, second]));
        Assert.Contains("return_sequences=False", Assert.Throws<UnsupportedModelException>(() => lastOnly.CreateModule()).Message);
        using (lastOnly.CreateModule(layer: "lstm_1")) { }

        KerasLayerFixture wide = KerasLayerFixture.Random("LSTM", "lstm_1", 5, 4, 8);
        KerasModel mismatched = KerasModel.Parse(KerasFiles.KerasArchive([first with { ReturnSequences = true }, wide]));
        Assert.Contains("outputs 4 features but the next layer 'lstm_1' takes 5", Assert.Throws<MalformedFileException>(() => mismatched.CreateModule()).Message);
    }

    [Fact]
    public void BadCallsGetTypedErrors()
    {
        KerasLayerFixture backwards = KerasLayerFixture.Random("GRU", "gru", 3, 4, 9) with { GoBackwards = true };
        KerasLayerFixture next = KerasLayerFixture.Random("GRU", "gru_1", 4, 2, 10);
        KerasModel model = KerasModel.Parse(KerasFiles.KerasArchive([backwards, next]));
        var stack = model.CreateModule(new RnnOptions { Backend = RnnBackends.Managed, BatchFirst = true });
        FloatTensor x = KerasImportTests.Input(3);
        Assert.Contains("goes backwards and feeds another layer", Assert.Throws<ArgumentException>(() => stack.Forward(x, [5, 2, 5])).Message);
        stack.Forward(x, [5, 5, 5]);
        Assert.Throws<ArgumentOutOfRangeException>(() => stack.Forward(x, [5, 0, 5]));
        Assert.Throws<ShapeMismatchException>(() => stack.Forward(x, [5, 5]));
        Assert.Contains("differ in units or directions", Assert.Throws<ArgumentException>(() => stack.Forward(x, h0: FloatTensor.Zeros(2, 3, 4))).Message);
        Assert.Throws<ShapeMismatchException>(() => stack.Forward(KerasImportTests.Input(2)));
        Assert.Throws<ShapeMismatchException>(() => stack.Forward(new FloatTensor(new float[3], 3)));
        Assert.Throws<ArgumentNullException>(() => stack.Forward(null!));
        stack.Dispose();
        Assert.Throws<ObjectDisposedException>(() => stack.Forward(x));

        KerasModel uniform = KerasModel.Parse(KerasFiles.KerasArchive([Lstm, KerasLayerFixture.Random("LSTM", "lstm_1", 4, 4, 11)]));
        using KerasRecurrentStack lstms = uniform.CreateModule(new RnnOptions { BatchFirst = true });
        Assert.Throws<ShapeMismatchException>(() => lstms.Forward(x, h0: FloatTensor.Zeros(1, 3, 4)));
        Assert.Throws<ShapeMismatchException>(() => lstms.Forward(x, c0: FloatTensor.Zeros(2, 2, 4)));
    }

    [Fact]
    public void FromArraysChecksItsArguments()
    {
        var settings = new KerasRnnSettings("LSTM", 2);
        FloatTensor kernel = FloatTensor.Zeros(3, 8), recurrent = FloatTensor.Zeros(2, 8), bias = FloatTensor.Zeros(8);
        KerasRecurrentLayer.FromArrays(settings, kernel, recurrent, bias);
        Assert.Throws<ArgumentNullException>(() => KerasRecurrentLayer.FromArrays(null!, kernel, recurrent, bias));
        Assert.Throws<ArgumentNullException>(() => KerasRecurrentLayer.FromArrays(settings, null!, recurrent, bias));
        Assert.Throws<ArgumentNullException>(() => KerasRecurrentLayer.FromArrays(settings, kernel, recurrent, null));
        Assert.Contains("use_bias is false", Assert.Throws<ArgumentException>(() => KerasRecurrentLayer.FromArrays(settings with { UseBias = false }, kernel, recurrent, bias)).Message);
        var shape = Assert.Throws<InvalidWeightsException>(() => KerasRecurrentLayer.FromArrays(settings, kernel, FloatTensor.Zeros(8, 2), bias));
        Assert.Contains("recurrent_kernel has shape [8, 2] but the layer needs [2, 8]", shape.Message);
        Assert.Throws<InvalidWeightsException>(() => KerasRecurrentLayer.FromArrays(new KerasRnnSettings("GRU", 2), FloatTensor.Zeros(3, 6), FloatTensor.Zeros(2, 6), FloatTensor.Zeros(6)));
        Assert.Contains("not a Keras recurrent layer", Assert.Throws<ArgumentException>(() => KerasRecurrentLayer.FromArrays(settings with { ClassName = "Dense" }, kernel, recurrent, bias)).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => KerasRecurrentLayer.FromArrays(settings with { Units = 0 }, kernel, recurrent, bias));
        Assert.Contains("'gelu'", Assert.Throws<NotSupportedException>(() => KerasRecurrentLayer.FromArrays(settings with { Activation = "gelu" }, kernel, recurrent, bias)).Message);
    }

    [Fact]
    public void AnUnknownLayerNameListsTheLayers()
    {
        KerasModel model = KerasModel.Parse(KerasFiles.KerasArchive([Lstm]));
        var error = Assert.Throws<ArgumentException>(() => model.Layer("lstm_9"));
        Assert.Contains("no recurrent layer 'lstm_9'; its recurrent layers are 'lstm'", error.Message);
    }
}
