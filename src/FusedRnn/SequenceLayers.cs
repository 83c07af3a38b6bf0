using System.Numerics;
using System.Numerics.Tensors;

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

    /// <summary>
    /// The layer on each of <paramref name="rows"/> input rows: products and activations in float32 (FMA dot products,
    /// TensorPrimitives' activations) or, for <see cref="RnnPrecision.Float64"/>, in double, rounded to float32 once.
    /// </summary>
    /// <param name="input">Rows of <see cref="InputSize"/> floats.</param>
    /// <param name="rows">How many.</param>
    /// <param name="output">Rows of <see cref="OutputSize"/> floats.</param>
    /// <param name="precision">The model's precision.</param>
    /// <param name="wide">For Float64, <see cref="OutputSize"/> doubles of scratch; empty to allocate them.</param>
    internal void Apply(ReadOnlySpan<float> input, int rows, Span<float> output, RnnPrecision precision, Span<double> wide = default)
    {
        int inputs = InputSize, outputs = OutputSize;
        ReadOnlySpan<float> weight = Weight.Span;
        ReadOnlySpan<float> bias = Bias is null ? default : Bias.Span;
        if (precision == RnnPrecision.Float64 && wide.IsEmpty) wide = new double[outputs];
        for (int row = 0; row < rows; row++)
        {
            ReadOnlySpan<float> x = input.Slice(row * inputs, inputs);
            Span<float> y = output.Slice(row * outputs, outputs);
            if (precision == RnnPrecision.Float64)
            {
                for (int j = 0; j < outputs; j++) wide[j] = DotInDouble(weight.Slice(j * inputs, inputs), x) + (bias.IsEmpty ? 0 : bias[j]);
                ActivateInDouble(wide);
                for (int j = 0; j < outputs; j++) y[j] = (float)wide[j];
                continue;
            }

            for (int j = 0; j < outputs; j++) y[j] = TensorPrimitives.Dot(weight.Slice(j * inputs, inputs), x) + (bias.IsEmpty ? 0 : bias[j]);
            Activate(y);
        }
    }

    private void Activate(Span<float> y)
    {
        switch (Activation)
        {
            case DenseActivation.Relu:
                TensorPrimitives.Max(y, 0f, y);
                break;
            case DenseActivation.Tanh:
                TensorPrimitives.Tanh(y, y);
                break;
            case DenseActivation.Sigmoid:
                TensorPrimitives.Sigmoid(y, y);
                break;
            case DenseActivation.Softmax:
                TensorPrimitives.SoftMax(y, y);
                break;
            case DenseActivation.LogSoftmax:
                float max = TensorPrimitives.Max(y);
                TensorPrimitives.Subtract(y, max, y);
                float logSum = MathF.Log(SumOfExp(y));
                TensorPrimitives.Subtract(y, logSum, y);
                break;
        }
    }

    private static float SumOfExp(ReadOnlySpan<float> y)
    {
        double sum = 0;
        foreach (float value in y) sum += MathF.Exp(value);
        return (float)sum;
    }

    private void ActivateInDouble(Span<double> y)
    {
        switch (Activation)
        {
            case DenseActivation.Relu:
                for (int j = 0; j < y.Length; j++) y[j] = Math.Max(0, y[j]);
                break;
            case DenseActivation.Tanh:
                for (int j = 0; j < y.Length; j++) y[j] = Math.Tanh(y[j]);
                break;
            case DenseActivation.Sigmoid:
                for (int j = 0; j < y.Length; j++) y[j] = 1 / (1 + Math.Exp(-y[j]));
                break;
            case DenseActivation.Softmax or DenseActivation.LogSoftmax:
                double max = double.NegativeInfinity, sum = 0;
                foreach (double value in y) max = Math.Max(max, value);
                foreach (double value in y) sum += Math.Exp(value - max);
                for (int j = 0; j < y.Length; j++) y[j] = Activation == DenseActivation.Softmax ? Math.Exp(y[j] - max) / sum : y[j] - max - Math.Log(sum);
                break;
        }
    }

    /// <summary>Σ a·b with every product and sum in double: float vectors widened to two double vectors each, FMA into two accumulators.</summary>
    private static double DotInDouble(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        int i = 0;
        double sum = 0;
        if (Vector.IsHardwareAccelerated && a.Length >= Vector<float>.Count)
        {
            Vector<double> low = Vector<double>.Zero, high = Vector<double>.Zero;
            for (; i <= a.Length - Vector<float>.Count; i += Vector<float>.Count)
            {
                Vector.Widen(new Vector<float>(a[i..]), out Vector<double> aLow, out Vector<double> aHigh);
                Vector.Widen(new Vector<float>(b[i..]), out Vector<double> bLow, out Vector<double> bHigh);
                low = Vector.FusedMultiplyAdd(aLow, bLow, low);
                high = Vector.FusedMultiplyAdd(aHigh, bHigh, high);
            }

            sum = Vector.Sum(low + high);
        }

        for (; i < a.Length; i++) sum = Math.FusedMultiplyAdd(a[i], b[i], sum);
        return sum;
    }
}
