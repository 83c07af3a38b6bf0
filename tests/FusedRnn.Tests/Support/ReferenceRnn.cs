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
/// A cell kind is a <see cref="CellStep{T}"/> (see <see cref="ReferenceCells{T}"/>): cell variants (per-role
/// activations, clip, peepholes, GRU's linear-before-reset off) are new step functions, nothing else changes.
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
        CellStep<T> step = ReferenceCells<T>.For(spec.Kind);

        // The layer's input, time-major: input[t][b] is the feature vector of row b at step t.
        T[][][] input = Rows(seqLen, batch, (t, b) => Convert<T>(x.Span.Slice(((batchFirst ? b * seqLen + t : t * batch + b)) * spec.InputSize, spec.InputSize)));
        var hn = new T[spec.LayerDirectionCount * batch * outputSize];
        T[]? cn = spec.Kind.HasCellState() ? new T[spec.LayerDirectionCount * batch * hidden] : null;
        for (int layer = 0; layer < spec.NumLayers; layer++)
        {
            T[][][] output = Rows(seqLen, batch, (_, _) => new T[directions * outputSize]); // zero past each row's length
            for (int direction = 0; direction < directions; direction++)
            {
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
        CellStep<T> step = ReferenceCells<T>.For(spec.Kind);
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

/// <summary>The step function of every cell kind, with PyTorch's activations unless given others.</summary>
public static class ReferenceCells<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    public static CellStep<T> For(CellKind kind) => kind switch
    {
        CellKind.Lstm => Lstm(Sigmoid, Tanh, Tanh),
        CellKind.Gru => Gru(Sigmoid, Tanh),
        CellKind.RnnTanh => Elman(Tanh),
        CellKind.RnnRelu => Elman(Relu),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "no reference step for this cell kind"),
    };

    /// <summary>σ(x) = 1 / (1 + e^−x).</summary>
    public static T Sigmoid(T x) => T.One / (T.One + T.Exp(-x));

    public static T Tanh(T x) => T.Tanh(x);

    /// <summary>max(x, 0), IEEE maximum: −0 gives +0, NaN stays NaN.</summary>
    public static T Relu(T x) => T.Max(x, T.Zero);

    /// <summary>
    /// i = gate(W_ii x + b_ii + W_hi h + b_hi), f and o likewise, g = candidate(…), c' = f ⊙ c + i ⊙ g,
    /// h' = o ⊙ output(c'), then h' = W_hr h' with a projection.
    /// </summary>
    public static CellStep<T> Lstm(Func<T, T> gate, Func<T, T> candidate, Func<T, T> output) => (p, x, state) =>
    {
        int hidden = p.HiddenSize;
        var c = new T[hidden];
        var h = new T[hidden];
        for (int j = 0; j < hidden; j++)
        {
            T i = gate(p.Preactivation(0 * hidden + j, x, state.H));
            T f = gate(p.Preactivation(1 * hidden + j, x, state.H));
            T g = candidate(p.Preactivation(2 * hidden + j, x, state.H));
            T o = gate(p.Preactivation(3 * hidden + j, x, state.H));
            c[j] = f * state.C![j] + i * g;
            h[j] = o * output(c[j]);
        }

        return new CellState<T>(p.Project(h), c);
    };

    /// <summary>
    /// r = gate(W_ir x + b_ir + W_hr h + b_hr), z likewise, n = candidate(W_in x + b_in + r ⊙ (W_hn h + b_hn)),
    /// h' = (1 − z) ⊙ n + z ⊙ h.
    /// </summary>
    public static CellStep<T> Gru(Func<T, T> gate, Func<T, T> candidate) => (p, x, state) =>
    {
        int hidden = p.HiddenSize;
        var h = new T[hidden];
        for (int j = 0; j < hidden; j++)
        {
            T r = gate(p.Preactivation(0 * hidden + j, x, state.H));
            T z = gate(p.Preactivation(1 * hidden + j, x, state.H));
            T n = candidate(p.InputPart(2 * hidden + j, x) + r * p.HiddenPart(2 * hidden + j, state.H));
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
}

/// <summary>
/// The parameters of one layer and direction in the reference's arithmetic, PyTorch's layout: row <c>r</c> of
/// <c>weight_ih</c> is gate row <c>r</c> (gate <c>r / H</c>, unit <c>r % H</c>).
/// </summary>
public sealed class LayerParameters<T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    private readonly T[] _weightIh, _weightHh;
    private readonly T[]? _biasIh, _biasHh, _weightHr;
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
    }

    public int HiddenSize { get; }

    /// <summary>b_ih[row] + Σ_k W_ih[row, k] x[k] (no bias term without bias).</summary>
    public T InputPart(int row, T[] x) => Affine(_weightIh, _biasIh, row, x, _inputSize);

    /// <summary>b_hh[row] + Σ_k W_hh[row, k] h[k].</summary>
    public T HiddenPart(int row, T[] h) => Affine(_weightHh, _biasHh, row, h, _recurrentSize);

    /// <summary>The whole pre-activation of a gate row: input part + hidden part.</summary>
    public T Preactivation(int row, T[] x, T[] h) => InputPart(row, x) + HiddenPart(row, h);

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
