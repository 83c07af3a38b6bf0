using FusedRnn.Backends.Managed;

namespace FusedRnn.Tests.Managed;

/// <summary>
/// The managed packing is the native library's layout (native/src/common/weight_packing.h): unit blocks of W units,
/// each stored k-major <c>[depth][G][W]</c>, biases in the same (block, gate, lane) column order, b_hh folded except
/// GRU's b_hn.
/// </summary>
public class WeightLayoutTests
{
    [Theory]
    [InlineData(4, 5, 3, 2)] // a partial last block
    [InlineData(3, 16, 7, 8)]
    [InlineData(1, 9, 4, 16)]
    [InlineData(4, 33, 1, 1)] // W = 1: unit-interleaved
    public void MatricesArePackedInNativeUnitBlocks(int gates, int units, int depth, int width)
    {
        float[] weights = Distinct(gates * units * depth);
        PackedPanels packed = PackedPanels.Pack(weights, gates, units, depth, width);

        int blocks = (units + width - 1) / width;
        Assert.Equal(blocks, packed.PanelCount);
        Assert.Equal(depth * gates * width, packed.PanelSize);
        Assert.Equal(blocks * packed.PanelSize, packed.Data.Length);
        for (int gate = 0; gate < gates; gate++)
        {
            for (int j = 0; j < blocks; j++)
            {
                for (int lane = 0; lane < width; lane++)
                {
                    int unit = (j * width) + lane;
                    for (int k = 0; k < depth; k++)
                    {
                        float expected = unit < units ? weights[(((gate * units) + unit) * depth) + k] : 0f;
                        Assert.Equal(expected, packed.Data[(((((j * depth) + k) * gates) + gate) * width) + lane]);
                    }
                }
            }
        }
    }

    [Fact]
    public void VectorsArePackedInTheColumnOrderOfTheProjection()
    {
        const int gates = 3, units = 10, width = 4;
        float[] vector = Distinct(gates * units);
        double[] packed = PackedPanels.PackVector<double>(vector, gates, units, width);

        Assert.Equal(3 * gates * width, packed.Length);
        for (int gate = 0; gate < gates; gate++)
        {
            for (int unit = 0; unit < 3 * width; unit++)
            {
                // native packed_row: (unit / W · G + gate) · W + unit % W
                int column = ((unit / width * gates) + gate) * width + (unit % width);
                Assert.Equal(column, PackedPanels.ColumnOf(gate, unit, gates, width));
                Assert.Equal(unit < units ? vector[(gate * units) + unit] : 0.0, packed[column]);
            }
        }
    }

    [Fact]
    public void GruFoldsEveryRecurrentBiasButTheNewGates()
    {
        var spec = new RnnSpec(CellKind.Gru, 3, 5);
        LayerWeights weights = PrecisionPathTests.Network(spec, 4).Layers[0];
        PackedLayer<float> packed = PackedLayer<float>.Pack<GruPolicy>(spec, 0, weights, 4);

        for (int gate = 0; gate < 3; gate++)
        {
            for (int unit = 0; unit < 5; unit++)
            {
                int row = (gate * 5) + unit;
                double folded = weights.BiasIh![row] + (gate == 2 ? 0.0 : (double)weights.BiasHh![row]);
                Assert.Equal((float)folded, packed.InputBias![PackedPanels.ColumnOf(gate, unit, 3, 4)]);
            }
        }

        Assert.Equal(weights.BiasHh!.AsSpan(10, 5).ToArray(), packed.RecurrentBias!.AsSpan(0, 5).ToArray());
        Assert.All(packed.RecurrentBias![5..], value => Assert.Equal(0f, value));
    }

    [Fact]
    public void LstmFoldsEveryRecurrentBiasAndKeepsNoOther()
    {
        var spec = new RnnSpec(CellKind.Lstm, 2, 3);
        LayerWeights weights = PrecisionPathTests.Network(spec, 5).Layers[0];
        PackedLayer<double> packed = PackedLayer<double>.Pack<LstmPolicy>(spec, 0, weights, 2);

        Assert.Null(packed.RecurrentBias);
        for (int row = 0; row < 12; row++)
            Assert.Equal((double)weights.BiasIh![row] + weights.BiasHh![row], packed.InputBias![PackedPanels.ColumnOf(row / 3, row % 3, 4, 2)]);
    }

    private static float[] Distinct(int count) => [.. Enumerable.Range(1, count).Select(i => (float)i)];
}
