using System.Buffers;
using System.Numerics;
using System.Numerics.Tensors;

namespace FusedRnn.Backends.Managed;

/// <summary>
/// A dense layer in managed code: the products in float32 (TensorPrimitives' FMA dot products) or, for
/// <see cref="RnnPrecision.Float64"/>, in double (a vectorized double dot product), rounded to float32 once after the
/// activation. With more than one thread and a <see cref="ManagedWorkspace"/>, the participants of its team take
/// contiguous ranges of outputs for every row (the native library's split); the caller then applies the activation row
/// by row. Each output's dot product is the same whatever the split.
/// </summary>
internal sealed unsafe class ManagedDenseExecutor(DenseLayer layer, RnnPrecision precision, int threads) : DenseExecutor(layer)
{
    /// <summary>Below this many multiply-adds a call runs on the caller alone, as in the native library.</summary>
    private const long MinParallelMultiplyAdds = 32 * 1024;

    public override void Apply(ReadOnlySpan<float> input, int rows, Span<float> output, RnnWorkspace workspace)
    {
        int outputs = Layer.OutputSize;
        long multiplyAdds = (long)rows * outputs * Layer.InputSize;
        var managed = workspace as ManagedWorkspace;
        int planned = managed is not null && threads > 1 && multiplyAdds >= MinParallelMultiplyAdds ? int.Min(threads, outputs) : 1;
        int participants = managed?.Hire(planned) ?? 1;
        double[]? wide = null;
        try
        {
            if (precision == RnnPrecision.Float64) wide = ArrayPool<double>.Shared.Rent(rows * outputs);
            if (participants == 1)
            {
                Products(input, rows, output, wide, new IndexRange(0, outputs));
            }
            else
            {
                // Workers read and write through the pinned spans only while the caller waits in Run.
                fixed (float* x = input)
                fixed (float* y = output)
                {
                    DenseCall call = managed!.Dense ??= new DenseCall();
                    call.Start(this, x, input.Length, y, output.Length, rows, wide, participants);
                    try
                    {
                        managed.Run(call.Job, participants);
                    }
                    finally
                    {
                        call.Finish();
                    }
                }
            }

            for (int row = 0; row < rows; row++)
            {
                Span<float> y = output.Slice(row * outputs, outputs);
                if (wide is null)
                {
                    Activate(y);
                    continue;
                }

                Span<double> sums = wide.AsSpan(row * outputs, outputs);
                ActivateInDouble(sums);
                for (int j = 0; j < outputs; j++) y[j] = (float)sums[j];
            }
        }
        finally
        {
            managed?.Dismiss(); // only when Run did not happen: it gives its workers back itself
            if (wide is not null) ArrayPool<double>.Shared.Return(wide);
        }
    }

    /// <summary>W·x + b for outputs <paramref name="mine"/> of every row: into <paramref name="output"/>, or into <paramref name="wide"/> for Float64.</summary>
    internal void Products(ReadOnlySpan<float> input, int rows, Span<float> output, double[]? wide, IndexRange mine)
    {
        int inputs = Layer.InputSize, outputs = Layer.OutputSize;
        ReadOnlySpan<float> weight = Layer.Weight.Span;
        ReadOnlySpan<float> bias = Layer.Bias is null ? default : Layer.Bias.Span;
        for (int row = 0; row < rows; row++)
        {
            ReadOnlySpan<float> x = input.Slice(row * inputs, inputs);
            if (wide is not null)
            {
                Span<double> sums = wide.AsSpan(row * outputs, outputs);
                for (int j = mine.Start; j < mine.End; j++) sums[j] = DotInDouble(weight.Slice(j * inputs, inputs), x) + (bias.IsEmpty ? 0 : bias[j]);
                continue;
            }

            Span<float> y = output.Slice(row * outputs, outputs);
            for (int j = mine.Start; j < mine.End; j++) y[j] = TensorPrimitives.Dot(weight.Slice(j * inputs, inputs), x) + (bias.IsEmpty ? 0 : bias[j]);
        }
    }

    private void Activate(Span<float> y)
    {
        switch (Layer.Activation)
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
        switch (Layer.Activation)
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
                for (int j = 0; j < y.Length; j++) y[j] = Layer.Activation == DenseActivation.Softmax ? Math.Exp(y[j] - max) / sum : y[j] - max - Math.Log(sum);
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

/// <summary>
/// One threaded <see cref="ManagedDenseExecutor.Apply"/> call as its participants see it: the caller's pinned buffers
/// for the length of the call. One per workspace, its job made once, so calls allocate nothing.
/// </summary>
internal sealed unsafe class DenseCall
{
    private ManagedDenseExecutor? _executor;
    private float* _input;
    private float* _output;
    private int _inputLength, _outputLength, _rows, _participants;
    private double[]? _wide;

    public DenseCall() => Job = Run;

    /// <summary>Computes participant i's share of the outputs.</summary>
    public Action<int> Job { get; }

    public void Start(ManagedDenseExecutor executor, float* input, int inputLength, float* output, int outputLength, int rows, double[]? wide, int participants)
    {
        _executor = executor;
        _input = input;
        _inputLength = inputLength;
        _output = output;
        _outputLength = outputLength;
        _rows = rows;
        _wide = wide;
        _participants = participants;
    }

    /// <summary>Drops the pointers and references of the call that ended.</summary>
    public void Finish()
    {
        _executor = null;
        _input = null;
        _output = null;
        _wide = null;
    }

    private void Run(int participant)
    {
        ManagedDenseExecutor executor = _executor!;
        executor.Products(new ReadOnlySpan<float>(_input, _inputLength), _rows, new Span<float>(_output, _outputLength), _wide,
            IndexRange.Share(executor.Layer.OutputSize, participant, _participants));
    }
}
