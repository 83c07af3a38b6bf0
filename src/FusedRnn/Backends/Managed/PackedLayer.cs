using System.Numerics;

namespace FusedRnn.Backends.Managed;

/// <summary>
/// One layer and direction in the kernels' layout (<see cref="PackedPanels"/>) for W-lane vectors of
/// <typeparamref name="T"/>: weights float32, biases <typeparamref name="T"/> in the panels' column order.
/// </summary>
/// <param name="InputWeights"><c>W_ih</c>.</param>
/// <param name="InputBias">Added to the input projection: <c>b_ih</c> plus every <c>b_hh</c> the cell folds in; null without biases.</param>
/// <param name="RecurrentWeights"><c>W_hh</c>.</param>
/// <param name="RecurrentBias">
/// The <c>b_hh</c> of the gate the cell does not fold (GRU's <c>b_hn</c>) in unit order, zero without biases; null for
/// cells that fold every gate's.
/// </param>
/// <param name="Projection"><c>W_hr</c> (one vector per output block and k), or null without a projection.</param>
internal sealed record PackedLayer<T>(
    PackedPanels InputWeights,
    T[]? InputBias,
    PackedPanels RecurrentWeights,
    T[]? RecurrentBias,
    PackedPanels? Projection)
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    /// <summary>Floats of the weights a step and its projection stream (the thread split's cache test).</summary>
    public long StreamedWeightFloats => (long)InputWeights.Data.Length + RecurrentWeights.Data.Length;

    public static PackedLayer<T> Pack<TCell>(RnnSpec spec, int layer, LayerWeights weights, int width)
        where TCell : ICellPolicy
    {
        int gates = TCell.Gates, hidden = spec.HiddenSize;
        T[]? inputBias = null, recurrentBias = null;
        int unfoldedGate = -1;
        for (int gate = 0; gate < gates; gate++)
        {
            if (!TCell.FoldsRecurrentBias(gate)) unfoldedGate = gate;
        }

        if (unfoldedGate >= 0) recurrentBias = new T[PackedPanels.BlockCount(hidden, width) * width];
        if (weights.BiasIh is { } biasIh && weights.BiasHh is { } biasHh)
        {
            inputBias = new T[PackedPanels.BlockCount(hidden, width) * gates * width];
            for (int gate = 0; gate < gates; gate++)
            {
                bool folds = gate != unfoldedGate;
                for (int unit = 0; unit < hidden; unit++)
                {
                    int row = (gate * hidden) + unit;
                    // The sum of two floats is exact in double; rounded to T once.
                    inputBias[PackedPanels.ColumnOf(gate, unit, gates, width)] =
                        T.CreateTruncating((double)biasIh[row] + (folds ? (double)biasHh[row] : 0.0));
                    if (!folds) recurrentBias![unit] = T.CreateTruncating(biasHh[row]);
                }
            }
        }

        return new PackedLayer<T>(
            PackedPanels.Pack(weights.WeightIh, gates, hidden, spec.LayerInputSize(layer), width),
            inputBias,
            PackedPanels.Pack(weights.WeightHh, gates, hidden, spec.OutputSize, width),
            recurrentBias,
            weights.WeightHr is { } weightHr ? PackedPanels.Pack(weightHr, 1, spec.ProjSize, hidden, width) : null);
    }
}
