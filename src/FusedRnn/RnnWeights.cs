using FusedRnn.IO;

namespace FusedRnn;

/// <summary>
/// The canonical in-memory weights of a network: PyTorch's layout for every (layer, direction), validated against
/// one <see cref="RnnSpec"/>. Every importer produces this and every backend packs from it, so nothing downstream
/// knows which file format a model came from.
/// </summary>
public sealed class RnnWeights
{
    private readonly LayerWeights[] _layers;

    /// <summary>Validates <paramref name="layers"/> (index <c>layer × directions + direction</c>) against <paramref name="spec"/>.</summary>
    /// <exception cref="InvalidWeightsException">A tensor is missing, unexpected, or has the wrong size.</exception>
    public RnnWeights(RnnSpec spec, IReadOnlyList<LayerWeights> layers)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(layers);
        Spec = spec.Validate();
        if (layers.Count != spec.LayerDirectionCount)
            throw new InvalidWeightsException(nameof(layers),
                $"{spec} needs {spec.LayerDirectionCount} (layer, direction) weight sets but {layers.Count} were given");
        _layers = [.. layers];
        for (int index = 0; index < _layers.Length; index++)
        {
            LayerWeights layer = _layers[index] ?? throw new InvalidWeightsException(nameof(layers), $"weight set {index} is null");
            foreach (WeightRole role in Enum.GetValues<WeightRole>())
                CheckTensor(spec, role, index / spec.Directions, index % spec.Directions, WeightShapes.Get(layer, role));
        }
    }

    /// <summary>The architecture these weights describe.</summary>
    public RnnSpec Spec { get; }

    /// <summary>Weight sets, index <c>layer × directions + direction</c>.</summary>
    public IReadOnlyList<LayerWeights> Layers => _layers;

    /// <summary>The weights of one layer and direction (0 forward, 1 reverse).</summary>
    public LayerWeights this[int layer, int direction] => _layers[layer * Spec.Directions + direction];

    /// <summary>
    /// Reads a PyTorch <c>state_dict</c> saved with <c>safetensors</c>. Names are PyTorch's (<c>weight_ih_l0</c>,
    /// <c>bias_hh_l1_reverse</c>, <c>weight_hr_l0</c>; cells use <c>weight_ih</c> etc.) under an optional prefix such as
    /// <c>rnn.</c>; kind, layers, directions, bias and projection are inferred from names and shapes.
    /// </summary>
    /// <param name="path">The .safetensors file.</param>
    /// <param name="prefix">Name prefix of the module (e.g. <c>rnn.</c>); null finds it when the file holds one module.</param>
    /// <param name="nonlinearity">For an Elman RNN, which the file cannot tell.</param>
    public static RnnWeights LoadSafetensors(string path, string? prefix = null, RnnNonlinearity nonlinearity = RnnNonlinearity.Tanh) =>
        FromSafetensors(SafetensorsFile.Load(path), prefix, nonlinearity);

    /// <summary>As <see cref="LoadSafetensors"/>, from an already parsed file.</summary>
    public static RnnWeights FromSafetensors(SafetensorsFile file, string? prefix = null, RnnNonlinearity nonlinearity = RnnNonlinearity.Tanh)
    {
        ArgumentNullException.ThrowIfNull(file);
        return StateDictImporter.Import(
            file.TensorNames, name => file.GetInfo(name).Shape, file.ReadFloat32, prefix, nonlinearity, file.FilePath);
    }

    /// <summary>Builds weights from PyTorch state_dict tensors given as (shape, data) pairs.</summary>
    public static RnnWeights FromStateDict(
        IReadOnlyDictionary<string, (int[] Shape, float[] Data)> stateDict,
        string? prefix = null,
        RnnNonlinearity nonlinearity = RnnNonlinearity.Tanh)
    {
        ArgumentNullException.ThrowIfNull(stateDict);
        return StateDictImporter.Import(
            [.. stateDict.Keys], name => stateDict[name].Shape, name => stateDict[name].Data, prefix, nonlinearity, "state_dict");
    }

    /// <summary>
    /// Builds a single-layer LSTM from the per-gate form: <c>Wf, Wi, Wc, Wo</c> each <c>[H, H+I]</c> applied to
    /// <c>concat(h_prev, x)</c>, with optional biases <c>bf, bi, bc, bo</c> each <c>[H]</c>.
    /// </summary>
    public static RnnWeights FromLstmGates(
        int inputSize, int hiddenSize,
        float[] wf, float[] wi, float[] wc, float[] wo,
        float[]? bf = null, float[]? bi = null, float[]? bc = null, float[]? bo = null) =>
        GateFormImporter.Import(CellKind.Lstm, inputSize, hiddenSize,
            [("Wi", wi), ("Wf", wf), ("Wc", wc), ("Wo", wo)], [("bi", bi), ("bf", bf), ("bc", bc), ("bo", bo)]);

    /// <summary>
    /// Builds a single-layer GRU from the per-gate form of the textbook cell: <c>W_r, W_z, W_a</c> each <c>[H, H+I]</c>
    /// applied to <c>concat(h_prev, x)</c>, with optional biases, computing
    /// <c>r = σ(W_r [h, x] + b_r)</c>, <c>z = σ(W_z [h, x] + b_z)</c>, <c>a = tanh(W_a [r ⊙ h, x] + b_a)</c> and
    /// <c>h' = (1 − z) ⊙ h + z ⊙ a</c>: the reset before the product (<see cref="GruResetPlacement.BeforeProduct"/>), and z
    /// weighting the candidate where PyTorch's weights the old state — W_z and b_z are stored negated, since
    /// <c>σ(−v) = 1 − σ(v)</c> turns one convention into the other.
    /// </summary>
    public static RnnWeights FromGruGates(
        int inputSize, int hiddenSize,
        float[] wr, float[] wz, float[] wa,
        float[]? br = null, float[]? bz = null, float[]? ba = null) =>
        GateFormImporter.Import(CellKind.Gru, inputSize, hiddenSize,
            [("W_r", wr), ("W_z", Negated(wz)), ("W_a", wa)], [("b_r", br), ("b_z", Negated(bz)), ("b_a", ba)],
            new CellVariant { ResetPlacement = GruResetPlacement.BeforeProduct });

    [return: System.Diagnostics.CodeAnalysis.NotNullIfNotNull(nameof(values))]
    private static float[]? Negated(float[]? values) => values?.Select(value => -value).ToArray();

    /// <summary>The weights as PyTorch state_dict entries (name, shape, data) under <paramref name="prefix"/>.</summary>
    public IEnumerable<KeyValuePair<string, (int[] Shape, float[] Data)>> ToStateDict(string prefix = "")
    {
        for (int layer = 0; layer < Spec.NumLayers; layer++)
        {
            for (int direction = 0; direction < Spec.Directions; direction++)
            {
                foreach (WeightRole role in Enum.GetValues<WeightRole>())
                {
                    float[]? data = WeightShapes.Get(this[layer, direction], role);
                    if (data is not null)
                        yield return new(prefix + WeightShapes.TensorName(role, layer, direction), (WeightShapes.Expected(Spec, role, layer), data));
                }
            }
        }
    }

    private static void CheckTensor(RnnSpec spec, WeightRole role, int layer, int direction, float[]? data)
    {
        string name = WeightShapes.TensorName(role, layer, direction);
        bool expected = WeightShapes.IsPresent(spec, role);
        if (!expected && data is not null)
            throw new InvalidWeightsException(name, $"{name} was given but {spec} has no such tensor");
        if (!expected) return;
        if (data is null) throw new InvalidWeightsException(name, $"{name} is missing; {spec} needs it");
        int[] shape = WeightShapes.Expected(spec, role, layer);
        if (data.Length != FloatTensor.ElementCount(shape))
            throw new InvalidWeightsException(name,
                $"{name} has {data.Length} elements but {spec} needs shape {FloatTensor.FormatShape(shape)} = {FloatTensor.ElementCount(shape)}");
    }
}
