using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using FusedRnn.Backends;

namespace FusedRnn;

/// <summary>
/// Every size check of a forward call, in one place, before any backend runs: a wrong size becomes a
/// <see cref="ShapeMismatchException"/> naming the argument and the shape the model needs.
/// </summary>
internal static class ShapeChecks
{
    public static void CheckSequence(
        RnnSpec spec, bool batchFirst, int seqLen, int batch,
        int inputLength, int h0Length, int c0Length, ReadOnlySpan<int> lengths,
        int outputLength, int hnLength, int cnLength, bool outputsRequired)
    {
        if (seqLen < 1) throw new ArgumentOutOfRangeException(nameof(seqLen), seqLen, "sequence length must be at least 1");
        if (batch < 1) throw new ArgumentOutOfRangeException(nameof(batch), batch, "batch size must be at least 1");
        int first = batchFirst ? batch : seqLen, second = batchFirst ? seqLen : batch;
        ReadOnlySpan<int> inputShape = [first, second, spec.InputSize];
        ReadOnlySpan<int> outputShape = [first, second, spec.OutputFeatures];
        ReadOnlySpan<int> hiddenShape = [spec.LayerDirectionCount, batch, spec.OutputSize];
        ReadOnlySpan<int> cellShape = [spec.LayerDirectionCount, batch, spec.HiddenSize];
        // Constant strings only: this runs on every call of the allocation-free overloads.
        string hiddenMeaning = spec.ProjSize > 0 ? "num_layers*num_directions, batch, proj_size" : "num_layers*num_directions, batch, hidden_size";
        CheckLength("input", inputLength, inputShape, batchFirst ? "batch, seq_len, input_size" : "seq_len, batch, input_size", required: true);
        CheckLength("h0", h0Length, hiddenShape, hiddenMeaning, required: false);
        CheckCellState(spec, "c0", c0Length, cellShape, required: false);
        CheckLengths(lengths, seqLen, batch);
        CheckLength("output", outputLength, outputShape, batchFirst ? "batch, seq_len, num_directions*output features" : "seq_len, batch, num_directions*output features", outputsRequired);
        CheckLength("hn", hnLength, hiddenShape, hiddenMeaning, outputsRequired);
        CheckCellState(spec, "cn", cnLength, cellShape, outputsRequired);
    }

    /// <summary>A span argument: empty is allowed unless required, otherwise its length must match. Allocates only to throw.</summary>
    public static void CheckLength(string name, int length, ReadOnlySpan<int> shape, string meaning, bool required)
    {
        long expected = FloatTensor.ElementCount(shape);
        if (length == 0 && !required) return;
        if (length != expected)
            throw new ShapeMismatchException(name, FloatTensor.FormatShape(shape),
                $"has {length} elements instead of {FloatTensor.FormatCount(expected)}", meaning);
    }

    /// <summary>
    /// A zero tensor for an output of the allocating overloads, or, when no array can hold it, an
    /// <see cref="ArgumentOutOfRangeException"/> for the argument whose size implies it.
    /// </summary>
    public static FloatTensor NewOutput(string output, int[] shape, string impliedBy)
    {
        long elements = FloatTensor.ElementCount(shape);
        if (elements > Array.MaxLength)
            throw new ArgumentOutOfRangeException(impliedBy, elements,
                $"the output {output} would have shape {FloatTensor.FormatShape(shape)}, {FloatTensor.FormatCount(elements)} elements, more than " +
                $"a FloatTensor holds ({Array.MaxLength}); split the batch or the sequence into smaller calls");
        return FloatTensor.Zeros(shape);
    }

    /// <summary>A tensor argument's dimensions must match exactly.</summary>
    public static void CheckDims(string name, ReadOnlySpan<int> dims, int[] shape, string meaning)
    {
        if (dims.SequenceEqual(shape)) return;
        throw new ShapeMismatchException(name, FloatTensor.FormatShape(shape), $"has shape {FloatTensor.FormatShape(dims)}", meaning);
    }

    /// <summary>A tensor argument: its shape must match exactly.</summary>
    public static void CheckTensor(string name, FloatTensor? tensor, int[] shape, string meaning)
    {
        if (tensor is null || tensor.HasShape(shape)) return;
        throw new ShapeMismatchException(name, FloatTensor.FormatShape(shape), $"has shape {FloatTensor.FormatShape(tensor.Shape)}", meaning);
    }

    public static void CheckLengths(ReadOnlySpan<int> lengths, int seqLen, int batch)
    {
        if (lengths.IsEmpty) return;
        if (lengths.Length != batch)
            throw new ShapeMismatchException("lengths", $"[{batch}]", $"has {lengths.Length} elements", "one length per batch row");
        for (int b = 0; b < lengths.Length; b++)
        {
            if (lengths[b] < 1 || lengths[b] > seqLen)
                throw new ArgumentOutOfRangeException("lengths", lengths[b], $"lengths[{b}] = {lengths[b]} is outside 1..{seqLen} (the sequence length)");
        }
    }

    /// <summary>
    /// The one aliasing rule of every backend (the C ABI enforces the same): an output may not share memory with any
    /// other buffer of the call, except that state may be updated in place — h_n exactly over h0, c_n exactly over c0.
    /// </summary>
    public static void CheckNoOverlap(in ForwardRequest request)
    {
        CheckOutput("output", request.Output, request);
        CheckOutput("hn", request.FinalHidden, request);
        CheckOutput("cn", request.FinalCell, request);
    }

    private static void CheckOutput(string name, ReadOnlySpan<float> output, in ForwardRequest request)
    {
        if (output.IsEmpty) return;
        CheckDisjoint(name, output, "input", request.Input);
        CheckDisjoint(name, output, "lengths", MemoryMarshal.Cast<int, float>(request.Lengths));
        CheckStateAlias(name, output, "h0", request.InitialHidden, name == "hn");
        CheckStateAlias(name, output, "c0", request.InitialCell, name == "cn");
        // Each pair of outputs once.
        if (name == "output")
        {
            CheckDisjoint(name, output, "hn", request.FinalHidden);
            CheckDisjoint(name, output, "cn", request.FinalCell);
        }
        else if (name == "hn")
        {
            CheckDisjoint(name, output, "cn", request.FinalCell);
        }
    }

    private static void CheckStateAlias(string name, ReadOnlySpan<float> output, string stateName, ReadOnlySpan<float> state, bool inPlaceAllowed)
    {
        if (inPlaceAllowed && Unsafe.AreSame(ref MemoryMarshal.GetReference(output), ref MemoryMarshal.GetReference(state)) && output.Length == state.Length)
            return;
        CheckDisjoint(name, output, stateName, state);
    }

    private static void CheckDisjoint(string name, ReadOnlySpan<float> output, string otherName, ReadOnlySpan<float> other)
    {
        if (output.Overlaps(other))
            throw new ArgumentException(
                $"{name} and {otherName} overlap; outputs may not share memory with other arguments, except hn == h0 and cn == c0 (state in place)",
                name);
    }

    private static void CheckCellState(RnnSpec spec, string name, int length, ReadOnlySpan<int> shape, bool required)
    {
        if (spec.Kind.HasCellState())
        {
            CheckLength(name, length, shape, "num_layers*num_directions, batch, hidden_size", required);
            return;
        }

        if (length != 0)
            throw new ArgumentException($"{name} was given but a {spec.Kind.DisplayName()} has no cell state", name);
    }
}
