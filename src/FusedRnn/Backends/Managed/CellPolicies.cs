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
/// with its update inlined and no branch on the kind. PyTorch's cells have their own policies (the fastest path);
/// every other variant runs on its kind's variant policy, which reads the direction's <see cref="CellRules"/>.
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

    /// <summary>
    /// Whether the cell is the GRU with the reset before the product: its step is two passes, R_r and R_z (packed as
    /// two-gate blocks) then R_n (one-gate blocks) times r ⊙ h, and <see cref="Update"/> is the second pass's.
    /// </summary>
    static virtual bool ResetsBeforeProduct => false;

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

    /// <summary>The direction's rules (variant policies).</summary>
    public CellRules Rules;

    /// <summary>LSTM peepholes P_i, P_f, P_o of the block, one vector each; null without peepholes.</summary>
    public ref T Peepholes;

    /// <summary>z from the first pass (the GRU with the reset before the product).</summary>
    public ref T UpdateGate;
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

/// <summary>
/// LSTM with any activations, clip, peepholes (ONNX's P: i and f see c_prev, o sees the new c) and coupled gate:
/// c' = f·c + i·g; h = o·h(c').
/// </summary>
internal readonly struct LstmVariantPolicy : ICellPolicy
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
        CellRules rules = block.Rules;
        nint width = TSimd.Count;
        bool peepholes = !Unsafe.IsNullRef(ref block.Peepholes);
        TVec previousCell = TSimd.Load(ref block.Cell);
        TVec inputSum = Gate.Preactivation<TSimd, TVec, T>(block, 0);
        if (peepholes) inputSum = TSimd.MultiplyAdd(TSimd.Load(ref block.Peepholes), previousCell, inputSum);
        TVec input = Gate.Activate<TSimd, TVec, T>(rules, rules.Gates, inputSum);
        TVec forget;
        if (rules.CoupledInputForget)
        {
            forget = TSimd.Subtract(TSimd.Broadcast(T.One), input);
        }
        else
        {
            TVec forgetSum = Gate.Preactivation<TSimd, TVec, T>(block, 1);
            if (peepholes) forgetSum = TSimd.MultiplyAdd(TSimd.Load(ref Unsafe.Add(ref block.Peepholes, width)), previousCell, forgetSum);
            forget = Gate.Activate<TSimd, TVec, T>(rules, rules.Gates, forgetSum);
        }

        TVec candidate = Gate.Activate<TSimd, TVec, T>(rules, rules.Candidate, Gate.Preactivation<TSimd, TVec, T>(block, 2));
        TVec cell = TSimd.MultiplyAdd(forget, previousCell, TSimd.Multiply(input, candidate));
        TSimd.Store(cell, ref block.Cell);
        TVec outputSum = Gate.Preactivation<TSimd, TVec, T>(block, 3);
        if (peepholes) outputSum = TSimd.MultiplyAdd(TSimd.Load(ref Unsafe.Add(ref block.Peepholes, 2 * width)), cell, outputSum);
        TVec output = Gate.Activate<TSimd, TVec, T>(rules, rules.Gates, outputSum);
        TSimd.Store(TSimd.Multiply(output, Activations<TSimd, TVec, T>.Apply(rules.Output, cell)), ref block.HiddenOut);
    }
}

/// <summary>GRU with the reset after the product (PyTorch's placement), any activations and clip.</summary>
internal readonly struct GruVariantPolicy : ICellPolicy
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
        CellRules rules = block.Rules;
        nint width = TSimd.Count;
        TVec reset = Gate.Activate<TSimd, TVec, T>(rules, rules.Gates, Gate.Preactivation<TSimd, TVec, T>(block, 0));
        TVec update = Gate.Activate<TSimd, TVec, T>(rules, rules.Gates, Gate.Preactivation<TSimd, TVec, T>(block, 1));
        TVec recurrentNew = TSimd.Add(TSimd.Load(ref Unsafe.Add(ref block.RecurrentSums, 2 * width)), TSimd.Load(ref block.RecurrentBias));
        TVec newSum = TSimd.MultiplyAdd(reset, recurrentNew, TSimd.Load(ref Unsafe.Add(ref block.Projected, 2 * width)));
        TVec candidate = Gate.Activate<TSimd, TVec, T>(rules, rules.Candidate, newSum);
        TVec keepNew = TSimd.Multiply(TSimd.Subtract(TSimd.Broadcast(T.One), update), candidate);
        TSimd.Store(TSimd.MultiplyAdd(update, TSimd.Load(ref block.PreviousHidden), keepNew), ref block.HiddenOut);
    }
}

/// <summary>Two gate vectors per k and unit block: R_r and R_z of the GRU with the reset before the product.</summary>
internal readonly struct ResetGatePair : IGateCount
{
    public static int Gates => 2;
}

/// <summary>
/// GRU with the reset before the product, n = g(W_n x + R_n (r ⊙ h) + b_n), any activations and clip. R_n needs all
/// of r ⊙ h, so a step is two passes over every unit of a row (the plan splits only rows for it):
/// <see cref="ResetGates"/> from R_r h and R_z h, then <see cref="Update"/> from R_n (r ⊙ h). b_hn is outside the
/// product, so every recurrent bias folds into the projection, which keeps its three gates per block.
/// </summary>
internal readonly struct GruResetBeforePolicy : ICellPolicy
{
    public static int Gates => 3;

    public static bool HasCellState => false;

    public static bool ResetsBeforeProduct => true;

    public static bool FoldsRecurrentBias(int gate) => true;

    /// <summary>The first pass at one block: r and z from their products (<paramref name="resetAndUpdateSums"/>, two vectors); r ⊙ h and z out.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void ResetGates<TSimd, TVec, T>(CellRules rules, ref T resetAndUpdateSums, ref T projected, ref T previousHidden, ref T resetHidden, ref T updateGate)
        where TSimd : ISimd<TVec, T>
        where TVec : struct
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        nint width = TSimd.Count;
        TVec resetSum = TSimd.Add(TSimd.Load(ref projected), TSimd.Load(ref resetAndUpdateSums));
        TVec updateSum = TSimd.Add(TSimd.Load(ref Unsafe.Add(ref projected, width)), TSimd.Load(ref Unsafe.Add(ref resetAndUpdateSums, width)));
        TVec reset = Gate.Activate<TSimd, TVec, T>(rules, rules.Gates, resetSum);
        TSimd.Store(TSimd.Multiply(reset, TSimd.Load(ref previousHidden)), ref resetHidden);
        TSimd.Store(Gate.Activate<TSimd, TVec, T>(rules, rules.Gates, updateSum), ref updateGate);
    }

    /// <summary>The second pass: <see cref="CellBlock{T}.RecurrentSums"/> is one vector, R_n (r ⊙ h); z comes in <see cref="CellBlock{T}.UpdateGate"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Update<TSimd, TVec, T>(in CellBlock<T> block)
        where TSimd : ISimd<TVec, T>
        where TVec : struct
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        CellRules rules = block.Rules;
        TVec newSum = TSimd.Add(TSimd.Load(ref Unsafe.Add(ref block.Projected, 2 * TSimd.Count)), TSimd.Load(ref block.RecurrentSums));
        TVec candidate = Gate.Activate<TSimd, TVec, T>(rules, rules.Candidate, newSum);
        TVec update = TSimd.Load(ref block.UpdateGate);
        TVec keepNew = TSimd.Multiply(TSimd.Subtract(TSimd.Broadcast(T.One), update), candidate);
        TSimd.Store(TSimd.MultiplyAdd(update, TSimd.Load(ref block.PreviousHidden), keepNew), ref block.HiddenOut);
    }
}

/// <summary>Elman RNN with any activation and clip.</summary>
internal readonly struct RnnVariantPolicy : ICellPolicy
{
    public static int Gates => 1;

    public static bool HasCellState => false;

    public static bool FoldsRecurrentBias(int gate) => true;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Update<TSimd, TVec, T>(in CellBlock<T> block)
        where TSimd : ISimd<TVec, T>
        where TVec : struct
        where T : unmanaged, IBinaryFloatingPointIeee754<T> =>
        TSimd.Store(Gate.Activate<TSimd, TVec, T>(block.Rules, block.Rules.Gates, Gate.Preactivation<TSimd, TVec, T>(block, 0)), ref block.HiddenOut);
}

internal static class Gate
{
    /// <summary><paramref name="activation"/> of a variant's gate pre-activation, clipped first where <paramref name="rules"/> say so.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Activate<TSimd, TVec, T>(CellRules rules, Activation activation, TVec preactivation)
        where TSimd : ISimd<TVec, T>
        where TVec : struct
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        if (rules.Clip > 0) preactivation = Activations<TSimd, TVec, T>.Clip(preactivation, T.CreateTruncating(rules.Clip));
        return Activations<TSimd, TVec, T>.Apply(activation, preactivation);
    }

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
