using FusedRnn.IO;
using FusedRnn.Tests.Support;

namespace FusedRnn.Tests.SequenceModels;

/// <summary>
/// <see cref="SequenceModel"/> from a PyTorch state_dict and its JSON description: Embedding → LSTM → GRU → Linear
/// heads against the parts run one by one (the modules themselves, the heads in float64), streams stepped against the
/// whole sequence, and every bad input refused with a typed error naming the layer.
/// </summary>
public class SequenceModelTests
{
    internal const int Vocabulary = 11, EmbeddingSize = 4, Classes = 6;

    /// <summary>Embedding(11, 4) → LSTM(4, 5) → GRU(5, 3) → Linear(3, 7) relu → Linear(7, 6) with <paramref name="activation"/>.</summary>
    internal static (byte[] Weights, string Description, RnnWeights Lstm, RnnWeights Gru, float[] Table, (float[] W, float[] B)[] Heads) PyTorchModel(
        string activation = "log_softmax", string headSteps = "every")
    {
        var random = new Random(13);
        float[] Values(int count) => [.. Enumerable.Range(0, count).Select(_ => (float)(random.NextDouble() - 0.5))];
        RnnWeights lstm = RandomNetworks.Create(new RnnSpec(CellKind.Lstm, EmbeddingSize, 5), seed: 1);
        RnnWeights gru = RandomNetworks.Create(new RnnSpec(CellKind.Gru, 5, 3), seed: 2);
        float[] table = Values(Vocabulary * EmbeddingSize);
        (float[] W, float[] B)[] heads = [(Values(7 * 3), Values(7)), (Values(Classes * 7), Values(Classes))];
        var tensors = new Dictionary<string, (int[] Shape, float[] Data)>
        {
            ["embedding.weight"] = ([Vocabulary, EmbeddingSize], table),
            ["fc1.weight"] = ([7, 3], heads[0].W),
            ["fc1.bias"] = ([7], heads[0].B),
            ["out.weight"] = ([Classes, 7], heads[1].W),
            ["out.bias"] = ([Classes], heads[1].B),
        };
        foreach (var tensor in lstm.ToStateDict("lstm.").Concat(gru.ToStateDict("gru."))) tensors[tensor.Key] = tensor.Value;
        string description = $$"""
            {
              "embedding": "embedding.weight",
              "recurrent": [{ "prefix": "lstm." }, { "prefix": "gru." }],
              "heads": [
                { "weight": "fc1.weight", "bias": "fc1.bias", "activation": "relu" },
                { "weight": "out.weight", "bias": "out.bias", "activation": "{{activation}}" }
              ],
              "head_steps": "{{headSteps}}"
            }
            """;
        return (SafetensorsWriter.ToBytes(tensors), description, lstm, gru, table, heads);
    }

    internal static SequenceModel Load(string description, byte[] weights, RnnOptions? options = null) =>
        SequenceModel.FromPyTorch(SafetensorsFile.Parse(weights, "model.safetensors"), description, "model.json", options);

    internal static long[] Ids(int count, int seed)
    {
        var random = new Random(seed);
        return [.. Enumerable.Range(0, count).Select(_ => (long)random.Next(Vocabulary))];
    }

    /// <summary>The whole model equals its parts: the table's rows, the two modules on their own, and the heads in float64.</summary>
    [Theory]
    [MemberData(nameof(BackendUnderTest.NamesAndPrecisions), MemberType = typeof(BackendUnderTest))]
    public void IsItsPartsInOneCall(string backendName, RnnPrecision precision)
    {
        var (weights, description, lstmWeights, gruWeights, table, heads) = PyTorchModel();
        RnnOptions options = BackendUnderTest.Get(backendName).In(precision);
        using SequenceModel model = Load(description, weights, options);
        const int steps = 5, batch = 3;
        long[] ids = Ids(steps * batch, 3);
        int[] lengths = [5, 2, 4];

        FloatTensor y = model.ForwardIds(ids, [steps, batch], lengths);

        var x = new float[steps * batch * EmbeddingSize];
        for (int i = 0; i < ids.Length; i++) table.AsSpan((int)ids[i] * EmbeddingSize, EmbeddingSize).CopyTo(x.AsSpan(i * EmbeddingSize));
        using RecurrentModule lstm = RecurrentModule.Create(lstmWeights, options);
        using RecurrentModule gru = RecurrentModule.Create(gruWeights, options);
        FloatTensor features = gru.Forward(lstm.Forward(new FloatTensor(x, steps, batch, EmbeddingSize), lengths: lengths).Output, lengths: lengths).Output;
        Assert.Equal([steps, batch, Classes], y.Shape.ToArray());
        for (int row = 0; row < steps * batch; row++)
        {
            double[] a = [.. features.Span.Slice(row * 3, 3).ToArray().Select(v => (double)v)];
            a = Dense(heads[0], a, Math.Max);
            a = Dense(heads[1], a, (v, _) => v);
            double logSum = Math.Log(a.Sum(v => Math.Exp(v - a.Max()))) + a.Max();
            for (int j = 0; j < Classes; j++)
            {
                double expected = a[j] - logSum, actual = y.Span[(row * Classes) + j];
                Assert.True(Math.Abs(actual - expected) <= 2e-6 * Math.Max(1, Math.Abs(expected)), $"row {row} class {j}: {actual} against {expected} ({backendName} {precision})");
            }
        }
    }

    private static double[] Dense((float[] W, float[] B) layer, double[] a, Func<double, double, double> activation)
    {
        int outputs = layer.B.Length;
        return [.. Enumerable.Range(0, outputs).Select(j => activation(layer.B[j] + Enumerable.Range(0, a.Length).Sum(i => layer.W[(j * a.Length) + i] * a[i]), 0))];
    }

    /// <summary>Each row's output at its last valid step, batch-first ids: the every-step output's row at length − 1.</summary>
    [Fact]
    public void LastStepIsEachRowsLastValidStep()
    {
        var (weights, every, _, _, _, _) = PyTorchModel("softmax");
        var (_, last, _, _, _, _) = PyTorchModel("softmax", "last");
        var options = new RnnOptions { BatchFirst = true };
        using SequenceModel everyStep = Load(every, weights, options);
        using SequenceModel lastStep = Load(last, weights, options);
        const int steps = 6, batch = 4;
        long[] ids = Ids(steps * batch, 4);
        int[] lengths = [6, 1, 3, 5];

        FloatTensor all = everyStep.ForwardIds(ids, [batch, steps], lengths);
        FloatTensor y = lastStep.ForwardIds(ids, [batch, steps], lengths);

        Assert.Equal([batch, Classes], y.Shape.ToArray());
        Assert.Equal([batch, Classes], lastStep.OutputShape([batch, steps]));
        for (int b = 0; b < batch; b++)
            Assert.Equal(all.Span.Slice(((b * steps) + lengths[b] - 1) * Classes, Classes).ToArray(), y.Span.Slice(b * Classes, Classes).ToArray());
        Assert.Equal(1f, y.Span[..Classes].ToArray().Sum(), 5);
    }

    /// <summary>A stream stepped one id at a time gives the whole sequence's output: bit for bit in float32, to 1e-6 in float64 (whose state is stored in float32 between steps).</summary>
    [Theory]
    [MemberData(nameof(BackendUnderTest.NamesAndPrecisions), MemberType = typeof(BackendUnderTest))]
    public void StepsAreTheWholeSequence(string backendName, RnnPrecision precision)
    {
        var (weights, description, _, _, _, _) = PyTorchModel();
        using SequenceModel model = Load(description, weights, BackendUnderTest.Get(backendName).In(precision));
        const int steps = 5, batch = 2;
        long[] ids = Ids(steps * batch, 5);
        FloatTensor whole = model.ForwardIds(ids, [steps, batch]);

        using SequenceModelState state = model.CreateState(batch);
        for (int t = 0; t < steps; t++)
        {
            FloatTensor y = model.StepIds(ids.AsSpan(t * batch, batch), state);
            Assert.Equal([batch, Classes], y.Shape.ToArray());
            if (precision == RnnPrecision.Float32) Assert.Equal(whole.Span.Slice(t * batch * Classes, batch * Classes).ToArray(), y.ToArray());
            else Tolerance.AssertClose(whole.Span.Slice(t * batch * Classes, batch * Classes).ToArray(), y.Span, 1e-6, $"step {t}");
        }

        state.Reset();
        Assert.Equal(whole.Span[..(batch * Classes)].ToArray(), model.StepIds(ids.AsSpan(0, batch), state).ToArray());
        Assert.Equal([1, batch, 5], state.HiddenState(0).Shape.ToArray());
        Assert.NotNull(state.CellState(0));
        Assert.Null(state.CellState(1));
    }

    /// <summary>A stream's step into a caller's span allocates nothing once the state has stepped, on every backend and in both precisions.</summary>
    [Theory]
    [MemberData(nameof(BackendUnderTest.NamesAndPrecisions), MemberType = typeof(BackendUnderTest))]
    public void AStepIntoASpanAllocatesNothingAfterTheFirst(string backendName, RnnPrecision precision)
    {
        var (weights, description, _, _, _, _) = PyTorchModel();
        using SequenceModel model = Load(description, weights, BackendUnderTest.Get(backendName).In(precision));
        using SequenceModelState state = model.CreateState(2);
        long[] ids = [3, 7];
        var y = new float[2 * Classes];
        for (int i = 0; i < 3; i++) model.StepIds(ids, state, y);

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 20; i++) model.StepIds(ids, state, y);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, allocated);
        Assert.Contains(y, v => v != 0);
        Assert.Throws<ShapeMismatchException>(() => model.StepIds(ids, state, new float[Classes]));
    }

    [Fact]
    public void AModelOfVectorsStepsAndRunsWithoutAnEmbedding()
    {
        RnnWeights weights = RandomNetworks.Create(new RnnSpec(CellKind.RnnTanh, 3, 4, NumLayers: 2), seed: 9);
        using SequenceModel model = SequenceModel.Create(new SequenceModelParts(null, [weights], []));
        var x = new FloatTensor([.. Enumerable.Range(0, 2 * 3).Select(i => i / 10f)], 2, 3);
        using RecurrentModule module = RecurrentModule.Create(weights);
        Assert.Equal(module.Forward(x).Output.ToArray(), model.Forward(x).ToArray());
        Assert.Equal([2, 4], model.OutputShape([2, 3]));
        Assert.Equal(4, model.OutputSize);
        Assert.Contains("RNN_TANH", model.ToString(), StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>A change to the valid description or weights, the exception it must raise and a part of its message.</summary>
    public sealed record BadModel(string Name, Func<string, string> Description, Type Exception, string Message);

    private static readonly BadModel[] BadModels =
    [
        new("not JSON", _ => "{", typeof(MalformedFileException), "model.json: not JSON"),
        new("not an object", _ => "[]", typeof(MalformedFileException), "the description is a Array, not an object"),
        new("an unknown property", d => d.Replace("\"head_steps\"", "\"head_step\""), typeof(MalformedFileException), "has property 'head_step'; it takes embedding, recurrent, heads, head_steps"),
        new("a property twice", d => d.Replace("\"head_steps\": \"every\"", "\"head_steps\": \"every\", \"head_steps\": \"last\""), typeof(MalformedFileException), "has property head_steps twice"),
        new("no recurrent module", d => d.Replace("[{ \"prefix\": \"lstm.\" }, { \"prefix\": \"gru.\" }]", "[]"), typeof(MalformedFileException), "recurrent must be a list of one or more"),
        new("an empty prefix", d => d.Replace("\"gru.\"", "\"\""), typeof(MalformedFileException), "recurrent[1].prefix is empty"),
        new("an unknown activation", d => d.Replace("\"log_softmax\"", "\"swish\""), typeof(MalformedFileException), "heads[1].activation is 'swish', not one of identity, relu"),
        new("an unknown step choice", d => d.Replace("\"every\"", "\"first\""), typeof(MalformedFileException), "head_steps is 'first', not every, last or final_state"),
        new("a number for a name", d => d.Replace("\"out.bias\"", "3"), typeof(MalformedFileException), "heads[1].bias is a Number, not a string"),
        new("a missing tensor", d => d.Replace("\"out.bias\"", "\"out.b\""), typeof(InvalidWeightsException), "model.safetensors: heads[1].bias names tensor 'out.b', which the file does not hold"),
        new("a missing embedding", d => d.Replace("\"embedding.weight\"", "\"emb.weight\""), typeof(InvalidWeightsException), "embedding names tensor 'emb.weight'"),
        new("a prefix with no module", d => d.Replace("\"gru.\"", "\"rnn.\""), typeof(InvalidWeightsException), "rnn."),
        new("a bias as a weight", d => d.Replace("\"weight\": \"out.weight\"", "\"weight\": \"out.bias\""), typeof(InvalidWeightsException), "heads[1].weight 'out.bias' is [6]; it must be a non-empty matrix"),
        new("heads in the wrong order", d => d.Replace("\"fc1.weight\", \"bias\": \"fc1.bias\"", "\"out.weight\", \"bias\": \"out.bias\"").Replace("\"out.weight\", \"bias\": \"out.bias\", \"activation\": \"log_softmax\"", "\"fc1.weight\", \"bias\": \"fc1.bias\", \"activation\": \"log_softmax\""),
            typeof(InvalidWeightsException), "model.safetensors: heads[0] ('out.weight'): takes 7 features but recurrent[1] ('gru.') gives 3"),
        new("modules in the wrong order", d => d.Replace("[{ \"prefix\": \"lstm.\" }, { \"prefix\": \"gru.\" }]", "[{ \"prefix\": \"gru.\" }, { \"prefix\": \"lstm.\" }]"),
            typeof(InvalidWeightsException), "recurrent[0] ('gru.'): takes input_size 5 but embedding.weight gives 4 features"),
        new("a bias of another size", d => d.Replace("\"bias\": \"out.bias\"", "\"bias\": \"fc1.bias\""), typeof(InvalidWeightsException), "heads[1].bias 'fc1.bias' is [7] but its weight has 6 outputs"),
    ];

    public static TheoryData<string> BadModelNames => [.. BadModels.Select(bad => bad.Name)];

    [Theory]
    [MemberData(nameof(BadModelNames))]
    public void ABadDescriptionIsRefusedNamingTheLayer(string name)
    {
        BadModel bad = BadModels.Single(b => b.Name == name);
        var (weights, description, _, _, _, _) = PyTorchModel();
        Exception error = Assert.Throws(bad.Exception, () => Load(bad.Description(description), weights).Dispose());
        Assert.Contains(bad.Message, error.Message);
    }

    [Fact]
    public void BadCallsAreRefused()
    {
        var (weights, description, _, _, _, _) = PyTorchModel();
        SequenceModel model = Load(description, weights);
        var idsError = Assert.Throws<ArgumentOutOfRangeException>(() => model.ForwardIds([1, 2, Vocabulary], [3, 1]));
        Assert.Contains($"ids[2] is {Vocabulary}; the embedding holds ids 0 to {Vocabulary - 1}", idsError.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => model.ForwardIds([-1], [1]));
        Assert.Throws<ShapeMismatchException>(() => model.ForwardIds([1, 2, 3], [2, 2]));
        Assert.Throws<ShapeMismatchException>(() => model.ForwardIds([1, 2], [1, 1, 2]));
        Assert.Throws<ArgumentOutOfRangeException>(() => model.ForwardIds([1, 2, 3], [3, 1], [4]));
        Assert.Throws<InvalidOperationException>(() => model.Forward(FloatTensor.Zeros(3, 1, EmbeddingSize)));
        Assert.Throws<InvalidOperationException>(() => model.Step(FloatTensor.Zeros(1, EmbeddingSize), model.CreateState(1)));
        using SequenceModelState state = model.CreateState(2);
        Assert.Throws<ArgumentOutOfRangeException>(() => model.StepIds([1, Vocabulary], state));
        Assert.Throws<ShapeMismatchException>(() => model.StepIds([1], state));
        using (SequenceModel other = Load(description, weights)) Assert.Throws<ArgumentException>(() => other.StepIds([1, 2], state));
        Assert.Throws<ArgumentOutOfRangeException>(() => model.CreateState(0));
        model.Dispose();
        Assert.Throws<ObjectDisposedException>(() => model.ForwardIds([1], [1]));

        RnnWeights bidirectional = RandomNetworks.Create(new RnnSpec(CellKind.Gru, 2, 3, Bidirectional: true), seed: 1);
        using SequenceModel both = SequenceModel.Create(new SequenceModelParts(null, [bidirectional], []));
        Assert.Contains("bidirectional", Assert.Throws<InvalidOperationException>(() => both.CreateState(1)).Message);
        Assert.Throws<ArgumentException>(() => SequenceModel.Create(new SequenceModelParts(null, [], [])));
        Assert.Throws<ShapeMismatchException>(() => new DenseLayer(FloatTensor.Zeros(3), null));
        Assert.Throws<ShapeMismatchException>(() => new DenseLayer(FloatTensor.Zeros(2, 3), FloatTensor.Zeros(3)));
        Assert.Throws<ShapeMismatchException>(() => new EmbeddingLayer(FloatTensor.Zeros(0, 3)));
    }
}
