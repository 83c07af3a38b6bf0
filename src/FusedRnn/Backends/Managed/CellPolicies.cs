using System.Numerics;
using System.Runtime.CompilerServices;

namespace FusedRnn.Backends.Managed;

/// <summary>Gate rows per hidden unit: a packed unit block holds this many weight vectors per k.</summary>
internal interface IGateCount
{
    static abstract int Gates { get; }
}

/// <summary>One weight vector per k and unit block: the projection <c>W_hr</c>, whose rows are outputs, not gates.</summary>
internal readonly struct SingleGate : IGateCount
{
    public static int Gates => 1;
}

/// <summary>
/// What a cell does with one batch row's unit block of W hidden units once the recurrent products of its gates are
/// summed. One struct per cell kind; the executor is generic over it, so the JIT compiles each kind's step loop
/// with its update inlined and no branch on the kind. A new cell variant (another activation, peepholes, a clip,
/// GRU's reset before the product) is a new policy, and the executor's load switch names it.
/// </summary>
internal interface ICellPolicy : IGateCount
{
    /// <summary>Whether the cell carries a cell state c besides h (<see cref="CellBlock{T}.Cell"/>).</summary>
    static abstract bool HasCellState { get; }

    /// <summary>
    /// Whether PyTorch's <c>b_hh</c> of <paramref name="gate"/> is added into the input projection once at load time.
    /// A gate whose recurrent bias is not folded (GRU's n, at most one gate) gets it in
    /// <see cref="CellBlock{T}.RecurrentBias"/>.
    /// </summary>
    static abstract bool FoldsRecurrentBias(int gate);

    /// <summary>Applies the activations and writes the block's new state (h, and c where the cell has one).</summary>
    static abstract void Update<TSimd, TVec, T>(in CellBlock<T> block)
        where TSimd : ISimd<TVec, T>
        where TVec : struct
        where T : unmanaged, IBinaryFloatingPointIeee754<T>;
}

/// <summary>
/// One batch row's unit block as a cell policy sees it: vectors of W lanes, gate g of a gate pair at
/// <c>g·W</c> (the packed <c>[gate][lane]</c> order). References a cell does not use are null.
/// </summary>
internal ref struct CellBlock<T>
{
    /// <summary>G vectors: the recurrent products <c>W_hh·h</c> of the gates.</summary>
    public required ref T RecurrentSums;

    /// <summary>G vectors: the input projection <c>W_ih·x</c> with the folded biases.</summary>
    public required ref T Projected;

    /// <summary>h of the previous step at these units.</summary>
    public required ref T PreviousHidden;

    /// <summary>c at these units, updated in place (cells with a cell state).</summary>
    public ref T Cell;

    /// <summary>The unfolded recurrent bias at these units (GRU's <c>b_hn</c>; zero without biases).</summary>
    public ref T RecurrentBias;

    /// <summary>Where the new h goes (an LSTM with a projection: its output before <c>W_hr</c>).</summary>
    public required ref T HiddenOut;
}

/// <summary>i, f, g, o: c' = σ(f)·c + σ(i)·tanh(g); h = σ(o)·tanh(c').</summary>
internal readonly struct LstmPolicy : ICellPolicy
{
    public static int Gates => 4;

    public static bool HasCellState => true;

    public static bool FoldsRecurrentBias(int gate) => true;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Update<TSimd, TVec, T>(in CellBlock<T> block)
        where TSimd : ISimd<TVec, T>
        where TVec : struct
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        TVec input = Activations<TSimd, TVec, T>.Sigmoid(Gate.Preactivation<TSimd, TVec, T>(block, 0));
        TVec forget = Activations<TSimd, TVec, T>.Sigmoid(Gate.Preactivation<TSimd, TVec, T>(block, 1));
        TVec candidate = Activations<TSimd, TVec, T>.Tanh(Gate.Preactivation<TSimd, TVec, T>(block, 2));
        TVec output = Activations<TSimd, TVec, T>.Sigmoid(Gate.Preactivation<TSimd, TVec, T>(block, 3));
        TVec cell = TSimd.MultiplyAdd(forget, TSimd.Load(ref block.Cell), TSimd.Multiply(input, candidate));
        TSimd.Store(cell, ref block.Cell);
        TSimd.Store(TSimd.Multiply(output, Activations<TSimd, TVec, T>.Tanh(cell)), ref block.HiddenOut);
    }
}

/// <summary>r, z, n: r, z = σ(·); n = tanh(x_n + r·(W_hn h + b_hn)); h' = (1 − z)·n + z·h.</summary>
internal readonly struct GruPolicy : ICellPolicy
{
    public static int Gates => 3;

    public static bool HasCellState => false;

    /// <summary>b_hn sits inside r ⊙ (W_hn h + b_hn), so it cannot join the projection.</summary>
    public static bool FoldsRecurrentBias(int gate) => gate != 2;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Update<TSimd, TVec, T>(in CellBlock<T> block)
        where TSimd : ISimd<TVec, T>
        where TVec : struct
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        nint width = TSimd.Count;
        TVec reset = Activations<TSimd, TVec, T>.Sigmoid(Gate.Preactivation<TSimd, TVec, T>(block, 0));
        TVec update = Activations<TSimd, TVec, T>.Sigmoid(Gate.Preactivation<TSimd, TVec, T>(block, 1));
        TVec recurrentNew = TSimd.Add(TSimd.Load(ref Unsafe.Add(ref block.RecurrentSums, 2 * width)), TSimd.Load(ref block.RecurrentBias));
        TVec candidate = Activations<TSimd, TVec, T>.Tanh(TSimd.MultiplyAdd(reset, recurrentNew, TSimd.Load(ref Unsafe.Add(ref block.Projected, 2 * width))));
        // PyTorch's form, as the native kernels: n + z·(h − n) rounds differently and turns h = ±∞ into NaN sooner.
        TVec keepNew = TSimd.Multiply(TSimd.Subtract(TSimd.Broadcast(T.One), update), candidate);
        TSimd.Store(TSimd.MultiplyAdd(update, TSimd.Load(ref block.PreviousHidden), keepNew), ref block.HiddenOut);
    }
}

/// <summary>The activation of an Elman RNN.</summary>
internal interface IActivation
{
    static abstract TVec Apply<TSimd, TVec, T>(TVec x)
        where TSimd : ISimd<TVec, T>
        where TVec : struct
        where T : unmanaged, IBinaryFloatingPointIeee754<T>;
}

internal readonly struct TanhActivation : IActivation
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Apply<TSimd, TVec, T>(TVec x)
        where TSimd : ISimd<TVec, T>
        where TVec : struct
        where T : unmanaged, IBinaryFloatingPointIeee754<T> => Activations<TSimd, TVec, T>.Tanh(x);
}

internal readonly struct ReluActivation : IActivation
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Apply<TSimd, TVec, T>(TVec x)
        where TSimd : ISimd<TVec, T>
        where TVec : struct
        where T : unmanaged, IBinaryFloatingPointIeee754<T> => Activations<TSimd, TVec, T>.Relu(x);
}

/// <summary>h' = activation(W_ih x + b_ih + W_hh h + b_hh): <c>RnnPolicy&lt;TanhActivation&gt;</c> and <c>&lt;ReluActivation&gt;</c>.</summary>
internal readonly struct RnnPolicy<TActivation> : ICellPolicy
    where TActivation : IActivation
{
    public static int Gates => 1;

    public static bool HasCellState => false;

    public static bool FoldsRecurrentBias(int gate) => true;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Update<TSimd, TVec, T>(in CellBlock<T> block)
        where TSimd : ISimd<TVec, T>
        where TVec : struct
        where T : unmanaged, IBinaryFloatingPointIeee754<T> =>
        TSimd.Store(TActivation.Apply<TSimd, TVec, T>(Gate.Preactivation<TSimd, TVec, T>(block, 0)), ref block.HiddenOut);
}

internal static class Gate
{
    /// <summary>Gate <paramref name="gate"/>'s pre-activation: its recurrent product plus its projection (biases folded in).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Preactivation<TSimd, TVec, T>(in CellBlock<T> block, int gate)
        where TSimd : ISimd<TVec, T>
        where TVec : struct
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        nint offset = gate * TSimd.Count;
        return TSimd.Add(TSimd.Load(ref Unsafe.Add(ref block.RecurrentSums, offset)), TSimd.Load(ref Unsafe.Add(ref block.Projected, offset)));
    }
}
