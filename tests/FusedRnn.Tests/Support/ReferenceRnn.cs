using System.Numerics;

namespace FusedRnn.Tests.Support;

/// <summary>
/// PyTorch's nn.LSTM, nn.GRU and nn.RNN (and their cells) written out as plainly as PyTorch documents them, one
/// unit, one row and one step at a time, in the arithmetic <c>T</c>: <see cref="double"/> is the tests' float64
/// reference, <see cref="float"/> the same formulas with float32 sums, which tells how far honest float32
/// arithmetic drifts (see <see cref="Tolerance.ParityFloat32"/>). It shares no code with src/FusedRnn's executors, so
/// a backend checked against it is checked against PyTorch's formulas, not against a sibling of itself.
/// <para>
/// Semantics: gates in PyTorch's order (LSTM i, f, g, o; GRU r, z, n with <c>b_hn</c> inside the reset product);
/// <c>proj_size</c> makes h = W_hr·(o ⊙ tanh c); layer k &gt; 0 reads the concatenated outputs of both directions of
/// layer k − 1; with lengths (PackedSequence semantics) row b runs its first <c>lengths[b]</c> steps only, the
/// reverse direction starting at the row's own last step, y is zero past the length and h_n/c_n hold the state after
/// the row's last step. Each affine part is a sum of products in index order plus its bias (<c>b_ih + Σ W_ih·x</c>,
/// <c>b_hh + Σ W_hh·h</c>), and a gate's pre-activation is the input part plus the hidden part.
/// </para>
/// <para>
/// A cell is a <see cref="CellStep{T}"/> (see <see cref="ReferenceCells{T}"/>) built from the spec's kind and
/// <see cref="RnnSpec.Cell"/> in each direction: PyTorch's cell by default, else ONNX's formulas for the variant
/// (activations per role and direction, clip, peepholes, coupled input-forget gate, GRU reset before the product).
/// </para>
/// </summary>
public static class ReferenceRnn
{
    /// <summary>
    /// A whole-sequence forward pass, like PyTorch's module call: x <c>[T, B, I]</c> (<c>[B, T, I]</c> when
    /// <paramref name="batchFirst"/>), h0 <c>[L·D, B, Hout]</c> and c0 <c>[L·D, B, H]</c> (null: zeros), lengths one
    /// per row in 1..T (null: all T).
    /// </summary>
    public static ReferenceOutput<T> Forward<T>(RnnWeights weights, FloatTensor x, FloatTensor? h0 = null, FloatTensor? c0 = null,
        int[]? lengths = null, bool batchFirst = false)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        RnnSpec spec = weights.Spec;
        if (x.Rank != 3 || x.Dim(2) != spec.InputSize) throw new ArgumentException($"x has shape {x}, not [T, B, {spec.InputSize}]", nameof(x));
        int seqLen = batchFirst ? x.Dim(1) : x.Dim(0), batch = batchFirst ? x.Dim(0) : x.Dim(1);
        int directions = spec.Directions, outputSize = spec.OutputSize, hidden = spec.HiddenSize;

        // The layer's input, time-major: input[t][b] is the feature vector of row b at step t.
        T[][][] input = Rows(seqLen, batch, (t, b) => Convert<T>(x.Span.Slice(((batchFirst ? b * seqLen + t : t * batch + b)) * spec.InputSize, spec.InputSize)));
        var hn = new T[spec.LayerDirectionCount * batch * outputSize];
        T[]? cn = spec.Kind.HasCellState() ? new T[spec.LayerDirectionCount * batch * hidden] : null;
        for (int layer = 0; layer < spec.NumLayers; layer++)
        {
            T[][][] output = Rows(seqLen, batch, (_, _) => new T[directions * outputSize]); // zero past each row's length
            for (int direction = 0; direction < directions; direction++)
            {
                CellStep<T> step = ReferenceCells<T>.For(spec, direction);
                var parameters = new LayerParameters<T>(spec, layer, weights[layer, direction]);
                int state = layer * directions + direction;
                for (int b = 0; b < batch; b++)
                {
                    int length = lengths?[b] ?? seqLen;
                    if (length < 1 || length > seqLen) throw new ArgumentOutOfRangeException(nameof(lengths), length, $"length of row {b} is outside 1..{seqLen}");
                    var s = new CellState<T>(
                        InitialState<T>(h0, state, b, batch, outputSize),
                        cn is null ? null : InitialState<T>(c0, state, b, batch, hidden));
                    for (int k = 0; k < length; k++)
                    {
                        int t = direction == 0 ? k : length - 1 - k;
                        s = step(parameters, input[t][b], s);
                        s.H.CopyTo(output[t][b], direction * outputSize);
                    }

                    s.H.CopyTo(hn, (state * batch + b) * outputSize);
                    s.C?.CopyTo(cn!, (state * batch + b) * hidden);
                }
            }

            input = output;
        }

        int features = directions * outputSize;
        var y = new T[seqLen * batch * features];
        for (int t = 0; t < seqLen; t++)
            for (int b = 0; b < batch; b++)
                input[t][b].CopyTo(y, (batchFirst ? b * seqLen + t : t * batch + b) * features);
        return new ReferenceOutput<T>(
            y, batchFirst ? [batch, seqLen, features] : [seqLen, batch, features],
            hn, [spec.LayerDirectionCount, batch, outputSize],
            cn, cn is null ? null : [spec.LayerDirectionCount, batch, hidden]);
    }

    /// <summary>
    /// Cell steps, like calling nn.LSTMCell / nn.GRUCell / nn.RNNCell once per step with the state carried in
    /// <c>T</c>: x <c>[steps, B, I]</c>, h and c <c>[B, H]</c> (null: zeros). Returns the state after every step,
    /// <c>[steps, B, H]</c> each.
    /// </summary>
    public static (T[] H, T[]? C) CellSteps<T>(RnnWeights weights, FloatTensor x, FloatTensor? h = null, FloatTensor? c = null)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        RnnSpec spec = weights.Spec;
        if (spec.NumLayers != 1 || spec.Bidirectional || spec.ProjSize != 0) throw new ArgumentException($"{spec} is not a cell", nameof(weights));
        int steps = x.Dim(0), batch = x.Dim(1), hidden = spec.HiddenSize;
        CellStep<T> step = ReferenceCells<T>.For(spec, direction: 0);
        var parameters = new LayerParameters<T>(spec, 0, weights[0, 0]);
        var hs = new T[steps * batch * hidden];
        T[]? cs = spec.Kind.HasCellState() ? new T[steps * batch * hidden] : null;
        for (int b = 0; b < batch; b++)
        {
            var s = new CellState<T>(InitialState<T>(h, 0, b, batch, hidden), cs is null ? null : InitialState<T>(c, 0, b, batch, hidden));
            for (int t = 0; t < steps; t++)
            {
                s = step(parameters, Convert<T>(x.Span.Slice((t * batch + b) * spec.InputSize, spec.InputSize)), s);
                s.H.CopyTo(hs, (t * batch + b) * hidden);
                s.C?.CopyTo(cs!, (t * batch + b) * hidden);
            }
        }

        return (hs, cs);
    }

    /// <summary>The float32 rounding of each value (what a float32 output holds).</summary>
    public static float[] ToFloat32<T>(T[] values)
        where T : unmanaged, IBinaryFloatingPointIeee754<T> => [.. values.Select(float.CreateTruncating)];

    internal static T[] Convert<T>(ReadOnlySpan<float> values)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        var converted = new T[values.Length];
        for (int i = 0; i < values.Length; i++) converted[i] = T.CreateTruncating(values[i]);
        return converted;
    }

    /// <summary>Row <paramref name="b"/> of state <paramref name="index"/> (layer × D + direction) of <c>[L·D, B, F]</c>, or zeros.</summary>
    private static T[] InitialState<T>(FloatTensor? state, int index, int b, int batch, int features)
        where T : unmanaged, IBinaryFloatingPointIeee754<T> =>
        state is null ? new T[features] : Convert<T>(state.Span.Slice((index * batch + b) * features, features));

    private static T[][][] Rows<T>(int seqLen, int batch, Func<int, int, T[]> make) =>
        [.. Enumerable.Range(0, seqLen).Select(t => Enumerable.Range(0, batch).Select(b => make(t, b)).ToArray())];
}

/// <summary>A forward pass's outputs in the reference's arithmetic, with PyTorch's shapes.</summary>
public sealed record ReferenceOutput<T>(T[] Output, int[] OutputShape, T[] HiddenState, int[] HiddenShape, T[]? CellState, int[]? CellShape)
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    /// <summary>The outputs rounded to float32, as a module returns them.</summary>
    public SequenceOutput ToSequenceOutput() => new(
        new FloatTensor(ReferenceRnn.ToFloat32(Output), OutputShape),
        new FloatTensor(ReferenceRnn.ToFloat32(HiddenState), HiddenShape),
        CellState is null ? null : new FloatTensor(ReferenceRnn.ToFloat32(CellState), CellShape!));
}

/// <summary>The state of one batch row between steps: h, and c for an LSTM.</summary>
public sealed record CellState<T>(T[] H, T[]? C);

/// <summary>One time step of one batch row: the state after reading <paramref name="x"/> in <paramref name="state"/>.</summary>
public delegate CellState<T> CellStep<T>(LayerParameters<T> parameters, T[] x, CellState<T> state)
    where T : unmanaged, IBinaryFloatingPointIeee754<T>;

/// <summary>
/// The step function of every cell: PyTorch's by default, ONNX's LSTM, GRU and RNN equations for a variant. Each role's
/// function is its activation of the pre-activation, clipped to [−clip, clip] first when <see cref="CellVariant.Clip"/>
/// is above 0; a role without an activation in the variant has PyTorch's.
/// </summary>
public static class ReferenceCells<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    /// <summary>The step of <paramref name="spec"/>'s cell in <paramref name="direction"/> (0 forward, 1 reverse).</summary>
    public static CellStep<T> For(RnnSpec spec, int direction)
    {
        CellVariant cell = spec.Cell;
        CellActivations given = direction == 0 ? cell.Forward : cell.Reverse;
        Func<T, T> OfPreactivation(Activation? activation, Func<T, T> pytorchDefault) =>
            Clipped(activation is { } chosen ? Function(chosen) : pytorchDefault, cell.Clip);
        return spec.Kind switch
        {
            // The output activation reads the cell state, which is not a pre-activation: never clipped.
            CellKind.Lstm => Lstm(OfPreactivation(given.Gates, Sigmoid), OfPreactivation(given.Candidate, Tanh),
                given.Output is { } output ? Function(output) : Tanh, cell.Peepholes, cell.CoupledInputForget),
            CellKind.Gru => Gru(OfPreactivation(given.Gates, Sigmoid), OfPreactivation(given.Candidate, Tanh), cell.ResetPlacement),
            CellKind.RnnTanh => Elman(OfPreactivation(given.Gates, Tanh)),
            CellKind.RnnRelu => Elman(OfPreactivation(given.Gates, Relu)),
            _ => throw new ArgumentOutOfRangeException(nameof(spec), spec.Kind, "no reference step for this cell kind"),
        };
    }

    /// <summary>σ(x) = 1 / (1 + e^−x).</summary>
    public static T Sigmoid(T x) => T.One / (T.One + T.Exp(-x));

    public static T Tanh(T x) => T.Tanh(x);

    /// <summary>max(x, 0), IEEE maximum: −0 gives +0, NaN stays NaN.</summary>
    public static T Relu(T x) => T.Max(x, T.Zero);

    /// <summary>The function of <paramref name="activation"/>, each kind as <see cref="ActivationKind"/> documents it.</summary>
    public static Func<T, T> Function(Activation activation)
    {
        T alpha = T.CreateTruncating(activation.Alpha), beta = T.CreateTruncating(activation.Beta);
        return activation.Kind switch
        {
            ActivationKind.Identity => x => x,
            ActivationKind.Relu => Relu,
            ActivationKind.Tanh => Tanh,
            ActivationKind.Sigmoid => Sigmoid,
            ActivationKind.Affine => x => alpha * x + beta,
            ActivationKind.LeakyRelu => x => x >= T.Zero ? x : alpha * x,
            ActivationKind.ThresholdedRelu => x => x > alpha ? x : T.Zero,
            ActivationKind.ScaledTanh => x => alpha * T.Tanh(beta * x),
            ActivationKind.HardSigmoid => x => T.Min(T.Max(alpha * x + beta, T.Zero), T.One),
            ActivationKind.Elu => x => x >= T.Zero ? x : alpha * (T.Exp(x) - T.One),
            ActivationKind.Softsign => x => x / (T.One + T.Abs(x)),
            ActivationKind.Softplus => x => T.Log(T.One + T.Exp(x)),
            _ => throw new ArgumentOutOfRangeException(nameof(activation), activation.Kind, "no reference function for this activation"),
        };
    }

    /// <summary>
    /// i = gate(W_ii x + b_ii + W_hi h + b_hi [+ P_i ⊙ c]), f likewise [+ P_f ⊙ c] or f = 1 − i when coupled,
    /// g = candidate(…), c' = f ⊙ c + i ⊙ g, o = gate(… [+ P_o ⊙ c']), h' = o ⊙ output(c'), then h' = W_hr h' with a
    /// projection. Bracketed terms only with <paramref name="peepholes"/>.
    /// </summary>
    public static CellStep<T> Lstm(Func<T, T> gate, Func<T, T> candidate, Func<T, T> output, bool peepholes = false, bool coupledInputForget = false) =>
        (p, x, state) =>
        {
            int hidden = p.HiddenSize;
            var c = new T[hidden];
            var h = new T[hidden];
            for (int j = 0; j < hidden; j++)
            {
                T Gate(int block, LstmPeephole peephole, T cell)
                {
                    T preactivation = p.Preactivation(block * hidden + j, x, state.H);
                    return gate(peepholes ? preactivation + p.Peephole(peephole, j) * cell : preactivation);
                }

                T cPrevious = state.C![j];
                T i = Gate(0, LstmPeephole.Input, cPrevious);
                T f = coupledInputForget ? T.One - i : Gate(1, LstmPeephole.Forget, cPrevious);
                T g = candidate(p.Preactivation(2 * hidden + j, x, state.H));
                c[j] = f * cPrevious + i * g;
                T o = Gate(3, LstmPeephole.Output, c[j]);
                h[j] = o * output(c[j]);
            }

            return new CellState<T>(p.Project(h), c);
        };

    /// <summary>
    /// r = gate(W_ir x + b_ir + W_hr h + b_hr), z likewise, n = candidate(W_in x + b_in + r ⊙ (W_hn h + b_hn)) with the
    /// reset after the product (PyTorch's) or candidate(W_in x + b_in + W_hn (r ⊙ h) + b_hn) before it (ONNX's default),
    /// h' = (1 − z) ⊙ n + z ⊙ h.
    /// </summary>
    public static CellStep<T> Gru(Func<T, T> gate, Func<T, T> candidate, GruResetPlacement reset = GruResetPlacement.AfterProduct) =>
        (p, x, state) =>
        {
            int hidden = p.HiddenSize;
            T[] r = [.. Enumerable.Range(0, hidden).Select(j => gate(p.Preactivation(j, x, state.H)))];
            T[]? resetState = reset == GruResetPlacement.BeforeProduct ? [.. r.Select((rj, j) => rj * state.H[j])] : null;
            var h = new T[hidden];
            for (int j = 0; j < hidden; j++)
            {
                T z = gate(p.Preactivation(1 * hidden + j, x, state.H));
                T n = candidate(reset == GruResetPlacement.AfterProduct
                    ? p.InputPart(2 * hidden + j, x) + r[j] * p.HiddenPart(2 * hidden + j, state.H)
                    : p.InputPart(2 * hidden + j, x) + p.HiddenPart(2 * hidden + j, resetState!));
                h[j] = (T.One - z) * n + z * state.H[j];
            }

            return new CellState<T>(h, null);
        };

    /// <summary>h' = activation(W_ih x + b_ih + W_hh h + b_hh).</summary>
    public static CellStep<T> Elman(Func<T, T> activation) => (p, x, state) =>
    {
        var h = new T[p.HiddenSize];
        for (int j = 0; j < h.Length; j++) h[j] = activation(p.Preactivation(j, x, state.H));
        return new CellState<T>(h, null);
    };

    /// <summary>activation(clip(x)) with clip above 0, else the activation itself.</summary>
    private static Func<T, T> Clipped(Func<T, T> activation, float clip)
    {
        if (clip == 0) return activation;
        T bound = T.CreateTruncating(clip);
        return x => activation(T.Clamp(x, -bound, bound));
    }
}

/// <summary>The three peephole vectors of <c>weight_p</c>, in its order.</summary>
public enum LstmPeephole
{
    Input,
    Forget,
    Output,
}

/// <summary>
/// The parameters of one layer and direction in the reference's arithmetic, PyTorch's layout: row <c>r</c> of
/// <c>weight_ih</c> is gate row <c>r</c> (gate <c>r / H</c>, unit <c>r % H</c>).
/// </summary>
public sealed class LayerParameters<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    private readonly T[] _weightIh, _weightHh;
    private readonly T[]? _biasIh, _biasHh, _weightHr, _weightP;
    private readonly int _inputSize, _recurrentSize;

    public LayerParameters(RnnSpec spec, int layer, LayerWeights weights)
    {
        HiddenSize = spec.HiddenSize;
        _inputSize = spec.LayerInputSize(layer);
        _recurrentSize = spec.OutputSize;
        _weightIh = ReferenceRnn.Convert<T>(weights.WeightIh);
        _weightHh = ReferenceRnn.Convert<T>(weights.WeightHh);
        _biasIh = weights.BiasIh is null ? null : ReferenceRnn.Convert<T>(weights.BiasIh);
        _biasHh = weights.BiasHh is null ? null : ReferenceRnn.Convert<T>(weights.BiasHh);
        _weightHr = weights.WeightHr is null ? null : ReferenceRnn.Convert<T>(weights.WeightHr);
        _weightP = weights.WeightP is null ? null : ReferenceRnn.Convert<T>(weights.WeightP);
    }

    public int HiddenSize { get; }

    /// <summary>b_ih[row] + Σ_k W_ih[row, k] x[k] (no bias term without bias).</summary>
    public T InputPart(int row, T[] x) => Affine(_weightIh, _biasIh, row, x, _inputSize);

    /// <summary>b_hh[row] + Σ_k W_hh[row, k] h[k].</summary>
    public T HiddenPart(int row, T[] h) => Affine(_weightHh, _biasHh, row, h, _recurrentSize);

    /// <summary>The whole pre-activation of a gate row: input part + hidden part.</summary>
    public T Preactivation(int row, T[] x, T[] h) => InputPart(row, x) + HiddenPart(row, h);

    /// <summary>The peephole weight of <paramref name="unit"/> in vector <paramref name="peephole"/> of <c>weight_p</c> [3·H].</summary>
    public T Peephole(LstmPeephole peephole, int unit) =>
        (_weightP ?? throw new InvalidOperationException("the layer has no peephole weights"))[(int)peephole * HiddenSize + unit];

    /// <summary>W_hr h with a projection (<c>proj_size</c>), else h itself.</summary>
    public T[] Project(T[] h)
    {
        if (_weightHr is null) return h;
        var projected = new T[_recurrentSize];
        for (int row = 0; row < projected.Length; row++) projected[row] = Affine(_weightHr, null, row, h, HiddenSize);
        return projected;
    }

    private static T Affine(T[] weights, T[]? bias, int row, T[] v, int columns)
    {
        // Started from the first product, not from +0, which would turn a sum of −0 products into +0.
        T sum = T.Zero;
        int start = row * columns;
        for (int k = 0; k < columns; k++)
        {
            T product = weights[start + k] * v[k];
            sum = k == 0 ? product : sum + product;
        }

        return bias is null ? sum : bias[row] + sum;
    }
}
