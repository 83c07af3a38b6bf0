namespace FusedRnn.Tests.Keras;

/// <summary>
/// Keras's recurrent layers computed in float64 the way Keras computes them, independent of the importer: row vector
/// times kernel, gate blocks in Keras's order (LSTM i, f, c, o; GRU z, r, h), the whole padded sequence reversed for
/// go_backwards with the mask reversed alongside, a masked step keeping the state and giving a zero output, a
/// Bidirectional wrapper flipping its backward layer's output back before merging.
/// </summary>
public static class KerasReference
{
    /// <summary>The result of a stack: the last layer's output, and every layer's final states per direction.</summary>
    public sealed record Result(double[] Output, int[] OutputShape, List<double[][]> Hidden, List<double[][]> Cell);

    /// <summary>Runs the layers on x <c>[B, T, I]</c> (Keras's batch-major layout).</summary>
    public static Result Run(IReadOnlyList<KerasLayerFixture> layers, double[,,] x, int[]? lengths, int kerasMajor,
        double[][][]? h0 = null, double[][][]? c0 = null)
    {
        int batch = x.GetLength(0), seqLen = x.GetLength(1);
        double[,,] sequence = x;
        var hidden = new List<double[][]>();
        var cell = new List<double[][]>();
        double[] output = [];
        int[] shape = [];
        for (int index = 0; index < layers.Count; index++)
        {
            KerasLayerFixture layer = layers[index];
            bool[,] mask = Mask(batch, seqLen, lengths);
            var directions = new List<(double[,,] Steps, double[][] H, double[][] C)>();
            for (int direction = 0; direction < layer.Arrays.Length; direction++)
            {
                bool backwards = layer.IsBidirectional ? direction == 1 : layer.GoBackwards;
                string? activation = direction == 1 && layer.BackwardActivation is not null ? layer.BackwardActivation : layer.Activation;
                double[][]? hInit = h0?[(index * layer.Arrays.Length) + direction];
                double[][]? cInit = c0?[(index * layer.Arrays.Length) + direction];
                (double[,,] steps, double[][] h, double[][] c) = RunDirection(layer, direction, activation, sequence, mask, backwards, kerasMajor, hInit, cInit);
                // Bidirectional flips the backward layer's output back to the steps' own order.
                if (layer.IsBidirectional && backwards) steps = Flip(steps);
                directions.Add((steps, h, c));
                hidden.Add(h);
                cell.Add(c);
            }

            int units = layer.Units;
            int features = layer.OutputFeatures;
            if (layer.ReturnSequences)
            {
                var merged = new double[batch, seqLen, features];
                for (int b = 0; b < batch; b++)
                    for (int t = 0; t < seqLen; t++)
                        for (int j = 0; j < units; j++)
                            MergeInto(layer, directions.Select(d => d.Steps[b, t, j]).ToArray(), j, units, value => merged[b, t, value.Index] = value.Value);
                sequence = merged;
                output = [.. merged.Cast<double>()];
                shape = [batch, seqLen, features];
            }
            else
            {
                var last = new double[batch, features];
                for (int b = 0; b < batch; b++)
                    for (int j = 0; j < units; j++)
                        MergeInto(layer, directions.Select(d => d.H[b][j]).ToArray(), j, units, value => last[b, value.Index] = value.Value);
                output = [.. last.Cast<double>()];
                shape = [batch, features];
            }
        }

        return new Result(output, shape, hidden, cell);
    }

    private static void MergeInto(KerasLayerFixture layer, double[] values, int unit, int units, Action<(int Index, double Value)> set)
    {
        if (!layer.IsBidirectional)
        {
            set((unit, values[0]));
            return;
        }

        switch (layer.MergeMode)
        {
            case "concat":
                set((unit, values[0]));
                set((units + unit, values[1]));
                break;
            case "sum": set((unit, values[0] + values[1])); break;
            case "mul": set((unit, values[0] * values[1])); break;
            case "ave": set((unit, (values[0] + values[1]) / 2)); break;
            default: throw new ArgumentException(layer.MergeMode);
        }
    }

    private static bool[,] Mask(int batch, int seqLen, int[]? lengths)
    {
        var mask = new bool[batch, seqLen];
        for (int b = 0; b < batch; b++)
            for (int t = 0; t < seqLen; t++) mask[b, t] = lengths is null || t < lengths[b];
        return mask;
    }

    private static double[,,] Flip(double[,,] steps)
    {
        int batch = steps.GetLength(0), seqLen = steps.GetLength(1), features = steps.GetLength(2);
        var flipped = new double[batch, seqLen, features];
        for (int b = 0; b < batch; b++)
            for (int t = 0; t < seqLen; t++)
                for (int j = 0; j < features; j++) flipped[b, t, j] = steps[b, seqLen - 1 - t, j];
        return flipped;
    }

    /// <summary>One direction: outputs in processing order (reversed for go_backwards), and the final states.</summary>
    private static (double[,,] Steps, double[][] H, double[][] C) RunDirection(KerasLayerFixture layer, int direction, string? activation,
        double[,,] x, bool[,] mask, bool backwards, int major, double[][]? h0, double[][]? c0)
    {
        int batch = x.GetLength(0), seqLen = x.GetLength(1), inputSize = x.GetLength(2), units = layer.Units, gates = layer.Gates;
        float[][] arrays = layer.Arrays[direction];
        float[] kernel = arrays[0], recurrent = arrays[1];
        float[]? bias = layer.UseBias ? arrays[2] : null;
        var steps = new double[batch, seqLen, units];
        var hFinal = new double[batch][];
        var cFinal = new double[batch][];
        for (int b = 0; b < batch; b++)
        {
            double[] h = h0 is null ? new double[units] : [.. h0[b]];
            double[] c = c0 is null ? new double[units] : [.. c0[b]];
            for (int k = 0; k < seqLen; k++)
            {
                int t = backwards ? seqLen - 1 - k : k;
                if (!mask[b, t]) continue;  // the state stays; the output is zero
                var xw = new double[gates * units];
                var hr = new double[gates * units];
                for (int col = 0; col < gates * units; col++)
                {
                    double sumX = 0, sumH = 0;
                    for (int i = 0; i < inputSize; i++) sumX += x[b, t, i] * kernel[(i * gates * units) + col];
                    for (int i = 0; i < units; i++) sumH += h[i] * recurrent[(i * gates * units) + col];
                    xw[col] = sumX + (bias?[col] ?? 0);
                    hr[col] = sumH + (bias is not null && layer.ClassName == "GRU" && layer.ResetAfter ? bias[(gates * units) + col] : 0);
                }

                double A(double v) => Activate(activation, v, major);
                double R(double v) => Activate(layer.RecurrentActivation, v, major);
                var hNew = new double[units];
                switch (layer.ClassName)
                {
                    case "LSTM":
                        for (int j = 0; j < units; j++)
                        {
                            double i = R(xw[j] + hr[j]), f = R(xw[units + j] + hr[units + j]);
                            double g = A(xw[(2 * units) + j] + hr[(2 * units) + j]), o = R(xw[(3 * units) + j] + hr[(3 * units) + j]);
                            c[j] = (f * c[j]) + (i * g);
                            hNew[j] = o * A(c[j]);
                        }

                        break;
                    case "GRU":
                        var z = new double[units];
                        var r = new double[units];
                        for (int j = 0; j < units; j++)
                        {
                            z[j] = R(xw[j] + hr[j]);
                            r[j] = R(xw[units + j] + hr[units + j]);
                        }

                        for (int j = 0; j < units; j++)
                        {
                            double candidate;
                            if (layer.ResetAfter)
                            {
                                candidate = A(xw[(2 * units) + j] + (r[j] * hr[(2 * units) + j]));
                            }
                            else
                            {
                                double sum = 0;
                                for (int i = 0; i < units; i++) sum += r[i] * h[i] * recurrent[(i * gates * units) + (2 * units) + j];
                                candidate = A(xw[(2 * units) + j] + sum);
                            }

                            hNew[j] = (z[j] * h[j]) + ((1 - z[j]) * candidate);
                        }

                        break;
                    default:
                        for (int j = 0; j < units; j++) hNew[j] = A(xw[j] + hr[j]);
                        break;
                }

                h = hNew;
                for (int j = 0; j < units; j++) steps[b, k, j] = h[j];
            }

            hFinal[b] = h;
            cFinal[b] = c;
        }

        return (steps, hFinal, cFinal);
    }

    /// <summary>Keras's activations by name, hard_sigmoid by version.</summary>
    public static double Activate(string? name, double x, int major) => name switch
    {
        null or "linear" => x,
        "tanh" => Math.Tanh(x),
        "sigmoid" => 1 / (1 + Math.Exp(-x)),
        "relu" => Math.Max(0, x),
        "hard_sigmoid" => major >= 3 ? Math.Clamp((x + 3) / 6, 0, 1) : Math.Clamp((0.2 * x) + 0.5, 0, 1),
        "softsign" => x / (1 + Math.Abs(x)),
        "softplus" => Math.Log(1 + Math.Exp(x)),
        "elu" => x >= 0 ? x : Math.Exp(x) - 1,
        "leaky_relu" => x >= 0 ? x : 0.2 * x,
        _ => throw new ArgumentException($"no reference for activation {name}"),
    };
}
