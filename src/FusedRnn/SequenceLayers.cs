namespace FusedRnn;

/// <summary>The function a <see cref="DenseLayer"/> applies to its outputs.</summary>
public enum DenseActivation
{
    /// <summary>None: y = W·x + b.</summary>
    Identity,

    /// <summary>max(0, y).</summary>
    Relu,

    /// <summary>tanh(y).</summary>
    Tanh,

    /// <summary>1 / (1 + e^−y).</summary>
    Sigmoid,

    /// <summary>e^y / Σ e^y over the layer's outputs.</summary>
    Softmax,

    /// <summary>y − log Σ e^y over the layer's outputs.</summary>
    LogSoftmax,
}

/// <summary>A token-id → vector table: <c>nn.Embedding</c>, Keras's <c>Embedding</c>, ONNX's Gather on a table.</summary>
public sealed class EmbeddingLayer
{
    /// <summary>A table of <c>[vocabulary, dimension]</c> float32 vectors, row i the vector of id i.</summary>
    /// <param name="weight">The table.</param>
    /// <param name="name">What messages call the layer (its tensor's or layer's name in the model file).</param>
    /// <exception cref="ShapeMismatchException">The table is not a non-empty matrix.</exception>
    public EmbeddingLayer(FloatTensor weight, string name = "embedding")
    {
        ArgumentNullException.ThrowIfNull(name);
        Name = name;
        ArgumentNullException.ThrowIfNull(weight);
        if (weight.Rank != 2 || weight.Dim(0) < 1 || weight.Dim(1) < 1)
            throw new ShapeMismatchException(nameof(weight), "[vocabulary, dimension]", $"has shape {FloatTensor.FormatShape(weight.Shape)}", "an embedding table of at least one id and one feature");
        Weight = weight;
    }

    /// <summary>What messages call the layer.</summary>
    public string Name { get; }

    /// <summary>The table, <c>[vocabulary, dimension]</c>.</summary>
    public FloatTensor Weight { get; }

    /// <summary>How many ids the table holds: valid ids are 0 to this − 1.</summary>
    public int VocabularySize => Weight.Dim(0);

    /// <summary>The length of each vector.</summary>
    public int Dimension => Weight.Dim(1);

    /// <summary>Each id's vector, one after another, into <paramref name="vectors"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">An id is outside 0..<see cref="VocabularySize"/> − 1; the message names its position.</exception>
    public void Lookup(ReadOnlySpan<long> ids, Span<float> vectors)
    {
        int dimension = Dimension;
        if (vectors.Length != (long)ids.Length * dimension)
            throw new ArgumentException($"vectors holds {vectors.Length} floats; {ids.Length} ids of {dimension} features need {(long)ids.Length * dimension}", nameof(vectors));
        ReadOnlySpan<float> table = Weight.Span;
        for (int i = 0; i < ids.Length; i++)
        {
            long id = ids[i];
            if (id < 0 || id >= VocabularySize)
                throw new ArgumentOutOfRangeException(nameof(ids), id, $"ids[{i}] is {id}; the embedding holds ids 0 to {VocabularySize - 1}");
            table.Slice((int)id * dimension, dimension).CopyTo(vectors.Slice(i * dimension, dimension));
        }
    }
}

/// <summary>
/// A fully connected layer, <c>y = activation(W·x + b)</c>, with W in PyTorch's <c>nn.Linear</c> layout
/// <c>[outputs, inputs]</c> (Keras's kernel transposed, ONNX's MatMul weight transposed).
/// </summary>
public sealed class DenseLayer
{
    /// <summary>A layer of <paramref name="weight"/> <c>[outputs, inputs]</c>, <paramref name="bias"/> <c>[outputs]</c> or none, and an activation.</summary>
    /// <param name="weight">W.</param>
    /// <param name="bias">b, or null.</param>
    /// <param name="activation">The function applied to W·x + b.</param>
    /// <param name="name">What messages call the layer (its tensor's or layer's name in the model file); null for its place in the model.</param>
    /// <exception cref="ShapeMismatchException">The weight is not a non-empty matrix, or the bias does not have one value per output.</exception>
    public DenseLayer(FloatTensor weight, FloatTensor? bias, DenseActivation activation = DenseActivation.Identity, string? name = null)
    {
        Name = name;
        ArgumentNullException.ThrowIfNull(weight);
        if (weight.Rank != 2 || weight.Dim(0) < 1 || weight.Dim(1) < 1)
            throw new ShapeMismatchException(nameof(weight), "[outputs, inputs]", $"has shape {FloatTensor.FormatShape(weight.Shape)}", "a dense layer's weight");
        if (bias is not null && (bias.Rank != 1 || bias.Dim(0) != weight.Dim(0)))
            throw new ShapeMismatchException(nameof(bias), $"[{weight.Dim(0)}]", $"has shape {FloatTensor.FormatShape(bias.Shape)}", "one bias per output");
        if (!Enum.IsDefined(activation)) throw new ArgumentOutOfRangeException(nameof(activation), activation, "not a DenseActivation");
        Weight = weight;
        Bias = bias;
        Activation = activation;
    }

    /// <summary>What messages call the layer; null for its place in the model.</summary>
    public string? Name { get; }

    /// <summary>W, <c>[outputs, inputs]</c>.</summary>
    public FloatTensor Weight { get; }

    /// <summary>b, <c>[outputs]</c>; null for none.</summary>
    public FloatTensor? Bias { get; }

    /// <summary>The function applied to W·x + b.</summary>
    public DenseActivation Activation { get; }

    /// <summary>Features of each input row.</summary>
    public int InputSize => Weight.Dim(1);

    /// <summary>Features of each output row.</summary>
    public int OutputSize => Weight.Dim(0);
}
