using System.Numerics.Tensors;
using FusedRnn.Tests.Support;

namespace FusedRnn.Tests.Hardening;

/// <summary>
/// System.Numerics.Tensors next to FusedRnn: no name clash, its tensors accepted as inputs without a copy, and
/// read-only memory accepted as an input tensor.
/// </summary>
public class TensorInteropTests
{
    private static readonly RnnSpec Spec = new(CellKind.Lstm, 3, 4, NumLayers: 2);

    [Fact]
    public void TensorOfFloatGivesWhatAFloatTensorGives()
    {
        using var lstm = new Lstm(RandomNetworks.Create(Spec, 2), new RnnOptions { Backend = RnnBackends.Managed });
        float[] x = RandomNetworks.Uniform(new Random(1), 5 * 2 * 3, 1f), h0 = RandomNetworks.Uniform(new Random(2), 2 * 2 * 4, 1f);
        LstmOutput expected = lstm.Forward(new FloatTensor(x, 5, 2, 3), new FloatTensor(h0, 2, 2, 4));

        Tensor<float> input = Tensor.Create(x, [5, 2, 3]);
        LstmOutput fromTensor = lstm.Forward(input, Tensor.Create(h0, [2, 2, 4]));
        LstmOutput fromSpan = lstm.Forward(input.AsReadOnlyTensorSpan(), new TensorSpan<float>(h0, [2, 2, 4]));
        foreach (LstmOutput got in new[] { fromTensor, fromSpan })
        {
            Assert.Equal(expected.Output.ToArray(), got.Output.ToArray());
            Assert.Equal(expected.HiddenState.ToArray(), got.HiddenState.ToArray());
            Assert.Equal(expected.CellState.ToArray(), got.CellState.ToArray()); // never null for an LSTM
        }
    }

    [Fact]
    public void TensorInputsAreShapeChecked()
    {
        using var lstm = new Lstm(RandomNetworks.Create(Spec, 2), new RnnOptions { Backend = RnnBackends.Managed });
        var e = Assert.Throws<ShapeMismatchException>(() => lstm.Forward(Tensor.Create(new float[30], [5, 2, 3]), Tensor.Create(new float[8], [2, 1, 4])));
        Assert.Equal("h0", e.ParamName);
        e = Assert.Throws<ShapeMismatchException>(() => lstm.Forward(Tensor.Create(new float[30], [5, 6])));
        Assert.Equal("input", e.ParamName);
    }

    [Fact]
    public void StridedTensorsAreRejected()
    {
        using var lstm = new Lstm(RandomNetworks.Create(Spec, 2), new RnnOptions { Backend = RnnBackends.Managed });
        // [5, 2, 3] over 60 floats with a row stride of 6: not dense.
        var e = Assert.Throws<ArgumentException>(() => lstm.Forward(new ReadOnlyTensorSpan<float>(new float[60], [5, 2, 3], [12, 6, 1])));
        Assert.Equal("input", e.ParamName);
        Assert.Contains("dense", e.Message);
    }

    [Fact]
    public void ReadOnlyMemoryIsAnInputTensor()
    {
        using var gru = new Gru(RandomNetworks.Create(new RnnSpec(CellKind.Gru, 3, 4), 2), new RnnOptions { Backend = RnnBackends.Managed });
        float[] x = RandomNetworks.Uniform(new Random(1), 4 * 3, 1f);
        ReadOnlyMemory<float> readOnly = x;
        Assert.Equal(gru.Forward(new FloatTensor(x, 4, 1, 3)).Output.ToArray(), gru.Forward(new FloatTensor(readOnly, 4, 1, 3)).Output.ToArray());
    }
}
