using FusedRnn.Cli;
using FusedRnn.IO;
using FusedRnn.Tests.Keras;
using FusedRnn.Tests.Support;

namespace FusedRnn.Tests.Cli;

/// <summary>
/// <c>fusedrnn run --weights M.keras|M.h5|M.weights.h5</c>: Keras's layers in PyTorch's layouts (Keras's batch-major
/// input with <c>--batch-first</c>), every layer stacked or one with <c>--layer</c>, <c>--model-config</c> for a
/// weights-only file, against Keras's formulas; and the usage errors of the Keras options.
/// </summary>
public sealed class RunCommandKerasTests : IDisposable
{
    readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    static readonly KerasLayerFixture[] Stacked =
    [
        KerasLayerFixture.Random("LSTM", "bidirectional", 3, 4, 1, bidirectional: true),
        KerasLayerFixture.Random("LSTM", "bidirectional_1", 8, 4, 2, bidirectional: true),
    ];

    static float[] Expected(IReadOnlyList<KerasLayerFixture> layers, FloatTensor x, int[]? lengths = null) =>
        [.. KerasReference.Run(layers, KerasImportTests.AsDouble(x), lengths, 3).Output.Select(v => (float)v)];

    public static TheoryData<KerasImportTests.FileStyle> Styles() => [.. Enum.GetValues<KerasImportTests.FileStyle>()];

    [Theory]
    [MemberData(nameof(Styles))]
    public void RunsEveryStyleStackedInKerassBatchMajorLayout(KerasImportTests.FileStyle style)
    {
        (byte[] file, string? config, int major) = KerasImportTests.Write(Stacked, style);
        string extension = style switch
        {
            KerasImportTests.FileStyle.KerasArchive => "keras",
            KerasImportTests.FileStyle.Keras3WeightsWithConfig => "weights.h5",
            _ => "h5",
        };
        FloatTensor x = KerasImportTests.Input(3);
        List<string> args =
        [
            "run", "--weights", _temp.WriteBytes($"model.{extension}", file), "--batch-first", "--input", _temp.WriteFloat32("x.npy", x),
            "--lengths", _temp.WriteBytes("lengths.npy", NpyBytes.Int32(5, 3, 4)),
            "--output", _temp.PathOf("y.npy"), "--hn", _temp.PathOf("hn.npy"), "--cn", _temp.PathOf("cn.npy"),
        ];
        if (config is not null) args.AddRange(["--model-config", _temp.WriteBytes("config.json", System.Text.Encoding.UTF8.GetBytes(config))]);

        CliResult result = CliHarness.Invoke(args);

        Assert.True(result.ExitCode == 0, result.Stderr);
        KerasReference.Result expected = KerasReference.Run(Stacked, KerasImportTests.AsDouble(x), [5, 3, 4], major);
        NpyArray<float> y = Npy.ReadFloat32(_temp.PathOf("y.npy"));
        Assert.Equal(expected.OutputShape, y.Shape);
        Tolerance.AssertClose([.. expected.Output.Select(v => (float)v)], y.Data, Tolerance.ParityFloat32, $"y, {style}");
        NpyArray<float> hn = Npy.ReadFloat32(_temp.PathOf("hn.npy")), cn = Npy.ReadFloat32(_temp.PathOf("cn.npy"));
        Assert.Equal([4, 3, 4], hn.Shape);
        Assert.Equal([4, 3, 4], cn.Shape);
        float[] expectedHidden = [.. expected.Hidden.SelectMany(direction => direction.SelectMany(row => row)).Select(v => (float)v)];
        Tolerance.AssertClose(expectedHidden, hn.Data, Tolerance.ParityFloat32, $"h_n, {style}");
    }

    /// <summary>Without --batch-first x and y are time-major, PyTorch's default.</summary>
    [Fact]
    public void TakesTimeMajorArraysByDefault()
    {
        FloatTensor x = KerasImportTests.Input(3);
        CliResult result = CliHarness.Invoke(
        [
            "run", "--weights", _temp.WriteBytes("model.keras", KerasFiles.KerasArchive(Stacked)), "--input", _temp.WriteFloat32("x.npy", SequenceSteps.Transpose01(x)),
            "--output", _temp.PathOf("y.npy"), "--backend", RnnBackends.Managed, "--precision", "float64",
        ]);
        Assert.True(result.ExitCode == 0, result.Stderr);
        NpyArray<float> y = Npy.ReadFloat32(_temp.PathOf("y.npy"));
        Assert.Equal([5, 3, 8], y.Shape);
        Tolerance.AssertClose(SequenceSteps.Transpose01(new FloatTensor(Expected(Stacked, x), 3, 5, 8)).Span, y.Data, Tolerance.Parity, "y");
    }

    /// <summary>--layer runs one recurrent layer alone, without the model's other layers (here a Dense layer whose arrays make no head, so the whole model is refused).</summary>
    [Fact]
    public void LayerPicksOneRecurrentLayer()
    {
        KerasLayerFixture[] layers = [KerasLayerFixture.Random("GRU", "encoder", 3, 4, 3) with { ReturnSequences = false }];
        string model = _temp.WriteBytes("model.keras", KerasFiles.KerasArchive(layers, others: [("Dense", "head")]));
        FloatTensor x = KerasImportTests.Input(3);
        string input = _temp.WriteFloat32("x.npy", x);

        CliResult refused = CliHarness.Invoke(["run", "--weights", model, "--batch-first", "--input", input, "--output", _temp.PathOf("y.npy")]);
        Assert.Equal(ExitCodes.BadInput, refused.ExitCode);
        Assert.Contains("'head' (Dense)", refused.Stderr);
        Assert.False(File.Exists(_temp.PathOf("y.npy")));

        CliResult result = CliHarness.Invoke(["run", "--weights", model, "--layer", "encoder", "--batch-first", "--input", input, "--output", _temp.PathOf("y.npy"), "--verbose"]);
        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Contains("GRU 'encoder'", result.Stdout);
        NpyArray<float> y = Npy.ReadFloat32(_temp.PathOf("y.npy"));
        Assert.Equal([3, 4], y.Shape);
        Tolerance.AssertClose(Expected(layers, x), y.Data, Tolerance.ParityFloat32, "y");

        CliResult unknown = CliHarness.Invoke(["run", "--weights", model, "--layer", "decoder", "--batch-first", "--input", input, "--output", _temp.PathOf("z.npy")]);
        Assert.Equal(ExitCodes.BadInput, unknown.ExitCode);
        Assert.Contains("no recurrent layer 'decoder'", unknown.Stderr);
    }

    public static TheoryData<string, string[], string> UsageErrors() => new()
    {
        { "model.safetensors", ["--layer", "lstm"], "--layer was given but --weights is a .safetensors state_dict, not a Keras model" },
        { "model.onnx", ["--model-config", "config.json"], "--model-config was given but --weights is an .onnx model" },
        { "model.keras", ["--onnx-layout"], "--onnx-layout was given but --weights is a Keras model" },
        { "model.keras", ["--prefix", "rnn."], "--prefix was given but a Keras model has no state_dict prefix" },
        { "model.keras", ["--nonlinearity", "relu"], "--nonlinearity was given but a Keras model names its activations itself" },
        { "model.keras", ["--model-config", "config.json"], "a .keras archive holds its own config" },
        { "model.weights.h5", [], "give the model's config JSON with --model-config" },
        { "gru.keras", ["--c0", "x.npy"], "--c0 was given but the model is a Keras model with layers other than LSTM" },
        { "mixed.keras", ["--hn", "hn.npy"], "their states do not stack" },
    };

    [Theory]
    [MemberData(nameof(UsageErrors))]
    public void FormatOptionsThatDoNotApplyAreUsageErrors(string modelName, string[] extra, string expected)
    {
        string input = _temp.WriteFloat32("x.npy", KerasImportTests.Input(3));
        _temp.WriteBytes("config.json", "{}"u8.ToArray());
        byte[] model = modelName switch
        {
            "gru.keras" => KerasFiles.KerasArchive([KerasLayerFixture.Random("GRU", "gru", 3, 4, 4)]),
            "mixed.keras" => KerasFiles.KerasArchive([KerasLayerFixture.Random("GRU", "gru", 3, 4, 5), KerasLayerFixture.Random("GRU", "gru_1", 4, 2, 6)]),
            "model.weights.h5" => KerasFiles.Keras3Weights(Stacked),
            _ => KerasFiles.KerasArchive(Stacked),
        };
        List<string> args = ["run", "--weights", _temp.WriteBytes(modelName, model), "--input", input, "--output", _temp.PathOf("y.npy")];
        args.AddRange(extra.Select(argument => argument.EndsWith(".json") || argument.EndsWith(".npy") ? _temp.PathOf(argument) : argument));

        CliResult result = CliHarness.Invoke(args);

        Assert.Equal(ExitCodes.Usage, result.ExitCode);
        Assert.Contains(expected, result.Stderr);
        Assert.False(File.Exists(_temp.PathOf("y.npy")));
    }
}
