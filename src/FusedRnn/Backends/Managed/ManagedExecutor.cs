using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;

namespace FusedRnn.Backends.Managed;

/// <summary>
/// The managed kernels at one vector width. Per layer: one GEMM per direction projects the inputs of every time
/// step (with the biases that can be folded in); then each step walks the hidden units a pass (a few vector-wide
/// blocks) at a time, computing the pass's recurrent products for all gates, adding the projection, applying the
/// activations and updating the state in one pass over the weights. Rows are kept longest-first so variable lengths
/// only shrink a prefix. Arithmetic and state are double; weights, inputs and outputs float32.
/// <para>
/// Threads (<see cref="Split"/> decides how a call is shared): every participant owns a fixed slice of hidden
/// units — the same slice of the input and recurrent weights on every step, so it stays in that core's cache — and
/// the participants meet at one barrier per step; or, for small networks with big batches, every participant takes
/// its own rows through the whole sequence with no barrier per step. Every output is computed by the same kernel in
/// the same order whatever the split, so threaded results equal single-threaded ones bit for bit.
/// </para>
/// </summary>
internal sealed class ManagedExecutor<TSimd, TVec> : RnnExecutor
    where TSimd : ISimd<TVec>
    where TVec : struct
{
    /// <summary>Batch rows that share each weight load in the recurrent product.</summary>
    private const int RowGroup = 4;

    /// <summary>
    /// Multiply-adds of the recurrent product per step that each participant needs before splitting hidden units
    /// between threads pays: below it the barrier and the cache traffic of h between cores cost more than the work
    /// saved (a 128-unit LSTM at batch 1, 64K in all, runs 570 → 300 µs per 100 steps on two cores of the
    /// development machine when they are quiet; a 64-unit one, 16K, stays on the caller).
    /// </summary>
    private const int MinimumStepWorkPerThread = 32 * 1024;

    private readonly PackedLayer[] _layers;
    private readonly int _width = TSimd.Count;
    private readonly int _gates;
    private readonly int _blocks;
    private readonly int _gateRowStride;
    private readonly int _hiddenStride;
    private readonly int _outputStride;
    private readonly int _outputBlocks;
    private readonly int _blocksPerPass;
    private readonly int _passes;
    private readonly int _threads;

    /// <param name="weights">The network.</param>
    /// <param name="threads">Threads per call, the caller's included; 0: one per logical processor (this does not
    /// detect SMT siblings, so on an SMT machine it is two per core).</param>
    public ManagedExecutor(RnnWeights weights, int threads)
        : base(weights.Spec)
    {
        RnnSpec spec = weights.Spec;
        _threads = threads == 0 ? Environment.ProcessorCount : threads;
        _gates = spec.GateCount;
        _blocks = PackedPanels.BlockCount(spec.HiddenSize, _width);
        // A whole number of four-panel tiles per pass, the single-row kernel's shape: 1 LSTM block (4 gates), else 4 blocks.
        _blocksPerPass = _gates % 4 == 0 ? 1 : 4;
        _passes = (_blocks + _blocksPerPass - 1) / _blocksPerPass;
        _outputBlocks = PackedPanels.BlockCount(spec.OutputSize, _width);
        _gateRowStride = _blocks * _gates * _width;
        _hiddenStride = _blocks * _width;
        _outputStride = PackedPanels.BlockCount(spec.OutputSize, _width) * _width;
        _layers = new PackedLayer[spec.LayerDirectionCount];
        for (int index = 0; index < _layers.Length; index++)
            _layers[index] = Pack(spec, index / spec.Directions, weights.Layers[index]);
    }

    private sealed record PackedLayer(
        PackedPanels InputWeights,
        double[]? InputBias,
        PackedPanels RecurrentWeights,
        double[]? NewGateHiddenBias,
        PackedPanels? Projection);

    private PackedLayer Pack(RnnSpec spec, int layer, LayerWeights weights)
    {
        int hidden = spec.HiddenSize;
        double[]? inputBias = null, newGateHiddenBias = null;
        if (weights.BiasIh is { } biasIh && weights.BiasHh is { } biasHh)
        {
            // b_hh joins b_ih in the projection, except GRU's b_hn, which sits inside r ⊙ (W_hn h + b_hn).
            inputBias = PackedPanels.PackVector(biasIh, _gates, hidden, _width);
            int foldedGates = spec.Kind == CellKind.Gru ? 2 : _gates;
            double[] foldedHidden = PackedPanels.PackVector(biasHh, _gates, hidden, _width);
            for (int i = 0; i < inputBias.Length; i++)
            {
                if ((i / _width) % _gates < foldedGates) inputBias[i] += foldedHidden[i];
            }

            if (spec.Kind == CellKind.Gru)
                newGateHiddenBias = PackedPanels.PackVector(biasHh.AsSpan(2 * hidden, hidden), 1, hidden, _width);
        }

        return new PackedLayer(
            PackedPanels.Pack(weights.WeightIh, _gates, hidden, spec.LayerInputSize(layer), _width),
            inputBias,
            PackedPanels.Pack(weights.WeightHh, _gates, hidden, spec.OutputSize, _width),
            newGateHiddenBias,
            weights.WeightHr is { } weightHr ? PackedPanels.Pack(weightHr, 1, spec.ProjSize, hidden, _width) : null);
    }

    public override RnnWorkspace CreateWorkspace()
    {
        var ws = new ManagedWorkspace(this, _threads);
        ws.Job = participant => RunParticipant(ws, participant);
        return ws;
    }

    public override void Forward(in ForwardRequest request, RnnWorkspace workspace)
    {
        var ws = (ManagedWorkspace)workspace;
        int seqLen = request.SeqLen, batch = request.Batch, rows = seqLen * batch;
        (int participants, bool splitRows) = Split(batch, ws.Threads);
        Prepare(ws, seqLen, batch, request.Lengths, participants);
        Widen(request.Input, ws.Input);
        LoadInitialState(ws, batch, request.InitialHidden, request.InitialCell);
        ws.Call = new CallShape(seqLen, batch, request.BatchFirst, request.BatchFirst, participants, splitRows);
        ws.Run(participants);
        if (!request.Output.IsEmpty)
        {
            Narrow(LayerOutput(ws, Spec.NumLayers - 1).AsSpan(0, rows * Spec.OutputFeatures), request.Output);
            if (!request.Lengths.IsEmpty) ClearPastLengths(request.Output, request.Lengths, seqLen, batch, request.BatchFirst);
        }

        StoreFinalState(ws, batch, request.FinalHidden, request.FinalCell);
    }

    /// <summary>
    /// y is zero past each row's length. The layer buffers hold stale values there (they are reused, and no step
    /// reads a position past its row's length), so the zeros are written into y itself.
    /// </summary>
    private void ClearPastLengths(Span<float> output, ReadOnlySpan<int> lengths, int seqLen, int batch, bool batchFirst)
    {
        int features = Spec.OutputFeatures;
        for (int b = 0; b < batch; b++)
        {
            for (int t = lengths[b]; t < seqLen; t++)
                output.Slice(((batchFirst ? (b * seqLen) + t : (t * batch) + b) * features), features).Clear();
        }
    }

    /// <summary>
    /// How a call is shared: 1 participant (the caller alone) or every thread of the workspace. Hidden units are split
    /// when each participant gets a pass and <see cref="MinimumStepWorkPerThread"/>: every core then streams only its
    /// share of the weights (measured on the 2-core Zen 5 at B = 32, H = 512: 92 ms against 97–172 ms for the row
    /// split). Otherwise rows are split when each participant gets a whole row group: no barrier per step, for small
    /// networks with big batches. Otherwise the caller runs alone.
    /// </summary>
    private (int Participants, bool SplitRows) Split(int batch, int threads)
    {
        if (threads == 1) return (1, false);
        long stepWork = (long)_gates * Spec.HiddenSize * Spec.OutputSize * batch;
        if (_passes >= threads && stepWork >= (long)MinimumStepWorkPerThread * threads) return (threads, false);
        return (batch + RowGroup - 1) / RowGroup >= threads ? (threads, true) : (1, false);
    }

    private static double[] LayerOutput(ManagedWorkspace ws, int layer) => layer % 2 == 0 ? ws.LayerOutputA : ws.LayerOutputB;

    /// <summary>Grows the workspace and orders rows by length (longest first).</summary>
    private void Prepare(ManagedWorkspace ws, int seqLen, int batch, ReadOnlySpan<int> lengths, int participants)
    {
        // Every size in 64-bit arithmetic: a buffer larger than an array can be is refused before anything is
        // allocated, so the int offsets of the kernels (all inside these buffers) cannot wrap.
        var sizes = new WorkspaceSizes(seqLen, batch);
        long rows = (long)seqLen * batch;
        int input = sizes.Require("the widened input", rows * Spec.InputSize);
        int projection = sizes.Require("the input projection", Spec.Directions * rows * _gateRowStride);
        int layerOutput = sizes.Require("a layer's output", rows * Spec.OutputFeatures);
        int hidden = sizes.Require("the hidden state", (long)Spec.LayerDirectionCount * 2 * batch * _outputStride, perStep: true);
        int cell = sizes.Require("the cell state", Spec.Kind == CellKind.Lstm ? (long)Spec.LayerDirectionCount * batch * _hiddenStride : 0, perStep: true);
        int unprojected = sizes.Require("the unprojected state", Spec.ProjSize > 0 ? (long)batch * _hiddenStride : 0, perStep: true);
        int tiles = participants * TileSize;
        long growth = WorkspaceSizes.Growth(ws.Input, input) + WorkspaceSizes.Growth(ws.Projection, projection)
            + WorkspaceSizes.Growth(ws.LayerOutputA, layerOutput) + (Spec.NumLayers > 1 ? WorkspaceSizes.Growth(ws.LayerOutputB, layerOutput) : 0)
            + WorkspaceSizes.Growth(ws.Hidden, hidden) + WorkspaceSizes.Growth(ws.Cell, cell) + WorkspaceSizes.Growth(ws.Unprojected, unprojected)
            + WorkspaceSizes.Growth(ws.GateTiles, tiles);
        sizes.RequireAvailableMemory(growth, projection);
        sizes.Grow(ref ws.Input, input, "the widened input");
        sizes.Grow(ref ws.Projection, projection, "the input projection");
        sizes.Grow(ref ws.LayerOutputA, layerOutput, "a layer's output");
        if (Spec.NumLayers > 1) sizes.Grow(ref ws.LayerOutputB, layerOutput, "a layer's output");
        sizes.Grow(ref ws.Hidden, hidden, "the hidden state");
        sizes.Grow(ref ws.Cell, cell, "the cell state");
        sizes.Grow(ref ws.Unprojected, unprojected, "the unprojected state");
        sizes.Grow(ref ws.GateTiles, tiles, "the gate tiles");
        ManagedWorkspace.Grow(ref ws.RowOrder, batch);
        ManagedWorkspace.Grow(ref ws.SortedLengths, batch);

        Span<int> order = ws.RowOrder.AsSpan(0, batch);
        Span<int> sorted = ws.SortedLengths.AsSpan(0, batch);
        // Insertion sort, longest first and stable: allocation-free, and batches are small next to the work per row.
        for (int b = 0; b < batch; b++)
        {
            int length = lengths.IsEmpty ? seqLen : lengths[b], slot = b;
            for (; slot > 0 && sorted[slot - 1] < length; slot--)
            {
                sorted[slot] = sorted[slot - 1];
                order[slot] = order[slot - 1];
            }

            sorted[slot] = length;
            order[slot] = b;
        }
    }

    /// <summary>Doubles of one participant's gate tile: a row group's products for one pass.</summary>
    private int TileSize => RowGroup * TileStride;

    private int TileStride => _blocksPerPass * _gates * _width;

    private int HiddenCopySize(int batch) => batch * _outputStride;

    /// <summary>h0 and c0 (or zeros) into the first h copy and c of every (layer, direction), rows in length order.</summary>
    private void LoadInitialState(ManagedWorkspace ws, int batch, ReadOnlySpan<float> initialHidden, ReadOnlySpan<float> initialCell)
    {
        int outputSize = Spec.OutputSize, hidden = Spec.HiddenSize;
        ws.Hidden.AsSpan(0, Spec.LayerDirectionCount * 2 * HiddenCopySize(batch)).Clear();
        ws.Cell.AsSpan(0, Spec.Kind == CellKind.Lstm ? Spec.LayerDirectionCount * batch * _hiddenStride : 0).Clear();
        for (int state = 0; state < Spec.LayerDirectionCount; state++)
        {
            for (int i = 0; i < batch; i++)
            {
                int source = (state * batch) + ws.RowOrder[i];
                if (!initialHidden.IsEmpty)
                    Widen(initialHidden.Slice(source * outputSize, outputSize), ws.Hidden.AsSpan((state * 2 * HiddenCopySize(batch)) + (i * _outputStride)));
                if (!initialCell.IsEmpty)
                    Widen(initialCell.Slice(source * hidden, hidden), ws.Cell.AsSpan(((state * batch) + i) * _hiddenStride));
            }
        }
    }

    /// <summary>h_n and c_n: a row's last h is in the copy its length selects (step s writes copy (s + 1) mod 2).</summary>
    private void StoreFinalState(ManagedWorkspace ws, int batch, Span<float> finalHidden, Span<float> finalCell)
    {
        int outputSize = Spec.OutputSize, hidden = Spec.HiddenSize;
        for (int state = 0; state < Spec.LayerDirectionCount; state++)
        {
            for (int i = 0; i < batch; i++)
            {
                int target = (state * batch) + ws.RowOrder[i];
                int copy = ws.SortedLengths[i] % 2;
                if (!finalHidden.IsEmpty)
                    Narrow(ws.Hidden.AsSpan((((state * 2) + copy) * HiddenCopySize(batch)) + (i * _outputStride), outputSize), finalHidden.Slice(target * outputSize));
                if (!finalCell.IsEmpty)
                    Narrow(ws.Cell.AsSpan(((state * batch) + i) * _hiddenStride, hidden), finalCell.Slice(target * hidden));
            }
        }
    }

    private readonly record struct DirectionPass(int Layer, int Direction, int SeqLen, int Batch, bool InputBatchFirst, bool OutputBatchFirst);

    /// <summary>A half-open range <c>[Start, End)</c>.</summary>
    private readonly record struct Range(int Start, int End)
    {
        public int Length => End - Start;

        /// <summary>Participant <paramref name="index"/>'s share of <paramref name="count"/> items split as evenly as whole items allow.</summary>
        public static Range Share(int count, int index, int participants) => new(count * index / participants, count * (index + 1) / participants);
    }

    /// <summary>What one participant computes: its rows (in length order), hidden passes and output blocks.</summary>
    private readonly record struct Slice(Range Rows, Range Passes, Range OutputBlocks);

    private Slice SliceOf(CallShape call, int participant)
    {
        if (call.SplitRows)
        {
            Range groups = Range.Share((call.Batch + RowGroup - 1) / RowGroup, participant, call.Participants);
            return new Slice(new Range(groups.Start * RowGroup, int.Min(groups.End * RowGroup, call.Batch)), new Range(0, _passes), new Range(0, _outputBlocks));
        }

        Range passes = Range.Share(_passes, participant, call.Participants);
        Range outputBlocks = Spec.ProjSize > 0
            ? Range.Share(_outputBlocks, participant, call.Participants)
            : new Range(passes.Start * _blocksPerPass, int.Min(passes.End * _blocksPerPass, _blocks));
        return new Slice(new Range(0, call.Batch), passes, outputBlocks);
    }

    /// <summary>Everything participant <paramref name="participant"/> does in one call, layer after layer.</summary>
    private void RunParticipant(ManagedWorkspace ws, int participant)
    {
        CallShape call = ws.Call;
        Slice slice = SliceOf(call, participant);
        // The input projection is always split by hidden passes; in a unit split each participant then reads only
        // what it projected itself, in a row split it reads every pass and has to wait for the others.
        Range projectedPasses = Range.Share(_passes, participant, call.Participants);
        for (int layer = 0; layer < Spec.NumLayers; layer++)
        {
            bool first = layer == 0, last = layer == Spec.NumLayers - 1;
            double[] input = first ? ws.Input : LayerOutput(ws, layer - 1);
            for (int direction = 0; direction < Spec.Directions; direction++)
            {
                var pass = new DirectionPass(layer, direction, call.SeqLen, call.Batch, first && call.InputBatchFirst, last && call.OutputBatchFirst);
                Project(ws, pass, input, projectedPasses);
            }

            if (call.SplitRows) ws.SignalAndWait(call.Participants);
            for (int direction = 0; direction < Spec.Directions; direction++)
            {
                var pass = new DirectionPass(layer, direction, call.SeqLen, call.Batch, first && call.InputBatchFirst, last && call.OutputBatchFirst);
                RunDirection(ws, pass, slice, participant);
            }

            // The next layer's projection reads every unit of this layer's output.
            if (!last) ws.SignalAndWait(call.Participants);
        }
    }

    /// <summary>The input projection of every step of one direction, for the panels of <paramref name="passes"/>, biases added.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // see PanelGemm
    private void Project(ManagedWorkspace ws, DirectionPass pass, double[] input, Range passes)
    {
        PackedLayer weights = _layers[(pass.Layer * Spec.Directions) + pass.Direction];
        int rows = pass.SeqLen * pass.Batch, inputSize = Spec.LayerInputSize(pass.Layer);
        int firstPanel = passes.Start * _blocksPerPass * _gates;
        int panels = int.Min(passes.End * _blocksPerPass, _blocks) * _gates - firstPanel;
        if (panels <= 0) return;
        int offset = (pass.Direction * rows * _gateRowStride) + (firstPanel * _width);
        PackedPanels packed = weights.InputWeights;
        PanelGemm<TSimd, TVec>.Multiply(
            ref input[0], inputSize, rows, inputSize,
            ref packed.Data[firstPanel * packed.PanelSize], packed.PanelSize, panels,
            ref ws.Projection[offset], _gateRowStride);
        if (weights.InputBias is not { } bias) return;
        ReadOnlySpan<double> biasSlice = bias.AsSpan(firstPanel * _width, panels * _width);
        for (int row = 0; row < rows; row++)
        {
            Span<double> projected = ws.Projection.AsSpan(offset + (row * _gateRowStride), biasSlice.Length);
            TensorPrimitives.Add(projected, biasSlice, projected);
        }
    }

    /// <summary>Every step of one direction for one participant's slice; in a unit split, a barrier after each step.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // see PanelGemm
    private void RunDirection(ManagedWorkspace ws, DirectionPass pass, Slice slice, int participant)
    {
        int participants = ws.Call.Participants;
        bool barrierPerStep = !ws.Call.SplitRows && participants > 1;
        ReadOnlySpan<int> lengths = ws.SortedLengths.AsSpan(0, pass.Batch);
        int active = pass.Batch;
        for (int step = 0; step < pass.SeqLen; step++)
        {
            while (active > 0 && lengths[active - 1] <= step) active--;
            var rows = new Range(slice.Rows.Start, int.Min(slice.Rows.End, active));
            if (barrierPerStep) PrefetchHidden(ws, pass, step % 2, rows);
            // Odd steps walk the passes last to first: weights larger than L2 read in the same order every step miss
            // on every line, reversed the passes read last are still cached. No sum changes order.
            bool reverseWalk = (step & 1) != 0;
            for (int index = 0; index < slice.Passes.Length; index++)
            {
                int passIndex = reverseWalk ? slice.Passes.End - 1 - index : slice.Passes.Start + index;
                for (int group = rows.Start; group < rows.End; group += RowGroup)
                    StepTile(ws, pass, passIndex, new Range(group, int.Min(group + RowGroup, rows.End)), step, participant);
            }

            if (Spec.ProjSize > 0)
            {
                // W_hr mixes every hidden unit of a row into each output: the whole of Unprojected must be there.
                if (barrierPerStep) ws.SignalAndWait(participants);
                ProjectHidden(ws, pass, rows, slice.OutputBlocks, step);
            }

            WriteOutputs(ws, pass, rows, slice.OutputBlocks, step);
            if (barrierPerStep) ws.SignalAndWait(participants);
        }
    }

    /// <summary>
    /// Asks for every cache line of the h rows a step reads, at once: the other participants have just written most
    /// of them, and the product would otherwise miss on them one at a time as it walks h.
    /// </summary>
    private unsafe void PrefetchHidden(ManagedWorkspace ws, DirectionPass pass, int copy, Range rows)
    {
        if (!Sse.IsSupported || rows.Length <= 0) return;
        const int doublesPerLine = 64 / sizeof(double);
        fixed (double* first = &HiddenRow(ws, pass, copy, rows.Start))
        {
            int count = rows.Length * _outputStride;
            for (int index = 0; index < count; index += doublesPerLine) Sse.Prefetch0(first + index);
        }
    }

    /// <summary>Copy <paramref name="copy"/> of h of the current (layer, direction): rows in length order.</summary>
    private ref double HiddenRow(ManagedWorkspace ws, DirectionPass pass, int copy, int row)
    {
        int state = (pass.Layer * Spec.Directions) + pass.Direction;
        return ref ws.Hidden[(((state * 2) + copy) * HiddenCopySize(pass.Batch)) + (row * _outputStride)];
    }

    /// <summary>One step of one pass of hidden units for the rows of <paramref name="rows"/> (at most a row group).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // see PanelGemm
    private void StepTile(ManagedWorkspace ws, DirectionPass pass, int passIndex, Range rows, int step, int participant)
    {
        PackedLayer weights = _layers[(pass.Layer * Spec.Directions) + pass.Direction];
        PackedPanels recurrent = weights.RecurrentWeights;
        int firstBlock = passIndex * _blocksPerPass, blocks = int.Min(_blocksPerPass, _blocks - firstBlock);
        int current = step % 2, next = 1 - current, gateStride = _gates * _width;
        int rowCount = rows.End - rows.Start;
        bool projects = weights.Projection is not null;
        ref double tile = ref ws.GateTiles[participant * TileSize];
        PanelGemm<TSimd, TVec>.Multiply(
            ref HiddenRow(ws, pass, current, rows.Start), _outputStride, rowCount, Spec.OutputSize,
            ref recurrent.Data[firstBlock * _gates * recurrent.PanelSize], recurrent.PanelSize, blocks * _gates,
            ref tile, TileStride);
        int projectionBase = pass.Direction * pass.SeqLen * pass.Batch * _gateRowStride;
        int state = (pass.Layer * Spec.Directions) + pass.Direction;
        for (int r = 0; r < rowCount; r++)
        {
            int i = rows.Start + r;
            ref double projectedRow = ref ws.Projection[projectionBase + (ProjectionRow(ws, pass, i, step) * _gateRowStride)];
            ref double hiddenIn = ref HiddenRow(ws, pass, current, i);
            ref double hiddenOut = ref projects ? ref ws.Unprojected[i * _hiddenStride] : ref HiddenRow(ws, pass, next, i);
            for (int b = 0; b < blocks; b++)
            {
                int block = firstBlock + b, lane = block * _width;
                ref double gates = ref Unsafe.Add(ref tile, (r * TileStride) + (b * gateStride));
                ref double projected = ref Unsafe.Add(ref projectedRow, block * gateStride);
                switch (Spec.Kind)
                {
                    case CellKind.Lstm:
                        LstmUpdate(ref gates, ref projected, ref ws.Cell[(((state * pass.Batch) + i) * _hiddenStride) + lane], ref Unsafe.Add(ref hiddenOut, lane));
                        break;
                    case CellKind.Gru:
                        GruUpdate(ref gates, ref projected, weights.NewGateHiddenBias, lane, ref Unsafe.Add(ref hiddenIn, lane), ref Unsafe.Add(ref hiddenOut, lane));
                        break;
                    case CellKind.RnnTanh:
                        TSimd.Store(Activations<TSimd, TVec>.Tanh(Preactivation(ref gates, ref projected)), ref Unsafe.Add(ref hiddenOut, lane));
                        break;
                    default:
                        TSimd.Store(Activations<TSimd, TVec>.Relu(Preactivation(ref gates, ref projected)), ref Unsafe.Add(ref hiddenOut, lane));
                        break;
                }
            }
        }
    }

    /// <summary>h = W_hr · (unprojected h) for <paramref name="rows"/> and the output blocks <paramref name="blocks"/>.</summary>
    private void ProjectHidden(ManagedWorkspace ws, DirectionPass pass, Range rows, Range blocks, int step)
    {
        PackedPanels projection = _layers[(pass.Layer * Spec.Directions) + pass.Direction].Projection!;
        if (rows.End <= rows.Start || blocks.End <= blocks.Start) return;
        PanelGemm<TSimd, TVec>.Multiply(
            ref ws.Unprojected[rows.Start * _hiddenStride], _hiddenStride, rows.End - rows.Start, Spec.HiddenSize,
            ref projection.Data[blocks.Start * projection.PanelSize], projection.PanelSize, blocks.End - blocks.Start,
            ref Unsafe.Add(ref HiddenRow(ws, pass, 1 - (step % 2), rows.Start), blocks.Start * _width), _outputStride);
    }

    /// <summary>This step's h of <paramref name="rows"/>, output units of <paramref name="blocks"/>, into the layer's output.</summary>
    private void WriteOutputs(ManagedWorkspace ws, DirectionPass pass, Range rows, Range blocks, int step)
    {
        int outputSize = Spec.OutputSize, features = Spec.OutputFeatures;
        int firstUnit = blocks.Start * _width, units = int.Min(blocks.End * _width, outputSize) - firstUnit;
        if (units <= 0) return;
        double[] destination = LayerOutput(ws, pass.Layer);
        int next = 1 - (step % 2);
        for (int i = rows.Start; i < rows.End; i++)
        {
            int row = OutputRow(pass, ws.RowOrder[i], TimeIndex(pass, ws.SortedLengths[i], step));
            MemoryMarshal.CreateReadOnlySpan(ref Unsafe.Add(ref HiddenRow(ws, pass, next, i), firstUnit), units)
                .CopyTo(destination.AsSpan((row * features) + (pass.Direction * outputSize) + firstUnit, units));
        }
    }

    private static void Widen(ReadOnlySpan<float> source, Span<double> destination) => TensorPrimitives.ConvertTruncating(source, destination[..source.Length]);

    /// <summary>
    /// Rounds to float32, every NaN to <see cref="NonFinite.CanonicalNaN"/> as the native kernels write it: which NaN
    /// operand an instruction keeps differs between kernels and vector widths, and outputs must not.
    /// </summary>
    private static void Narrow(ReadOnlySpan<double> source, Span<float> destination)
    {
        Span<float> narrowed = destination[..source.Length];
        TensorPrimitives.ConvertTruncating(source, narrowed);
        NonFinite.CanonicalizeNaN(narrowed);
    }


    /// <summary>The forward direction walks 0..len−1; the reverse one starts at the row's own end.</summary>
    private static int TimeIndex(DirectionPass pass, int length, int step) => pass.Direction == 0 ? step : length - 1 - step;

    private static int ProjectionRow(ManagedWorkspace ws, DirectionPass pass, int i, int step)
    {
        int t = TimeIndex(pass, ws.SortedLengths[i], step), b = ws.RowOrder[i];
        return pass.InputBatchFirst ? b * pass.SeqLen + t : t * pass.Batch + b;
    }

    private static int OutputRow(DirectionPass pass, int b, int t) => pass.OutputBatchFirst ? b * pass.SeqLen + t : t * pass.Batch + b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TVec Preactivation(ref double gates, ref double projected) => TSimd.Add(TSimd.Load(ref gates), TSimd.Load(ref projected));

    /// <summary>c' = σ(f)·c + σ(i)·tanh(g); h = σ(o)·tanh(c'). Gates i, f, g, o are consecutive vectors.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void LstmUpdate(ref double gates, ref double projected, ref double cell, ref double hiddenOut)
    {
        nint w = _width;
        TVec input = Activations<TSimd, TVec>.Sigmoid(Preactivation(ref gates, ref projected));
        TVec forget = Activations<TSimd, TVec>.Sigmoid(Preactivation(ref Unsafe.Add(ref gates, w), ref Unsafe.Add(ref projected, w)));
        TVec candidate = Activations<TSimd, TVec>.Tanh(Preactivation(ref Unsafe.Add(ref gates, 2 * w), ref Unsafe.Add(ref projected, 2 * w)));
        TVec outputGate = Activations<TSimd, TVec>.Sigmoid(Preactivation(ref Unsafe.Add(ref gates, 3 * w), ref Unsafe.Add(ref projected, 3 * w)));
        TVec c = TSimd.MultiplyAdd(forget, TSimd.Load(ref cell), TSimd.Multiply(input, candidate));
        TSimd.Store(c, ref cell);
        TSimd.Store(TSimd.Multiply(outputGate, Activations<TSimd, TVec>.Tanh(c)), ref hiddenOut);
    }

    /// <summary>r, z = σ(·); n = tanh(x_n + r·(W_hn h + b_hn)); h' = (1 − z)·n + z·h.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void GruUpdate(ref double gates, ref double projected, double[]? newGateBias, int lane, ref double hiddenPrev, ref double hiddenOut)
    {
        nint w = _width;
        TVec reset = Activations<TSimd, TVec>.Sigmoid(Preactivation(ref gates, ref projected));
        TVec update = Activations<TSimd, TVec>.Sigmoid(Preactivation(ref Unsafe.Add(ref gates, w), ref Unsafe.Add(ref projected, w)));
        TVec recurrentNew = TSimd.Load(ref Unsafe.Add(ref gates, 2 * w));
        if (newGateBias is not null) recurrentNew = TSimd.Add(recurrentNew, TSimd.Load(ref newGateBias[lane]));
        TVec candidate = Activations<TSimd, TVec>.Tanh(TSimd.MultiplyAdd(reset, recurrentNew, TSimd.Load(ref Unsafe.Add(ref projected, 2 * w))));
        // PyTorch's form, as the native kernels: n + z·(h − n) rounds differently and turns h = ±∞ into NaN sooner.
        TVec keepNew = TSimd.Multiply(TSimd.Subtract(TSimd.Broadcast(1.0), update), candidate);
        TSimd.Store(TSimd.MultiplyAdd(update, TSimd.Load(ref hiddenPrev), keepNew), ref hiddenOut);
    }
}
