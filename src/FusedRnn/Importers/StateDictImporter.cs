using System.Globalization;
using System.Text.RegularExpressions;
using FusedRnn.IO;

namespace FusedRnn;

/// <summary>
/// Turns PyTorch state_dict names and shapes into an <see cref="RnnSpec"/> and canonical weights. Only names under the
/// module's prefix are considered; among those, anything that is not a recurrent parameter is an error.
/// </summary>
internal static partial class StateDictImporter
{
    // Layer numbers as PyTorch writes them: ASCII digits (\d would take any script's), no leading zero (else
    // "l01" and "l1" would be one layer). \z, not $, which also matches before a final newline.
    [GeneratedRegex(@"^(weight_ih|weight_hh|bias_ih|bias_hh|weight_hr)(?:_l(0|[1-9][0-9]*)(_reverse)?)?\z")]
    private static partial Regex ParameterName();

    [GeneratedRegex(@"^(.*?)weight_ih(?:_l0)?\z", RegexOptions.Singleline)]
    private static partial Regex FirstLayerInputWeight();

    private readonly record struct Parameter(WeightRole Role, int Layer, int Direction, string FullName);

    public static RnnWeights Import(
        IReadOnlyList<string> names,
        Func<string, int[]> shapeOf,
        Func<string, float[]> read,
        string? prefix,
        RnnNonlinearity nonlinearity,
        string source)
    {
        prefix = ResolvePrefix(names, prefix, source);
        var parameters = new Dictionary<(WeightRole, int, int), Parameter>();
        foreach (string fullName in names)
        {
            if (!fullName.StartsWith(prefix, StringComparison.Ordinal)) continue;
            string shown = FileText.Escape(fullName);
            Match match = ParameterName().Match(fullName[prefix.Length..]);
            if (!match.Success)
                throw new InvalidWeightsException(shown,
                    $"{source}: unexpected tensor '{shown}' under prefix '{FileText.Escape(prefix)}'; recurrent modules hold only weight_ih/weight_hh/bias_ih/bias_hh/weight_hr" +
                    (prefix.Length == 0 ? " (pass the module's prefix, e.g. 'rnn.', if the file holds other tensors)" : "") +
                    " with layers numbered _l0, _l1, ...");
            var role = Enum.Parse<WeightRole>(match.Groups[1].Value.Replace("_", ""), ignoreCase: true);
            int layer = 0;
            if (match.Groups[2].Success && !int.TryParse(match.Groups[2].ValueSpan, NumberStyles.None, CultureInfo.InvariantCulture, out layer))
                throw new InvalidWeightsException(shown,
                    $"{source}: unexpected tensor '{shown}': layer number {FileText.Escape(match.Groups[2].Value)} is more than {int.MaxValue}");
            int direction = match.Groups[3].Success ? 1 : 0;
            // "weight_ih" (a cell's name) and "weight_ih_l0" are the same parameter; only one may be given.
            if (parameters.TryGetValue((role, layer, direction), out Parameter other))
                throw new InvalidWeightsException(shown,
                    $"{source}: tensors '{FileText.Escape(other.FullName)}' and '{shown}' are both {WeightShapes.TensorName(role, layer, direction)}");
            parameters[(role, layer, direction)] = new Parameter(role, layer, direction, fullName);
        }

        RnnSpec spec = InferSpec(parameters, shapeOf, nonlinearity, source, prefix);
        var layers = new LayerWeights[spec.LayerDirectionCount];
        for (int layer = 0; layer < spec.NumLayers; layer++)
        {
            for (int direction = 0; direction < spec.Directions; direction++)
            {
                float[]? Load(WeightRole role)
                {
                    if (!parameters.Remove((role, layer, direction), out Parameter p))
                    {
                        if (!WeightShapes.IsPresent(spec, role)) return null;
                        string missing = FileText.Escape(prefix + WeightShapes.TensorName(role, layer, direction));
                        throw new InvalidWeightsException(missing, $"{source}: '{missing}' is missing; {spec} needs it");
                    }

                    CheckShape(spec, p, shapeOf(p.FullName), source);
                    return read(p.FullName);
                }

                layers[layer * spec.Directions + direction] = new LayerWeights(
                    Load(WeightRole.WeightIh)!, Load(WeightRole.WeightHh)!,
                    Load(WeightRole.BiasIh), Load(WeightRole.BiasHh), Load(WeightRole.WeightHr));
            }
        }

        if (parameters.Count > 0)
        {
            Parameter extra = parameters.Values.First();
            throw new InvalidWeightsException(FileText.Escape(extra.FullName),
                $"{source}: unexpected tensor '{FileText.Escape(extra.FullName)}': {spec} has no such parameter (layers must be numbered 0..{spec.NumLayers - 1}, " +
                "and bias, reverse and projection tensors must be present for every layer or none)");
        }

        return new RnnWeights(spec, layers);
    }

    /// <summary>Uses the given prefix (adding a missing trailing dot), or finds the one module in the file.</summary>
    private static string ResolvePrefix(IReadOnlyList<string> names, string? prefix, string source)
    {
        if (prefix is not null)
        {
            if (prefix.Length > 0 && !prefix.EndsWith('.') && names.Any(n => n.StartsWith(prefix + ".", StringComparison.Ordinal)))
                prefix += ".";
            if (!names.Any(n => n.StartsWith(prefix, StringComparison.Ordinal) && ParameterName().IsMatch(n[prefix.Length..])))
                throw new InvalidWeightsException("prefix", $"{source}: no recurrent weights found under prefix '{FileText.Escape(prefix)}'");
            return prefix;
        }

        string[] candidates = [.. names.Select(n => FirstLayerInputWeight().Match(n)).Where(m => m.Success).Select(m => m.Groups[1].Value).Distinct()];
        return candidates.Length switch
        {
            1 => candidates[0],
            0 => throw new InvalidWeightsException("weight_ih_l0",
                $"{source}: no recurrent weights found (expected a tensor named 'weight_ih_l0' or 'weight_ih', optionally under a prefix)"),
            _ => throw new InvalidWeightsException("prefix",
                $"{source}: several recurrent modules found (prefixes {string.Join(", ", candidates.Select(c => $"'{FileText.Escape(c)}'"))}); pass the prefix of the one to load"),
        };
    }

    /// <summary>Reads kind, sizes, layers, directions, bias and projection off the first layer's tensors.</summary>
    private static RnnSpec InferSpec(
        Dictionary<(WeightRole, int, int), Parameter> parameters,
        Func<string, int[]> shapeOf,
        RnnNonlinearity nonlinearity,
        string source,
        string prefix)
    {
        int[] Shape2D(WeightRole role)
        {
            string name = FileText.Escape(prefix + WeightShapes.TensorName(role, 0, 0));
            if (!parameters.TryGetValue((role, 0, 0), out Parameter p))
                throw new InvalidWeightsException(name, $"{source}: '{name}' is missing");
            int[] shape = shapeOf(p.FullName);
            if (shape.Length != 2)
                throw new InvalidWeightsException(FileText.Escape(p.FullName), $"{source}: '{FileText.Escape(p.FullName)}' must be a matrix but has shape {FloatTensor.FormatShape(shape)}");
            return shape;
        }

        int[] weightHh = Shape2D(WeightRole.WeightHh);
        int[] weightIh = Shape2D(WeightRole.WeightIh);
        bool projects = parameters.ContainsKey((WeightRole.WeightHr, 0, 0));
        int[]? weightHr = projects ? Shape2D(WeightRole.WeightHr) : null;
        int hidden = weightHr is not null ? weightHr[1] : weightHh[1];
        int gateRows = weightHh[0];
        int gates = hidden > 0 && gateRows % hidden == 0 ? gateRows / hidden : -1;
        CellKind kind = gates switch
        {
            4 => CellKind.Lstm,
            3 when !projects => CellKind.Gru,
            1 when !projects => nonlinearity.ToCellKind(),
            _ => throw new InvalidWeightsException(FileText.Escape(parameters[(WeightRole.WeightHh, 0, 0)].FullName),
                $"{source}: '{FileText.Escape(parameters[(WeightRole.WeightHh, 0, 0)].FullName)}' has shape {FloatTensor.FormatShape(weightHh)}; " +
                $"its rows must be 4× (LSTM), 3× (GRU) or 1× (RNN) the hidden size {hidden}" + (projects ? " and only an LSTM has weight_hr" : "")),
        };

        if (weightHr is [0, _])
        {
            string name = FileText.Escape(parameters[(WeightRole.WeightHr, 0, 0)].FullName);
            throw new InvalidWeightsException(name,
                $"{source}: '{name}' has shape {FloatTensor.FormatShape(weightHr)}; a projection has proj_size ≥ 1 rows (without one, leave weight_hr out)");
        }

        int layers = 0;
        while (parameters.ContainsKey((WeightRole.WeightIh, layers, 0))) layers++;
        bool bidirectional = parameters.ContainsKey((WeightRole.WeightIh, 0, 1));
        bool bias = parameters.ContainsKey((WeightRole.BiasIh, 0, 0)) || parameters.ContainsKey((WeightRole.BiasHh, 0, 0));
        var spec = new RnnSpec(kind, weightIh[1], hidden, layers, bidirectional, bias, weightHr is not null ? weightHr[0] : 0);
        try
        {
            return spec.Validate();
        }
        catch (ArgumentException e)
        {
            throw new InvalidWeightsException(e.ParamName ?? "spec", $"{source}: the weights describe an invalid network: {e.Message}");
        }
    }

    private static void CheckShape(RnnSpec spec, Parameter p, int[] shape, string source)
    {
        int[] expected = WeightShapes.Expected(spec, p.Role, p.Layer);
        if (!shape.AsSpan().SequenceEqual(expected))
            throw new InvalidWeightsException(FileText.Escape(p.FullName),
                $"{source}: '{FileText.Escape(p.FullName)}' has shape {FloatTensor.FormatShape(shape)} but {spec} needs {FloatTensor.FormatShape(expected)}");
    }
}
