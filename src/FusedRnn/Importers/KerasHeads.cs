using FusedRnn.IO;
using FusedRnn.IO.Keras;

namespace FusedRnn;

/// <summary>
/// A Keras model's Embedding and Dense layers from their configs and arrays, for a whole model
/// (<see cref="KerasModel.CreateSequenceModel"/>): the embedding's <c>(input_dim, output_dim)</c> table as it is, a
/// Dense kernel <c>(inputs, units)</c> transposed into <see cref="DenseLayer"/>'s <c>[units, inputs]</c>.
/// </summary>
internal static class KerasHeads
{
    /// <summary>Keras's activation names that a dense head computes.</summary>
    private static readonly Dictionary<string, DenseActivation> Activations = new(StringComparer.Ordinal)
    {
        ["linear"] = DenseActivation.Identity,
        ["relu"] = DenseActivation.Relu,
        ["tanh"] = DenseActivation.Tanh,
        ["sigmoid"] = DenseActivation.Sigmoid,
        ["softmax"] = DenseActivation.Softmax,
        ["log_softmax"] = DenseActivation.LogSoftmax,
    };

    public static EmbeddingLayer Embedding(KerasLayerEntry entry, IReadOnlyList<KerasArray> arrays, string source)
    {
        string what = $"layer {KerasConfig.Quote(entry.Name)} (Embedding)";
        int vocabulary = KerasConfig.RequiredPositiveInt(entry.Config, "input_dim", what, source);
        int dimension = KerasConfig.RequiredPositiveInt(entry.Config, "output_dim", what, source);
        if (KerasConfig.OptionalBool(entry.Config, "mask_zero", false, what, source))
            throw new UnsupportedModelException(source, $"{what} has mask_zero=True; give each row's length instead (id 0 then is an ordinary id)");
        KerasArray table = Single(arrays, 1, what, source)[0];
        RequireShape(table, [vocabulary, dimension], "embeddings", what, source);
        return new EmbeddingLayer(new FloatTensor(table.Values, vocabulary, dimension), $"layer {KerasConfig.Quote(entry.Name)}");
    }

    public static DenseLayer Dense(KerasLayerEntry entry, IReadOnlyList<KerasArray> arrays, string source)
    {
        string what = $"layer {KerasConfig.Quote(entry.Name)} (Dense)";
        int units = KerasConfig.RequiredPositiveInt(entry.Config, "units", what, source);
        bool useBias = KerasConfig.OptionalBool(entry.Config, "use_bias", true, what, source);
        string activationName = KerasModelReader.ActivationName(entry.Config, "activation", "linear", what, source) ?? "linear";
        if (!Activations.TryGetValue(activationName, out DenseActivation activation))
            throw new UnsupportedModelException(source, $"{what}: activation '{FileText.Escape(activationName)}' is not one of {string.Join(", ", Activations.Keys)}");
        IReadOnlyList<KerasArray> found = Single(arrays, useBias ? 2 : 1, what, source);
        KerasArray kernel = found[0];
        if (kernel.Shape.Length != 2 || kernel.Shape[1] != units)
            throw new MalformedFileException(source, $"{what}: kernel {KerasConfig.Quote(kernel.Path)} is {FloatTensor.FormatShape(kernel.Shape)}; it must be (inputs, {units})");
        int inputs = kernel.Shape[0];
        var weight = new float[units * inputs];
        for (int i = 0; i < inputs; i++)
            for (int j = 0; j < units; j++) weight[(j * inputs) + i] = kernel.Values[(i * units) + j];
        FloatTensor? bias = null;
        if (useBias)
        {
            RequireShape(found[1], [units], "bias", what, source);
            bias = new FloatTensor(found[1].Values, units);
        }

        return new DenseLayer(new FloatTensor(weight, units, inputs), bias, activation, $"layer {KerasConfig.Quote(entry.Name)}");
    }

    private static IReadOnlyList<KerasArray> Single(IReadOnlyList<KerasArray> arrays, int count, string what, string source) =>
        arrays.Count == count ? arrays
            : throw new MalformedFileException(source, $"{what} has {arrays.Count} weight arrays ({string.Join(", ", arrays.Select(a => KerasConfig.Quote(a.Path)))}); it has {count}");

    private static void RequireShape(KerasArray array, int[] shape, string role, string what, string source)
    {
        if (!array.Shape.AsSpan().SequenceEqual(shape))
            throw new MalformedFileException(source, $"{what}: {role} {KerasConfig.Quote(array.Path)} is {FloatTensor.FormatShape(array.Shape)}; its config makes it {FloatTensor.FormatShape(shape)}");
    }
}
