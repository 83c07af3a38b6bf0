using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;

namespace FusedRnn.Backends.Managed;

/// <summary>
/// The managed kernels for one cell (<typeparamref name="TCell"/>) at one vector width and element type
/// <typeparamref name="T"/> (float for <see cref="RnnPrecision.Float32"/>, double for Float64). Per layer: one GEMM per
/// direction projects the inputs of every time step (with the biases the cell folds in); then each step walks the
/// participant's unit blocks a tile at a time — the tile's recurrent products for all gates (<see cref="PanelGemm{TSimd, TVec, T}"/>),
/// then the cell's update of those units — in one pass over the weights. Rows are kept longest-first so variable
/// lengths only shrink a prefix. Weights, inputs and outputs are float32; sums, activations, state and every scratch
/// buffer are <typeparamref name="T"/>, so in Float32 the state a caller carries between single steps is exactly
/// the state a whole sequence carries.
/// <para>
/// Threads (<see cref="CallPlan.Share"/> decides how a call is shared): every participant owns a fixed slice of unit
/// blocks — the same slice of the input and recurrent weights on every step, so it stays in that core's cache — and
/// the participants meet at one barrier per step; or every participant takes its own rows through the whole sequence
/// with no barrier per step. Every output is computed by the same kernel in the same order whatever the split, so
/// threaded results equal single-threaded ones bit for bit.
/// </para>
/// </summary>
internal sealed class ManagedExecutor<TSimd, TVec, T, TCell> : RnnExecutor
    where TSimd : ISimd<TVec, T>
    where TVec : struct
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
    where TCell : struct, ICellPolicy
{
    private readonly PackedLayer<T>[] _layers;
    private readonly int _width = TSimd.Count;
    private readonly int _gates = TCell.Gates;
    private readonly int _blocks;
    private readonly int _outputBlocks;
    private readonly int _gateRowStride;
    private readonly int _hiddenStride;
    private readonly int _outputStride;
    private readonly long _largestLayerFloats;
    private readonly int _tileStride;
    private readonly int _threads;
    private readonly CellRules[] _rules;

    /// <param name="weights">The network, of <typeparamref name="TCell"/>'s kind.</param>
    /// <param name="threads">Threads per call, the caller's included, at least 1.</param>
    public ManagedExecutor(RnnWeights weights, int threads)
        : base(weights.Spec, typeof(T) == typeof(double) ? RnnPrecision.Float64 : RnnPrecision.Float32)
    {
        RnnSpec spec = weights.Spec;
        _threads = threads;
        _blocks = PackedPanels.BlockCount(spec.HiddenSize, _width);
        _outputBlocks = PackedPanels.BlockCount(spec.OutputSize, _width);
        _gateRowStride = _blocks * _gates * _width;
        _hiddenStride = _blocks * _width;
        _outputStride = _outputBlocks * _width;
        _tileStride = int.Max(PanelGemm<TSimd, TVec, T>.RowTileBlocks<TCell>(), PanelGemm<TSimd, TVec, T>.GroupTileBlocks<TCell>()) * _gates * _width;
        // The R_n pass's single-row tile (8 one-gate blocks) is wider than a three-gate one.
        if (TCell.ResetsBeforeProduct)
            _tileStride = int.Max(_tileStride, PanelGemm<TSimd, TVec, T>.RowTileBlocks<SingleGate>() * _width);
        _rules = new CellRules[spec.Directions];
        for (int direction = 0; direction < spec.Directions; direction++) _rules[direction] = CellRules.For(spec, direction);
        _layers = new PackedLayer<T>[spec.LayerDirectionCount];
        for (int index = 0; index < _layers.Length; index++)
        {
            _layers[index] = PackedLayer<T>.Pack<TCell>(spec, index / spec.Directions, weights.Layers[index], _width);
            _largestLayerFloats = long.Max(_largestLayerFloats, _layers[index].StreamedWeightFloats);
        }
    }

    public override DenseExecutor LoadDense(DenseLayer layer) => new ManagedDenseExecutor(layer, Precision, _threads);

    public override RnnWorkspace CreateWorkspace()
    {
        var ws = new ManagedWorkspace<T>(this, _threads);
        ws.Job = participant => RunParticipant(ws, participant);
        return ws;
    }

    public override void Forward(in ForwardRequest request, RnnWorkspace workspace)
    {
        var ws = (ManagedWorkspace<T>)workspace;
        int seqLen = request.SeqLen, batch = request.Batch, rows = seqLen * batch;
        var state = new StateRows(Spec, batch);
        Run(ws, request.Input, seqLen, batch, request.BatchFirst, request.Lengths, request.InitialHidden, request.InitialCell, state);
        if (!request.Output.IsEmpty)
        {
            Narrow(LayerOutput(ws, Spec.NumLayers - 1).AsSpan(0, rows * Spec.OutputFeatures), request.Output);
            if (!request.Lengths.IsEmpty) ClearPastLengths(request.Output, request.Lengths, seqLen, batch, request.BatchFirst);
        }

        StoreFinalState(ws, batch, request.FinalHidden, request.FinalCell, state);
    }

    public override void StepSlots(in SlotStepRequest request, RnnWorkspace workspace)
    {
        var ws = (ManagedWorkspace<T>)workspace;
        Span<T> slots = MemoryMarshal.Cast<byte, T>(request.State);
        Span<T> cellSlots = TCell.HasCellState ? slots : default;
        var state = new StateRows(Spec, request.Slots, SlotBytes / Unsafe.SizeOf<T>());
        Run(ws, request.Input, 1, request.Batch, batchFirst: false, lengths: default, slots, cellSlots, state);
        if (!request.Output.IsEmpty) Narrow(LayerOutput(ws, Spec.NumLayers - 1).AsSpan(0, request.Batch * Spec.OutputFeatures), request.Output);
        StoreFinalState(ws, request.Batch, slots, cellSlots, state);
    }

    /// <summary>Plans the call, loads x and the initial state (from caller floats or slots of <typeparamref name="TState"/>) and runs every layer.</summary>
    private void Run<TState>(
        ManagedWorkspace<T> ws, ReadOnlySpan<float> input, int seqLen, int batch, bool batchFirst, ReadOnlySpan<int> lengths,
        ReadOnlySpan<TState> initialHidden, ReadOnlySpan<TState> initialCell, in StateRows state)
        where TState : unmanaged
    {
        (int planned, bool splitRows) = CallPlan.Share(
            ws.Threads, batch, _gates, _blocks, _width, Spec.OutputSize, SplitsOnlyRows, _largestLayerFloats);
        int participants = ws.Hire(planned);
        if (participants == 1) splitRows = false;
        try
        {
            Prepare(ws, seqLen, batch, lengths, participants);
            Widen(input, ws.Input);
            LoadInitialState(ws, batch, initialHidden, initialCell, state);
            ws.Call = new CallShape(seqLen, batch, batchFirst, batchFirst, participants, splitRows);
            ws.Run(participants);
        }
        finally
        {
            ws.Dismiss(); // only when Run did not happen: it gives its workers back itself
        }
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

    private static T[] LayerOutput(ManagedWorkspace<T> ws, int layer) => layer % 2 == 0 ? ws.LayerOutputA : ws.LayerOutputB;

    private PackedLayer<T> Layer(DirectionPass pass) => _layers[(pass.Layer * Spec.Directions) + pass.Direction];

    /// <summary>Grows the workspace and orders rows by length (longest first).</summary>
    private void Prepare(ManagedWorkspace<T> ws, int seqLen, int batch, ReadOnlySpan<int> lengths, int participants)
    {
        // Every size in 64-bit arithmetic: a buffer larger than an array can be is refused before anything is
        // allocated, so the int offsets of the kernels (all inside these buffers) cannot wrap.
        var sizes = new WorkspaceSizes<T>(seqLen, batch);
        long rows = (long)seqLen * batch;
        int input = sizes.Require("the input", rows * Spec.InputSize);
        int projection = sizes.Require("the input projection", Spec.Directions * rows * _gateRowStride);
        int layerOutput = sizes.Require("a layer's output", rows * Spec.OutputFeatures);
        int hidden = sizes.Require("the hidden state", (long)Spec.LayerDirectionCount * 2 * batch * _outputStride, perStep: true);
        int cell = sizes.Require("the cell state", TCell.HasCellState ? (long)Spec.LayerDirectionCount * batch * _hiddenStride : 0, perStep: true);
        int unprojected = sizes.Require("the unprojected state", Spec.ProjSize > 0 || TCell.ResetsBeforeProduct ? (long)batch * _hiddenStride : 0, perStep: true);
        int updateGates = sizes.Require("the update gates", TCell.ResetsBeforeProduct ? (long)batch * _hiddenStride : 0, perStep: true);
        int tiles = participants * TileSize;
        long growth = WorkspaceSizes<T>.Growth(ws.Input, input) + WorkspaceSizes<T>.Growth(ws.Projection, projection)
            + WorkspaceSizes<T>.Growth(ws.LayerOutputA, layerOutput) + (Spec.NumLayers > 1 ? WorkspaceSizes<T>.Growth(ws.LayerOutputB, layerOutput) : 0)
            + WorkspaceSizes<T>.Growth(ws.Hidden, hidden) + WorkspaceSizes<T>.Growth(ws.Cell, cell) + WorkspaceSizes<T>.Growth(ws.Unprojected, unprojected)
            + WorkspaceSizes<T>.Growth(ws.UpdateGates, updateGates)
            + WorkspaceSizes<T>.Growth(ws.GateTiles, tiles);
        sizes.RequireAvailableMemory(growth, projection);
        sizes.Grow(ref ws.Input, input, "the input");
        sizes.Grow(ref ws.Projection, projection, "the input projection");
        sizes.Grow(ref ws.LayerOutputA, layerOutput, "a layer's output");
        if (Spec.NumLayers > 1) sizes.Grow(ref ws.LayerOutputB, layerOutput, "a layer's output");
        sizes.Grow(ref ws.Hidden, hidden, "the hidden state");
        sizes.Grow(ref ws.Cell, cell, "the cell state");
        sizes.Grow(ref ws.Unprojected, unprojected, "the unprojected state");
        sizes.Grow(ref ws.UpdateGates, updateGates, "the update gates");
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

    /// <summary>
    /// Whether every participant must own whole rows: a projection mixes every unit into each h, and R_n of the GRU
    /// with the reset before the product reads every unit of r ⊙ h, as native's plan (forward.cpp).
    /// </summary>
    private bool SplitsOnlyRows => Spec.ProjSize > 0 || TCell.ResetsBeforeProduct;

    /// <summary>Elements of one participant's gate tile: the recurrent products of the widest tile of a row group.</summary>
    private int TileSize => TSimd.TileRows * _tileStride;

    private int HiddenCopySize(int batch) => batch * _outputStride;

    /// <summary>
    /// Where the state of (layer·direction <c>state</c>, batch row <c>row</c>) is in a flat span: the caller's
    /// <c>[L·D, B, features]</c> buffers of a forward call, or the row's slot of a slot step (h of every layer, then c).
    /// </summary>
    private readonly ref struct StateRows
    {
        private readonly ReadOnlySpan<int> _slots;
        private readonly int _batch, _slotValues, _cellOffset, _outputSize, _hiddenSize;

        /// <summary>A forward call's caller buffers.</summary>
        public StateRows(RnnSpec spec, int batch)
        {
            _batch = batch;
            _outputSize = spec.OutputSize;
            _hiddenSize = spec.HiddenSize;
        }

        /// <summary>The slots of a slot step, <paramref name="slotValues"/> values each.</summary>
        public StateRows(RnnSpec spec, ReadOnlySpan<int> slots, int slotValues)
            : this(spec, slots.Length)
        {
            _slots = slots;
            _slotValues = slotValues;
            _cellOffset = spec.NumLayers * spec.OutputSize;
        }

        /// <summary>Slots hold the arithmetic type itself; caller buffers are float32, rounded on the way out.</summary>
        public bool InSlots => !_slots.IsEmpty;

        public int Hidden(int state, int row) => InSlots ? (_slots[row] * _slotValues) + (state * _outputSize) : ((state * _batch) + row) * _outputSize;

        public int Cell(int state, int row) => InSlots ? (_slots[row] * _slotValues) + _cellOffset + (state * _hiddenSize) : ((state * _batch) + row) * _hiddenSize;
    }

    /// <summary>h0 and c0 (or zeros) into the first h copy and c of every (layer, direction), rows in length order.</summary>
    private void LoadInitialState<TState>(ManagedWorkspace<T> ws, int batch, ReadOnlySpan<TState> initialHidden, ReadOnlySpan<TState> initialCell, in StateRows rows)
        where TState : unmanaged
    {
        int outputSize = Spec.OutputSize, hidden = Spec.HiddenSize;
        ws.Hidden.AsSpan(0, Spec.LayerDirectionCount * 2 * HiddenCopySize(batch)).Clear();
        ws.Cell.AsSpan(0, TCell.HasCellState ? Spec.LayerDirectionCount * batch * _hiddenStride : 0).Clear();
        for (int state = 0; state < Spec.LayerDirectionCount; state++)
        {
            for (int i = 0; i < batch; i++)
            {
                int row = ws.RowOrder[i];
                if (!initialHidden.IsEmpty)
                    Load(initialHidden.Slice(rows.Hidden(state, row), outputSize), ws.Hidden.AsSpan((state * 2 * HiddenCopySize(batch)) + (i * _outputStride)));
                if (!initialCell.IsEmpty)
                    Load(initialCell.Slice(rows.Cell(state, row), hidden), ws.Cell.AsSpan(((state * batch) + i) * _hiddenStride));
            }
        }
    }

    /// <summary>h_n and c_n: a row's last h is in the copy its length selects (step s writes copy (s + 1) mod 2).</summary>
    private void StoreFinalState<TState>(ManagedWorkspace<T> ws, int batch, Span<TState> finalHidden, Span<TState> finalCell, in StateRows rows)
        where TState : unmanaged
    {
        int outputSize = Spec.OutputSize, hidden = Spec.HiddenSize;
        for (int state = 0; state < Spec.LayerDirectionCount; state++)
        {
            for (int i = 0; i < batch; i++)
            {
                int row = ws.RowOrder[i];
                int copy = ws.SortedLengths[i] % 2;
                if (!finalHidden.IsEmpty)
                    Store(ws.Hidden.AsSpan((((state * 2) + copy) * HiddenCopySize(batch)) + (i * _outputStride), outputSize), finalHidden.Slice(rows.Hidden(state, row)), rows.InSlots);
                if (!finalCell.IsEmpty)
                    Store(ws.Cell.AsSpan(((state * batch) + i) * _hiddenStride, hidden), finalCell.Slice(rows.Cell(state, row)), rows.InSlots);
            }
        }
    }

    /// <summary>State values into the workspace: slots' T as they are, caller float32 widened.</summary>
    private static void Load<TState>(ReadOnlySpan<TState> source, Span<T> destination)
        where TState : unmanaged
    {
        if (typeof(TState) == typeof(T)) MemoryMarshal.Cast<TState, T>(source).CopyTo(destination);
        else Widen(MemoryMarshal.Cast<TState, float>(source), destination);
    }

    /// <summary>State values out of the workspace: into slots as they are, into caller float32 rounded (<see cref="Narrow"/>).</summary>
    private static void Store<TState>(ReadOnlySpan<T> source, Span<TState> destination, bool inSlots)
        where TState : unmanaged
    {
        if (inSlots) source.CopyTo(MemoryMarshal.Cast<TState, T>(destination));
        else Narrow(source, MemoryMarshal.Cast<TState, float>(destination));
    }

    private readonly record struct DirectionPass(int Layer, int Direction, int SeqLen, int Batch, bool InputBatchFirst, bool OutputBatchFirst);

    /// <summary>Everything participant <paramref name="participant"/> does in one call, layer after layer.</summary>
    private void RunParticipant(ManagedWorkspace<T> ws, int participant)
    {
        CallShape call = ws.Call;
        Slice slice = CallPlan.SliceOf(call, _blocks, participant);
        // The input projection is always split by unit blocks; in a unit split each participant then reads only
        // what it projected itself, in a row split it reads every block and has to wait for the others.
        IndexRange projectedBlocks = IndexRange.Share(_blocks, participant, call.Participants);
        for (int layer = 0; layer < Spec.NumLayers; layer++)
        {
            bool first = layer == 0, last = layer == Spec.NumLayers - 1;
            T[] input = first ? ws.Input : LayerOutput(ws, layer - 1);
            for (int direction = 0; direction < Spec.Directions; direction++)
            {
                var pass = new DirectionPass(layer, direction, call.SeqLen, call.Batch, first && call.InputBatchFirst, last && call.OutputBatchFirst);
                Project(ws, pass, input, projectedBlocks);
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

    /// <summary>The input projection of every step of one direction, for the unit blocks <paramref name="blocks"/>, biases added.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // see PanelGemm
    private void Project(ManagedWorkspace<T> ws, DirectionPass pass, T[] input, IndexRange blocks)
    {
        if (blocks.Length <= 0) return;
        PackedLayer<T> weights = Layer(pass);
        PackedPanels packed = weights.InputWeights;
        int rows = pass.SeqLen * pass.Batch, inputSize = Spec.LayerInputSize(pass.Layer), firstColumn = blocks.Start * _gates * _width;
        ref T bias = ref weights.InputBias is { } inputBias ? ref inputBias[firstColumn] : ref Unsafe.NullRef<T>();
        PanelGemm<TSimd, TVec, T>.Multiply<TCell>(
            ref input[0], inputSize, rows, inputSize,
            ref packed.Data[blocks.Start * packed.PanelSize], packed.PanelSize, blocks.Length,
            ref ws.Projection[(pass.Direction * rows * _gateRowStride) + firstColumn], _gateRowStride, ref bias);
    }

    /// <summary>Every step of one direction for one participant's slice; in a unit split, a barrier after each step.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // see PanelGemm
    private void RunDirection(ManagedWorkspace<T> ws, DirectionPass pass, Slice slice, int participant)
    {
        int participants = ws.Call.Participants;
        bool barrierPerStep = !ws.Call.SplitRows && participants > 1;
        // A unit split (never with a projection) writes its own units of h; otherwise a participant writes whole rows.
        IndexRange outputUnits = barrierPerStep
            ? new IndexRange(slice.Blocks.Start * _width, int.Min(slice.Blocks.End * _width, Spec.OutputSize))
            : new IndexRange(0, Spec.OutputSize);
        ReadOnlySpan<int> lengths = ws.SortedLengths.AsSpan(0, pass.Batch);
        int active = pass.Batch;
        for (int step = 0; step < pass.SeqLen; step++)
        {
            while (active > 0 && lengths[active - 1] <= step) active--;
            var rows = new IndexRange(slice.Rows.Start, int.Min(slice.Rows.End, active));
            if (rows.Length > 0)
            {
                if (barrierPerStep) PrefetchHidden(ws, pass, step % 2, rows);
                StepTiles(ws, pass, slice.Blocks, rows, step, participant);
                if (Spec.ProjSize > 0) ProjectHidden(ws, pass, rows, step);
                WriteOutputs(ws, pass, rows, outputUnits, step);
            }

            if (barrierPerStep) ws.SignalAndWait(participants);
        }
    }

    /// <summary>
    /// Asks for every cache line of the h rows a step reads, at once: the other participants have just written most
    /// of them, and the product would otherwise miss on them one at a time as it walks h.
    /// </summary>
    private unsafe void PrefetchHidden(ManagedWorkspace<T> ws, DirectionPass pass, int copy, IndexRange rows)
    {
        if (!Sse.IsSupported) return;
        int elementsPerLine = 64 / sizeof(T);
        fixed (T* first = &HiddenRow(ws, pass, copy, rows.Start))
        {
            int count = rows.Length * _outputStride;
            for (int index = 0; index < count; index += elementsPerLine) Sse.Prefetch0(first + index);
        }
    }

    /// <summary>Copy <paramref name="copy"/> of h of the current (layer, direction): rows in length order.</summary>
    private ref T HiddenRow(ManagedWorkspace<T> ws, DirectionPass pass, int copy, int row)
    {
        int state = (pass.Layer * Spec.Directions) + pass.Direction;
        return ref ws.Hidden[(((state * 2) + copy) * HiddenCopySize(pass.Batch)) + (row * _outputStride)];
    }

    /// <summary>
    /// One step of the unit blocks <paramref name="blocks"/> for the rows <paramref name="rows"/>: tile by tile, the
    /// recurrent products of a few blocks for a row group, then the cell's update of those units.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // see PanelGemm
    private void StepTiles(ManagedWorkspace<T> ws, DirectionPass pass, IndexRange blocks, IndexRange rows, int step, int participant)
    {
        if (TCell.ResetsBeforeProduct)
        {
            StepResetBeforeProduct(ws, pass, rows, step, participant);
            return;
        }

        PackedPanels recurrent = Layer(pass).RecurrentWeights;
        int current = step % 2, tileRows = TSimd.TileRows, panelSize = recurrent.PanelSize, depth = Spec.OutputSize;
        int tileBlocks = rows.Length == 1 ? PanelGemm<TSimd, TVec, T>.RowTileBlocks<TCell>() : PanelGemm<TSimd, TVec, T>.GroupTileBlocks<TCell>();
        int tiles = (blocks.Length + tileBlocks - 1) / tileBlocks;
        ref T tile = ref ws.GateTiles[participant * TileSize];
        // Odd steps walk the tiles last to first: weights larger than L2 read in the same order every step miss on
        // every line; reversed, the ones read last are still cached. Each unit's sums stay within its tile.
        bool reverseWalk = (step & 1) != 0;
        for (int index = 0; index < tiles; index++)
        {
            int firstBlock = blocks.Start + ((reverseWalk ? tiles - 1 - index : index) * tileBlocks);
            int count = int.Min(tileBlocks, blocks.End - firstBlock);
            for (int group = rows.Start; group < rows.End; group += tileRows)
            {
                int groupRows = int.Min(tileRows, rows.End - group);
                PanelGemm<TSimd, TVec, T>.MultiplyTile<TCell>(
                    ref HiddenRow(ws, pass, current, group), _outputStride, groupRows, depth,
                    ref recurrent.Data[firstBlock * panelSize], panelSize, count, ref tile, _tileStride);
                UpdateTile(ws, pass, new IndexRange(firstBlock, firstBlock + count), new IndexRange(group, group + groupRows), step, ref tile);
            }
        }
    }

    /// <summary>
    /// The cell's update of the blocks and rows of one tile, whose recurrent products are in <paramref name="tile"/>.
    /// Not inlined into <see cref="StepTiles"/>: the activations are large, and the JIT's inlining budget spent on them
    /// there would leave the step's small helpers as calls.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private void UpdateTile(ManagedWorkspace<T> ws, DirectionPass pass, IndexRange blocks, IndexRange rows, int step, ref T tile)
    {
        PackedLayer<T> weights = Layer(pass);
        int current = step % 2, next = 1 - current, blockColumns = _gates * _width;
        int projectionBase = pass.Direction * pass.SeqLen * pass.Batch * _gateRowStride;
        int state = (pass.Layer * Spec.Directions) + pass.Direction;
        bool projects = weights.Projection is not null;
        ref T recurrentBias = ref weights.RecurrentBias is { } bias ? ref bias[0] : ref Unsafe.NullRef<T>();
        ref T peepholes = ref weights.Peepholes is { } packedPeepholes ? ref packedPeepholes[0] : ref Unsafe.NullRef<T>();
        CellRules rules = _rules[pass.Direction];
        for (int i = rows.Start; i < rows.End; i++)
        {
            ref T sums = ref Unsafe.Add(ref tile, (i - rows.Start) * _tileStride);
            ref T projected = ref ws.Projection[projectionBase + (ProjectionRow(ws, pass, i, step) * _gateRowStride) + (blocks.Start * blockColumns)];
            ref T hiddenIn = ref HiddenRow(ws, pass, current, i);
            ref T hiddenOut = ref projects ? ref ws.Unprojected[i * _hiddenStride] : ref HiddenRow(ws, pass, next, i);
            ref T cell = ref TCell.HasCellState ? ref ws.Cell[((state * pass.Batch) + i) * _hiddenStride] : ref Unsafe.NullRef<T>();
            for (int b = 0; b < blocks.Length; b++)
            {
                int unit = (blocks.Start + b) * _width;
                TCell.Update<TSimd, TVec, T>(new CellBlock<T>
                {
                    RecurrentSums = ref Unsafe.Add(ref sums, b * blockColumns),
                    Projected = ref Unsafe.Add(ref projected, b * blockColumns),
                    PreviousHidden = ref Unsafe.Add(ref hiddenIn, unit),
                    Cell = ref TCell.HasCellState ? ref Unsafe.Add(ref cell, unit) : ref cell,
                    RecurrentBias = ref Unsafe.IsNullRef(ref recurrentBias) ? ref recurrentBias : ref Unsafe.Add(ref recurrentBias, unit),
                    HiddenOut = ref Unsafe.Add(ref hiddenOut, unit),
                    Rules = rules,
                    Peepholes = ref Unsafe.IsNullRef(ref peepholes) ? ref peepholes : ref Unsafe.Add(ref peepholes, (blocks.Start + b) * 3 * _width),
                });
            }
        }
    }

    /// <summary>
    /// One step of the GRU with the reset before the product for <paramref name="rows"/>, every unit: tile by tile the
    /// products R_r h and R_z h, then r ⊙ h and z; then, once r ⊙ h is whole, tile by tile R_n (r ⊙ h) and the update.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // see PanelGemm
    private void StepResetBeforeProduct(ManagedWorkspace<T> ws, DirectionPass pass, IndexRange rows, int step, int participant)
    {
        PackedLayer<T> weights = Layer(pass);
        PackedPanels resetGates = weights.RecurrentWeights, resetCandidate = weights.ResetCandidateWeights!;
        int current = step % 2, tileRows = TSimd.TileRows;
        ref T tile = ref ws.GateTiles[participant * TileSize];
        int gateTileBlocks = rows.Length == 1 ? PanelGemm<TSimd, TVec, T>.RowTileBlocks<ResetGatePair>() : PanelGemm<TSimd, TVec, T>.GroupTileBlocks<ResetGatePair>();
        for (int firstBlock = 0; firstBlock < _blocks; firstBlock += gateTileBlocks)
        {
            int count = int.Min(gateTileBlocks, _blocks - firstBlock);
            for (int group = rows.Start; group < rows.End; group += tileRows)
            {
                int groupRows = int.Min(tileRows, rows.End - group);
                PanelGemm<TSimd, TVec, T>.MultiplyTile<ResetGatePair>(
                    ref HiddenRow(ws, pass, current, group), _outputStride, groupRows, Spec.OutputSize,
                    ref resetGates.Data[firstBlock * resetGates.PanelSize], resetGates.PanelSize, count, ref tile, _tileStride);
                ResetGatesTile(ws, pass, new IndexRange(firstBlock, firstBlock + count), new IndexRange(group, group + groupRows), step, ref tile);
            }
        }

        int candidateTileBlocks = rows.Length == 1 ? PanelGemm<TSimd, TVec, T>.RowTileBlocks<SingleGate>() : PanelGemm<TSimd, TVec, T>.GroupTileBlocks<SingleGate>();
        for (int firstBlock = 0; firstBlock < _blocks; firstBlock += candidateTileBlocks)
        {
            int count = int.Min(candidateTileBlocks, _blocks - firstBlock);
            for (int group = rows.Start; group < rows.End; group += tileRows)
            {
                int groupRows = int.Min(tileRows, rows.End - group);
                PanelGemm<TSimd, TVec, T>.MultiplyTile<SingleGate>(
                    ref ws.Unprojected[group * _hiddenStride], _hiddenStride, groupRows, Spec.HiddenSize,
                    ref resetCandidate.Data[firstBlock * resetCandidate.PanelSize], resetCandidate.PanelSize, count, ref tile, _tileStride);
                ResetCandidateTile(ws, pass, new IndexRange(firstBlock, firstBlock + count), new IndexRange(group, group + groupRows), step, ref tile);
            }
        }
    }

    /// <summary>The first pass at one tile: r ⊙ h into <see cref="ManagedWorkspace{T}.Unprojected"/>, z into <see cref="ManagedWorkspace{T}.UpdateGates"/>.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private void ResetGatesTile(ManagedWorkspace<T> ws, DirectionPass pass, IndexRange blocks, IndexRange rows, int step, ref T tile)
    {
        int current = step % 2, projectionBase = pass.Direction * pass.SeqLen * pass.Batch * _gateRowStride;
        CellRules rules = _rules[pass.Direction];
        for (int i = rows.Start; i < rows.End; i++)
        {
            ref T sums = ref Unsafe.Add(ref tile, (i - rows.Start) * _tileStride);
            ref T projected = ref ws.Projection[projectionBase + (ProjectionRow(ws, pass, i, step) * _gateRowStride) + (blocks.Start * _gates * _width)];
            ref T hiddenIn = ref HiddenRow(ws, pass, current, i);
            for (int b = 0; b < blocks.Length; b++)
            {
                int unit = (blocks.Start + b) * _width;
                GruResetBeforePolicy.ResetGates<TSimd, TVec, T>(
                    rules, ref Unsafe.Add(ref sums, b * 2 * _width), ref Unsafe.Add(ref projected, b * _gates * _width),
                    ref Unsafe.Add(ref hiddenIn, unit), ref ws.Unprojected[(i * _hiddenStride) + unit], ref ws.UpdateGates[(i * _hiddenStride) + unit]);
            }
        }
    }

    /// <summary>The second pass at one tile, whose R_n (r ⊙ h) products are in <paramref name="tile"/>: the new h.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private void ResetCandidateTile(ManagedWorkspace<T> ws, DirectionPass pass, IndexRange blocks, IndexRange rows, int step, ref T tile)
    {
        int current = step % 2, next = 1 - current, projectionBase = pass.Direction * pass.SeqLen * pass.Batch * _gateRowStride;
        CellRules rules = _rules[pass.Direction];
        for (int i = rows.Start; i < rows.End; i++)
        {
            ref T sums = ref Unsafe.Add(ref tile, (i - rows.Start) * _tileStride);
            ref T projected = ref ws.Projection[projectionBase + (ProjectionRow(ws, pass, i, step) * _gateRowStride) + (blocks.Start * _gates * _width)];
            ref T hiddenIn = ref HiddenRow(ws, pass, current, i);
            ref T hiddenOut = ref HiddenRow(ws, pass, next, i);
            for (int b = 0; b < blocks.Length; b++)
            {
                int unit = (blocks.Start + b) * _width;
                TCell.Update<TSimd, TVec, T>(new CellBlock<T>
                {
                    RecurrentSums = ref Unsafe.Add(ref sums, b * _width),
                    Projected = ref Unsafe.Add(ref projected, b * _gates * _width),
                    PreviousHidden = ref Unsafe.Add(ref hiddenIn, unit),
                    HiddenOut = ref Unsafe.Add(ref hiddenOut, unit),
                    UpdateGate = ref ws.UpdateGates[(i * _hiddenStride) + unit],
                    Rules = rules,
                });
            }
        }
    }

    /// <summary>h = W_hr · (unprojected h) for <paramref name="rows"/>, every output unit.</summary>
    private void ProjectHidden(ManagedWorkspace<T> ws, DirectionPass pass, IndexRange rows, int step)
    {
        PackedPanels projection = Layer(pass).Projection!;
        PanelGemm<TSimd, TVec, T>.Multiply<SingleGate>(
            ref ws.Unprojected[rows.Start * _hiddenStride], _hiddenStride, rows.Length, Spec.HiddenSize,
            ref projection.Data[0], projection.PanelSize, projection.PanelCount,
            ref HiddenRow(ws, pass, 1 - (step % 2), rows.Start), _outputStride, ref Unsafe.NullRef<T>());
    }

    /// <summary>This step's h of <paramref name="rows"/>, output units <paramref name="units"/>, into the layer's output.</summary>
    private void WriteOutputs(ManagedWorkspace<T> ws, DirectionPass pass, IndexRange rows, IndexRange units, int step)
    {
        if (units.Length <= 0) return;
        int outputSize = Spec.OutputSize, features = Spec.OutputFeatures;
        T[] destination = LayerOutput(ws, pass.Layer);
        int next = 1 - (step % 2);
        for (int i = rows.Start; i < rows.End; i++)
        {
            int row = OutputRow(pass, ws.RowOrder[i], TimeIndex(pass, ws.SortedLengths[i], step));
            MemoryMarshal.CreateReadOnlySpan(ref Unsafe.Add(ref HiddenRow(ws, pass, next, i), units.Start), units.Length)
                .CopyTo(destination.AsSpan((row * features) + (pass.Direction * outputSize) + units.Start, units.Length));
        }
    }

    /// <summary>float32 into <typeparamref name="T"/> (exact).</summary>
    private static void Widen(ReadOnlySpan<float> source, Span<T> destination)
    {
        if (typeof(T) == typeof(float)) source.CopyTo(MemoryMarshal.Cast<T, float>(destination));
        else TensorPrimitives.ConvertTruncating(source, destination[..source.Length]);
    }

    /// <summary>
    /// Rounds to float32, every NaN to <see cref="NonFinite.CanonicalNaN"/> as the native kernels write it: which NaN
    /// operand an instruction keeps differs between kernels and vector widths, and outputs must not.
    /// </summary>
    private static void Narrow(ReadOnlySpan<T> source, Span<float> destination)
    {
        Span<float> narrowed = destination[..source.Length];
        if (typeof(T) == typeof(float)) MemoryMarshal.Cast<T, float>(source).CopyTo(narrowed);
        else TensorPrimitives.ConvertTruncating(source, narrowed);
        NonFinite.CanonicalizeNaN(narrowed);
    }

    /// <summary>The forward direction walks 0..len−1; the reverse one starts at the row's own end.</summary>
    private static int TimeIndex(DirectionPass pass, int length, int step) => pass.Direction == 0 ? step : length - 1 - step;

    private static int ProjectionRow(ManagedWorkspace<T> ws, DirectionPass pass, int i, int step)
    {
        int t = TimeIndex(pass, ws.SortedLengths[i], step), b = ws.RowOrder[i];
        return pass.InputBatchFirst ? b * pass.SeqLen + t : t * pass.Batch + b;
    }

    private static int OutputRow(DirectionPass pass, int b, int t) => pass.OutputBatchFirst ? b * pass.SeqLen + t : t * pass.Batch + b;
}
