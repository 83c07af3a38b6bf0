using System.Numerics;

namespace FusedRnn.Backends.Managed;

/// <summary>
/// One layer and direction in the kernels' layout (<see cref="PackedPanels"/>) for W-lane vectors of
/// <typeparamref name="T"/>: weights float32, biases <typeparamref name="T"/> in the panels' column order.
/// </summary>
/// <param name="InputWeights"><c>W_ih</c>.</param>
/// <param name="InputBias">Added to the input projection: <c>b_ih</c> plus every <c>b_hh</c> the cell folds in; null without biases.</param>
/// <param name="RecurrentWeights">
/// <c>W_hh</c>; for the GRU with the reset before the product only R_r and R_z, as two-gate blocks.
/// </param>
/// <param name="RecurrentBias">
/// The <c>b_hh</c> of the gate the cell does not fold (GRU's <c>b_hn</c>) in unit order, zero without biases; null for
/// cells that fold every gate's.
/// </param>
/// <param name="Projection"><c>W_hr</c> (one vector per output block and k), or null without a projection.</param>
/// <param name="ResetCandidateWeights">R_n as one-gate blocks (the GRU with the reset before the product), else null.</param>
/// <param name="Peepholes">LSTM peepholes in the panels' column order <c>[block][P_i, P_f, P_o][lane]</c>, or null without.</param>
internal sealed record PackedLayer<T>(
    PackedPanels InputWeights,
    T[]? InputBias,
    PackedPanels RecurrentWeights,
    T[]? RecurrentBias,
    PackedPanels? Projection,
    PackedPanels? ResetCandidateWeights = null,
    T[]? Peepholes = null)
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    /// <summary>Floats of the weights a step and its projection stream (the thread split's cache test).</summary>
    public long StreamedWeightFloats =>
        (long)InputWeights.Data.Length + RecurrentWeights.Data.Length + (ResetCandidateWeights?.Data.Length ?? 0);

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

        // The reset before the product multiplies R_n by r ⊙ h, not h: its rows are a second matrix of their own.
        PackedPanels recurrent = TCell.ResetsBeforeProduct
            ? PackedPanels.Pack(weights.WeightHh.AsSpan(0, 2 * hidden * spec.OutputSize), 2, hidden, spec.OutputSize, width)
            : PackedPanels.Pack(weights.WeightHh, gates, hidden, spec.OutputSize, width);
        PackedPanels? resetCandidate = TCell.ResetsBeforeProduct
            ? PackedPanels.Pack(weights.WeightHh.AsSpan(2 * hidden * spec.OutputSize), 1, hidden, hidden, width)
            : null;
        return new PackedLayer<T>(
            PackedPanels.Pack(weights.WeightIh, gates, hidden, spec.LayerInputSize(layer), width),
            inputBias,
            recurrent,
            recurrentBias,
            weights.WeightHr is { } weightHr ? PackedPanels.Pack(weightHr, 1, spec.ProjSize, hidden, width) : null,
            resetCandidate,
            spec.Cell.Peepholes && weights.WeightP is { } weightP ? PackedPanels.PackVector<T>(weightP, 3, hidden, width) : null);
    }
}
