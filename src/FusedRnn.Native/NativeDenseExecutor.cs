using FusedRnn.Backends;
using FusedRnn.Native.Interop;

namespace FusedRnn.Native;

/// <summary>
/// A dense layer loaded into libfusedrnn (<c>frnn_dense</c>): the weight packed once for the GEMM kernels, each call
/// run on the workspace of the model that loaded it, so the head shares that model's worker threads.
/// </summary>
internal sealed unsafe class NativeDenseExecutor : DenseExecutor
{
    private readonly DenseSafeHandle dense;

    public NativeDenseExecutor(DenseLayer layer, int threads, RnnPrecision precision)
        : base(layer)
    {
        FrnnDenseSpec spec = new()
        {
            StructSize = (uint)sizeof(FrnnDenseSpec),
            InputSize = layer.InputSize,
            OutputSize = layer.OutputSize,
            Activation = (int)ToNative(layer.Activation),
            NumThreads = threads,
            Precision = (int)NativeExecutor.ToNative(precision),
            HasBias = layer.Bias is not null,
        };
        // The library copies the weight and bias during frnn_dense_create.
        fixed (float* weight = layer.Weight.Span)
        fixed (float* bias = layer.Bias is null ? default : layer.Bias.Span)
        {
            FrnnDenseHandle created;
            NativeCall.Check(FrnnNative.frnn_dense_create(&spec, weight, layer.Weight.Length, bias, layer.Bias?.Length ?? 0, &created),
                nameof(FrnnNative.frnn_dense_create));
            dense = DenseSafeHandle.Own(created);
        }
    }

    public override void Apply(ReadOnlySpan<float> input, int rows, Span<float> output, RnnWorkspace workspace)
    {
        WorkspaceSafeHandle workspaceHandle = workspace is NativeExecutor.NativeWorkspace native
            ? native.Handle
            : throw new ArgumentException("a native dense layer runs on a workspace of the cpu backend's model that loaded it", nameof(workspace));
        fixed (float* x = input)
        fixed (float* y = output)
        {
            using var references = new HandleReferences(dense, workspaceHandle);
            NativeCall.Check(FrnnNative.frnn_dense_forward(dense.Value, workspaceHandle.Value, rows, x, input.Length, y, output.Length),
                nameof(FrnnNative.frnn_dense_forward));
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) dense.Dispose();
    }

    private static FrnnDenseActivation ToNative(DenseActivation activation) => activation switch
    {
        DenseActivation.Identity => FrnnDenseActivation.Identity,
        DenseActivation.Relu => FrnnDenseActivation.Relu,
        DenseActivation.Tanh => FrnnDenseActivation.Tanh,
        DenseActivation.Sigmoid => FrnnDenseActivation.Sigmoid,
        DenseActivation.Softmax => FrnnDenseActivation.Softmax,
        DenseActivation.LogSoftmax => FrnnDenseActivation.LogSoftmax,
        _ => throw new ArgumentOutOfRangeException(nameof(activation), activation, "no native dense activation"),
    };
}
