namespace FusedRnn.Backends.Managed;

/// <summary>One call's shape and how it is split between participants.</summary>
/// <param name="SeqLen">T.</param>
/// <param name="Batch">B.</param>
/// <param name="InputBatchFirst">Whether x is <c>[B, T, I]</c>.</param>
/// <param name="OutputBatchFirst">Whether y is <c>[B, T, D·Hout]</c>.</param>
/// <param name="Participants">Threads that run the call, the caller's included.</param>
/// <param name="SplitRows">Whether they split batch rows (else hidden units; see <see cref="CallPlan.Share"/>).</param>
internal readonly record struct CallShape(int SeqLen, int Batch, bool InputBatchFirst, bool OutputBatchFirst, int Participants, bool SplitRows);

/// <summary>A half-open range <c>[Start, End)</c>.</summary>
internal readonly record struct IndexRange(int Start, int End)
{
    public int Length => End - Start;

    /// <summary>Participant <paramref name="index"/>'s share of <paramref name="count"/> items split as evenly as whole items allow.</summary>
    public static IndexRange Share(int count, int index, int participants) => new(count * index / participants, count * (index + 1) / participants);
}

/// <summary>What one participant computes: its batch rows (in length order) and unit blocks.</summary>
internal readonly record struct Slice(IndexRange Rows, IndexRange Blocks);

/// <summary>
/// How a call is shared between threads: the native library's rule (<c>sharing_for</c> in native/src/cpu/forward.cpp),
/// with its constants, so that both backends split the same call the same way. Either split computes every output
/// with the same kernel in the same order as one thread, so the split never changes a result.
/// </summary>
internal static class CallPlan
{
    /// <summary>Batch rows that share each weight load in a row-group tile: a row split hands out whole groups.</summary>
    public const int RowGroup = 4;

    /// <summary>
    /// Multiply-adds of a step's recurrent product below which the caller runs alone: less than the cost of sharing
    /// them (a barrier is a few hundred ns when the cores are free).
    /// </summary>
    public const long MinimumParallelStepMacs = 32 * 1024;

    /// <summary>Weights small enough to sit in every core's cache at once: a quarter of a 1 MiB L2, or less.</summary>
    public const long CacheResidentWeightBytes = 256 * 1024;

    /// <summary>
    /// Participants and split for a call. Steps under <see cref="MinimumParallelStepMacs"/> run on the caller alone.
    /// Above it, hidden units are split (DeepCPU: each core keeps its slice of the weights in its own cache) unless
    /// the weights fit every core's cache at once and the batch has a row group per participant: then rows are split
    /// and the per-step barriers disappear. A projection mixes all units into every h, and the GRU with the reset
    /// before the product needs all of r ⊙ h before R_n, so those only split rows.
    /// </summary>
    /// <param name="threads">The threads a call may use.</param>
    /// <param name="batch">B.</param>
    /// <param name="gates">G.</param>
    /// <param name="hiddenBlocks">Unit blocks of the padded hidden size.</param>
    /// <param name="width">Units per block.</param>
    /// <param name="outputSize">Hout, the recurrent product's depth.</param>
    /// <param name="onlyRows">Whether a step needs every unit of a row at once (an LSTM projection, the GRU with the reset before the product).</param>
    /// <param name="largestLayerFloats">The packed W_ih and W_hh of the largest layer, in floats.</param>
    public static (int Participants, bool SplitRows) Share(
        int threads, int batch, int gates, int hiddenBlocks, int width, int outputSize, bool onlyRows, long largestLayerFloats)
    {
        long stepMacs = (long)batch * gates * hiddenBlocks * width * outputSize;
        if (threads == 1 || stepMacs < MinimumParallelStepMacs) return (1, false);
        bool weightsFitEveryCache = largestLayerFloats * sizeof(float) <= CacheResidentWeightBytes;
        int rowParts = int.Min(threads, batch / RowGroup);
        int unitParts = onlyRows ? 1 : int.Min(threads, hiddenBlocks);
        if (rowParts > 1 && (weightsFitEveryCache || rowParts > unitParts)) return (rowParts, true);
        return (unitParts, false);
    }

    /// <summary>Participant <paramref name="participant"/>'s rows and unit blocks.</summary>
    public static Slice SliceOf(CallShape call, int hiddenBlocks, int participant)
    {
        if (!call.SplitRows) return new Slice(new IndexRange(0, call.Batch), IndexRange.Share(hiddenBlocks, participant, call.Participants));
        IndexRange groups = IndexRange.Share((call.Batch + RowGroup - 1) / RowGroup, participant, call.Participants);
        return new Slice(new IndexRange(groups.Start * RowGroup, int.Min(groups.End * RowGroup, call.Batch)), new IndexRange(0, hiddenBlocks));
    }
}
