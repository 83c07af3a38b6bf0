namespace FusedRnn;

/// <summary>
/// The parameters of one layer in one direction, in PyTorch's layout (row-major, gates stacked in PyTorch order):
/// <c>weight_ih [G·H, in]</c>, <c>weight_hh [G·H, Hout]</c>, <c>bias_ih [G·H]</c>, <c>bias_hh [G·H]</c>, for a
/// projecting LSTM <c>weight_hr [Hout, H]</c>, and for an LSTM with peepholes <c>weight_p [3·H]</c> (P_i, P_f, P_o: the
/// LSTM gate order without g). The arrays are referenced, not copied.
/// </summary>
/// <param name="WeightIh">Input-to-hidden weights.</param>
/// <param name="WeightHh">Hidden-to-hidden weights.</param>
/// <param name="BiasIh">Input-to-hidden bias, or null when the network has no bias.</param>
/// <param name="BiasHh">Hidden-to-hidden bias, or null when the network has no bias.</param>
/// <param name="WeightHr">LSTM projection weights, or null without projection.</param>
/// <param name="WeightP">LSTM peephole weights (<see cref="CellVariant.Peepholes"/>), or null without peepholes.</param>
public sealed record LayerWeights(
    float[] WeightIh,
    float[] WeightHh,
    float[]? BiasIh = null,
    float[]? BiasHh = null,
    float[]? WeightHr = null,
    float[]? WeightP = null);

/// <summary>PyTorch's state_dict names for the parameters of a layer and direction (and <c>weight_p</c>, the peepholes PyTorch lacks).</summary>
public enum WeightRole
{
    /// <summary><c>weight_ih_l{k}</c></summary>
    WeightIh,

    /// <summary><c>weight_hh_l{k}</c></summary>
    WeightHh,

    /// <summary><c>bias_ih_l{k}</c></summary>
    BiasIh,

    /// <summary><c>bias_hh_l{k}</c></summary>
    BiasHh,

    /// <summary><c>weight_hr_l{k}</c></summary>
    WeightHr,

    /// <summary><c>weight_p_l{k}</c>: LSTM peepholes, not a PyTorch parameter (ONNX's P).</summary>
    WeightP,
}

/// <summary>Expected shapes and PyTorch names of every parameter; the one place that knows them.</summary>
public static class WeightShapes
{
    /// <summary>PyTorch's name of a parameter, e.g. <c>weight_hh_l1_reverse</c>.</summary>
    public static string TensorName(WeightRole role, int layer, int direction) =>
        $"{RoleName(role)}_l{layer}{(direction == 1 ? "_reverse" : "")}";

    /// <summary>The state_dict stem of a role (<c>weight_ih</c> ...).</summary>
    public static string RoleName(WeightRole role) => role switch
    {
        WeightRole.WeightIh => "weight_ih",
        WeightRole.WeightHh => "weight_hh",
        WeightRole.BiasIh => "bias_ih",
        WeightRole.BiasHh => "bias_hh",
        WeightRole.WeightHr => "weight_hr",
        WeightRole.WeightP => "weight_p",
        _ => throw new ArgumentOutOfRangeException(nameof(role)),
    };

    /// <summary>The shape a parameter must have in layer <paramref name="layer"/> of <paramref name="spec"/>.</summary>
    public static int[] Expected(RnnSpec spec, WeightRole role, int layer)
    {
        int gates = spec.GateCount * spec.HiddenSize;
        return role switch
        {
            WeightRole.WeightIh => [gates, spec.LayerInputSize(layer)],
            WeightRole.WeightHh => [gates, spec.OutputSize],
            WeightRole.BiasIh or WeightRole.BiasHh => [gates],
            WeightRole.WeightHr => [spec.ProjSize, spec.HiddenSize],
            WeightRole.WeightP => [3 * spec.HiddenSize],
            _ => throw new ArgumentOutOfRangeException(nameof(role)),
        };
    }

    /// <summary>Whether <paramref name="spec"/> has a parameter of this role.</summary>
    public static bool IsPresent(RnnSpec spec, WeightRole role) => role switch
    {
        WeightRole.BiasIh or WeightRole.BiasHh => spec.Bias,
        WeightRole.WeightHr => spec.ProjSize > 0,
        WeightRole.WeightP => spec.Cell.Peepholes,
        _ => true,
    };

    internal static float[]? Get(LayerWeights weights, WeightRole role) => role switch
    {
        WeightRole.WeightIh => weights.WeightIh,
        WeightRole.WeightHh => weights.WeightHh,
        WeightRole.BiasIh => weights.BiasIh,
        WeightRole.BiasHh => weights.BiasHh,
        WeightRole.WeightHr => weights.WeightHr,
        WeightRole.WeightP => weights.WeightP,
        _ => throw new ArgumentOutOfRangeException(nameof(role)),
    };
}
