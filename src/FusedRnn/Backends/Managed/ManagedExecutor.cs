using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace FusedRnn.Backends.Managed;

/// <summary>
/// The managed kernels at one vector width. Per (layer, direction): one GEMM projects the inputs of every time
/// step (with the biases that can be folded in); then each step walks the hidden units one vector-wide block at a
/// time, computing the block's recurrent products for all gates, adding the projection, applying the activations
/// and updating the state in one pass. Rows are kept longest-first so variable lengths only shrink a prefix.
/// Arithmetic and state are double; weights, inputs and outputs float32.
/// </summary>
internal sealed class ManagedExecutor<TSimd, TVec> : RnnExecutor
    where TSimd : ISimd<TVec>
    where TVec : struct
{
    /// <summary>Batch rows that share each weight load in the recurrent product.</summary>
    private const int RowGroup = 4;

    private readonly PackedLayer[] _layers;
    private readonly int _width = TSimd.Count;
    private readonly int _gates;
    private readonly int _blocks;
    private readonly int _gateRowStride;
    private readonly int _hiddenStride;
    private readonly int _outputStride;

    public ManagedExecutor(RnnWeights weights)
        : base(weights.Spec)
    {
        RnnSpec spec = weights.Spec;
        _gates = spec.GateCount;
        _blocks = PackedPanels.BlockCount(spec.HiddenSize, _width);
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

    public override RnnWorkspace CreateWorkspace() => new ManagedWorkspace(this);

    public override void Forward(in ForwardRequest request, RnnWorkspace workspace)
    {
        var ws = (ManagedWorkspace)workspace;
        int seqLen = request.SeqLen, batch = request.Batch, rows = seqLen * batch;
        Prepare(ws, seqLen, batch, request.Lengths);
        Span<double> input = ws.Input.AsSpan(0, request.Input.Length);
        Widen(request.Input, input);

        bool inputBatchFirst = request.BatchFirst;
        for (int layer = 0; layer < Spec.NumLayers; layer++)
        {
            bool last = layer == Spec.NumLayers - 1;
            var destination = new LayerDestination(
                last ? default : (layer % 2 == 0 ? ws.LayerOutputA : ws.LayerOutputB).AsSpan(0, rows * Spec.OutputFeatures),
                last ? request.Output : default);
            if (!request.Lengths.IsEmpty) destination.Clear(); // steps past a row's length stay zero
            for (int direction = 0; direction < Spec.Directions; direction++)
            {
                var pass = new DirectionPass(layer, direction, seqLen, batch, inputBatchFirst, last && request.BatchFirst);
                RunDirection(ws, pass, input, destination, request.InitialHidden, request.InitialCell, request.FinalHidden, request.FinalCell);
            }

            input = destination.Hidden;
            inputBatchFirst = false;
        }
    }

    /// <summary>Where a layer's y goes: the next layer's double input, or the caller's float output (maybe none).</summary>
    private readonly ref struct LayerDestination(Span<double> hidden, Span<float> final)
    {
        public readonly Span<double> Hidden = hidden;
        public readonly Span<float> Final = final;

        public void Clear()
        {
            Hidden.Clear();
            Final.Clear();
        }

        public void Write(ReadOnlySpan<double> values, int offset)
        {
            if (!Hidden.IsEmpty)
            {
                values.CopyTo(Hidden.Slice(offset));
                return;
            }

            if (!Final.IsEmpty) Narrow(values, Final.Slice(offset, values.Length));
        }
    }

    /// <summary>Grows the workspace and orders rows by length (longest first).</summary>
    private void Prepare(ManagedWorkspace ws, int seqLen, int batch, ReadOnlySpan<int> lengths)
    {
        int rows = seqLen * batch;
        ManagedWorkspace.Grow(ref ws.Input, rows * Spec.InputSize);
        ManagedWorkspace.Grow(ref ws.Projection, rows * _gateRowStride);
        if (Spec.NumLayers > 1)
        {
            ManagedWorkspace.Grow(ref ws.LayerOutputA, rows * Spec.OutputFeatures);
            if (Spec.NumLayers > 2) ManagedWorkspace.Grow(ref ws.LayerOutputB, rows * Spec.OutputFeatures);
        }

        ManagedWorkspace.Grow(ref ws.Hidden, batch * _outputStride);
        ManagedWorkspace.Grow(ref ws.HiddenNext, batch * _outputStride);
        ManagedWorkspace.Grow(ref ws.Cell, batch * _hiddenStride);
        ManagedWorkspace.Grow(ref ws.Unprojected, RowGroup * _hiddenStride);
        ManagedWorkspace.Grow(ref ws.GateTile, RowGroup * _gates * _width);
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

    private readonly record struct DirectionPass(int Layer, int Direction, int SeqLen, int Batch, bool InputBatchFirst, bool OutputBatchFirst);

    private void RunDirection(
        ManagedWorkspace ws, DirectionPass pass, ReadOnlySpan<double> input, LayerDestination destination,
        ReadOnlySpan<float> initialHidden, ReadOnlySpan<float> initialCell, Span<float> finalHidden, Span<float> finalCell)
    {
        int stateIndex = pass.Layer * Spec.Directions + pass.Direction;
        PackedLayer weights = _layers[stateIndex];
        int batch = pass.Batch, outputSize = Spec.OutputSize, hidden = Spec.HiddenSize;
        int inputSize = Spec.LayerInputSize(pass.Layer);
        int rows = pass.SeqLen * batch;

        // Input projection of every step at once, rows in the input's own order.
        Span<double> projection = ws.Projection.AsSpan(0, rows * _gateRowStride);
        PanelGemm<TSimd, TVec>.Multiply(
            ref MemoryMarshal.GetReference(input), inputSize, rows, inputSize,
            ref weights.InputWeights.Data[0], weights.InputWeights.PanelSize, weights.InputWeights.PanelCount,
            ref projection[0], _gateRowStride);
        if (weights.InputBias is { } bias)
        {
            for (int row = 0; row < rows; row++)
                TensorPrimitives.Add(projection.Slice(row * _gateRowStride, _gateRowStride), bias, projection.Slice(row * _gateRowStride, _gateRowStride));
        }

        ReadOnlySpan<int> order = ws.RowOrder.AsSpan(0, batch);
        ReadOnlySpan<int> lengths = ws.SortedLengths.AsSpan(0, batch);
        Span<double> hiddenState = ws.Hidden.AsSpan(0, batch * _outputStride);
        Span<double> cellState = ws.Cell.AsSpan(0, batch * _hiddenStride);
        hiddenState.Clear();
        cellState.Clear();
        for (int i = 0; i < batch; i++)
        {
            int source = (stateIndex * batch) + order[i];
            if (!initialHidden.IsEmpty) Widen(initialHidden.Slice(source * outputSize, outputSize), hiddenState.Slice(i * _outputStride));
            if (!initialCell.IsEmpty) Widen(initialCell.Slice(source * hidden, hidden), cellState.Slice(i * _hiddenStride));
        }

        int active = batch;
        for (int step = 0; step < pass.SeqLen; step++)
        {
            while (active > 0 && lengths[active - 1] <= step) active--;
            int group = 0;
            for (; group + RowGroup <= active; group += RowGroup)
                StepRows(ws, pass, weights, group, RowGroup, step, destination);
            for (; group < active; group++)
                StepRows(ws, pass, weights, group, 1, step, destination);
            ws.HiddenNext.AsSpan(0, active * _outputStride).CopyTo(hiddenState);
        }

        for (int i = 0; i < batch; i++)
        {
            int target = (stateIndex * batch) + order[i];
            if (!finalHidden.IsEmpty) Narrow(hiddenState.Slice(i * _outputStride, outputSize), finalHidden.Slice(target * outputSize));
            if (!finalCell.IsEmpty) Narrow(cellState.Slice(i * _hiddenStride, hidden), finalCell.Slice(target * hidden));
        }
    }

    private static void Widen(ReadOnlySpan<float> source, Span<double> destination)
    {
        for (int i = 0; i < source.Length; i++) destination[i] = source[i];
    }

    private static void Narrow(ReadOnlySpan<double> source, Span<float> destination)
    {
        for (int i = 0; i < source.Length; i++) destination[i] = (float)source[i];
    }

    /// <summary>One time step for <paramref name="count"/> consecutive rows (in length order) starting at <paramref name="first"/>.</summary>
    private void StepRows(ManagedWorkspace ws, DirectionPass pass, PackedLayer weights, int first, int count, int step, LayerDestination destination)
    {
        int outputSize = Spec.OutputSize;
        bool projects = weights.Projection is not null;
        ref double hiddenRows = ref ws.Hidden[first * _outputStride];
        ref double tile = ref ws.GateTile[0];
        int tileStride = _gates * _width;
        PackedPanels recurrent = weights.RecurrentWeights;
        for (int block = 0; block < _blocks; block++)
        {
            PanelGemm<TSimd, TVec>.Multiply(
                ref hiddenRows, _outputStride, count, outputSize,
                ref recurrent.Data[block * _gates * recurrent.PanelSize], recurrent.PanelSize, _gates,
                ref tile, tileStride);
            int lane = block * _width;
            for (int r = 0; r < count; r++)
            {
                int i = first + r;
                ref double gates = ref Unsafe.Add(ref tile, r * tileStride);
                ref double projected = ref ws.Projection[ProjectionRow(ws, pass, i, step) * _gateRowStride + block * tileStride];
                ref double hiddenOut = ref projects ? ref ws.Unprojected[r * _hiddenStride + lane] : ref ws.HiddenNext[i * _outputStride + lane];
                switch (Spec.Kind)
                {
                    case CellKind.Lstm:
                        LstmUpdate(ref gates, ref projected, ref ws.Cell[i * _hiddenStride + lane], ref hiddenOut);
                        break;
                    case CellKind.Gru:
                        GruUpdate(ref gates, ref projected, weights.NewGateHiddenBias, lane, ref ws.Hidden[i * _outputStride + lane], ref hiddenOut);
                        break;
                    case CellKind.RnnTanh:
                        TSimd.Store(Activations<TSimd, TVec>.Tanh(Preactivation(ref gates, ref projected)), ref hiddenOut);
                        break;
                    default:
                        TSimd.Store(Activations<TSimd, TVec>.Relu(Preactivation(ref gates, ref projected)), ref hiddenOut);
                        break;
                }
            }
        }

        if (weights.Projection is { } projection)
        {
            PanelGemm<TSimd, TVec>.Multiply(
                ref ws.Unprojected[0], _hiddenStride, count, Spec.HiddenSize,
                ref projection.Data[0], projection.PanelSize, projection.PanelCount,
                ref ws.HiddenNext[first * _outputStride], _outputStride);
        }

        int features = Spec.OutputFeatures;
        for (int r = 0; r < count; r++)
        {
            int i = first + r;
            int row = OutputRow(pass, ws.RowOrder[i], TimeIndex(pass, ws.SortedLengths[i], step));
            destination.Write(ws.HiddenNext.AsSpan(i * _outputStride, outputSize), row * features + pass.Direction * outputSize);
        }
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

    /// <summary>r, z = σ(·); n = tanh(x_n + r·(W_hn h + b_hn)); h' = (1 − z)·n + z·h = n + z·(h − n).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void GruUpdate(ref double gates, ref double projected, double[]? newGateBias, int lane, ref double hiddenPrev, ref double hiddenOut)
    {
        nint w = _width;
        TVec reset = Activations<TSimd, TVec>.Sigmoid(Preactivation(ref gates, ref projected));
        TVec update = Activations<TSimd, TVec>.Sigmoid(Preactivation(ref Unsafe.Add(ref gates, w), ref Unsafe.Add(ref projected, w)));
        TVec recurrentNew = TSimd.Load(ref Unsafe.Add(ref gates, 2 * w));
        if (newGateBias is not null) recurrentNew = TSimd.Add(recurrentNew, TSimd.Load(ref newGateBias[lane]));
        TVec candidate = Activations<TSimd, TVec>.Tanh(TSimd.MultiplyAdd(reset, recurrentNew, TSimd.Load(ref Unsafe.Add(ref projected, 2 * w))));
        TVec previous = TSimd.Load(ref hiddenPrev);
        TSimd.Store(TSimd.MultiplyAdd(update, TSimd.Subtract(previous, candidate), candidate), ref hiddenOut);
    }
}
