namespace FusedRnn;

/// <summary>What a stack of Keras recurrent layers computes.</summary>
/// <param name="Output">
/// The last layer's output as Keras returns it: every step's, <c>[T, B, F]</c> (<c>[B, T, F]</c> batch-first), when it
/// returns sequences, else each row's last step's, <c>[B, F]</c>; F is units, or twice that for a concatenating
/// Bidirectional wrapper. Steps past a row's length are zero; a <c>go_backwards</c> layer's steps are in the order it
/// read them, from the sequence's end.
/// </param>
/// <param name="HiddenStates">Each layer's final h, <c>[D, B, U]</c>: each row's state after its last valid step.</param>
/// <param name="CellStates">Each layer's final c for an LSTM stack; else null.</param>
public sealed record KerasOutputs(FloatTensor Output, IReadOnlyList<FloatTensor> HiddenStates, IReadOnlyList<FloatTensor>? CellStates)
{
    /// <summary>The final states in PyTorch's layout: h_n and c_n <c>[L·D, B, U]</c>, layer after layer.</summary>
    /// <exception cref="InvalidOperationException">The layers differ in units or directions, so their states do not stack.</exception>
    public SequenceOutput ToSequenceOutput() => new(Output, Stack(HiddenStates, "h"), CellStates is null ? null : Stack(CellStates, "c"));

    private static FloatTensor Stack(IReadOnlyList<FloatTensor> states, string name)
    {
        if (states.Count == 1) return states[0];
        int[] shape = states[0].Shape.ToArray();
        if (states.Any(state => !state.Shape.SequenceEqual(shape)))
        {
            throw new InvalidOperationException(
                $"the layers' final {name} states have shapes {string.Join(", ", states.Select(state => FloatTensor.FormatShape(state.Shape)))}, which do not stack into one [L·D, B, U] tensor");
        }

        var stacked = new float[states.Sum(state => state.Length)];
        int offset = 0;
        foreach (FloatTensor state in states)
        {
            state.Span.CopyTo(stacked.AsSpan(offset));
            offset += state.Length;
        }

        shape[0] *= states.Count;
        return new FloatTensor(stacked, shape);
    }
}

/// <summary>
/// Keras recurrent layers run in sequence, each feeding the next, on the arrays of PyTorch's layouts: x
/// <c>[T, B, I]</c> (<c>[B, T, I]</c> with <see cref="RnnOptions.BatchFirst"/>, Keras's own) or unbatched
/// <c>[T, I]</c>; h0 and c0 <c>[L·D, B, U]</c>. Each layer runs on a <see cref="RecurrentModule"/>; a
/// <c>go_backwards</c> layer runs the forward network over each row's steps reversed, and a Bidirectional wrapper's
/// merge mode combines the two directions' outputs. Thread-safe as the modules are.
/// </summary>
public sealed class KerasRecurrentStack : IDisposable
{
    private readonly KerasRecurrentLayer[] _layers;
    private readonly RecurrentModule[] _modules;
    private readonly bool _batchFirst;
    private bool _disposed;

    /// <param name="layers">The layers, first to last.</param>
    /// <param name="options">Backend, threads, precision and batch-first layout of every layer's module.</param>
    internal KerasRecurrentStack(IReadOnlyList<KerasRecurrentLayer> layers, RnnOptions? options)
    {
        _layers = [.. layers];
        options ??= new RnnOptions();
        _batchFirst = options.BatchFirst;
        _modules = new RecurrentModule[_layers.Length];
        try
        {
            for (int index = 0; index < _layers.Length; index++) _modules[index] = RecurrentModule.Create(_layers[index].Weights, options);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>The layers, first to last.</summary>
    public IReadOnlyList<KerasRecurrentLayer> Layers => _layers;

    /// <summary>The backend the layers run on.</summary>
    public string Backend => _modules[0].Backend;

    /// <summary>Whether x and a returned sequence are batch-major.</summary>
    public bool BatchFirst => _batchFirst;

    /// <summary>Whether every layer is an LSTM, so that the stack has cell states.</summary>
    public bool HasCellState => _layers.All(layer => layer.Weights.Spec.Kind == CellKind.Lstm);

    /// <summary>The shape of <see cref="KerasOutputs.Output"/> for x of <paramref name="inputShape"/>; null for an input of another rank.</summary>
    public int[]? OutputShape(ReadOnlySpan<int> inputShape)
    {
        if (inputShape.Length is not (2 or 3)) return null;
        KerasRecurrentLayer last = _layers[^1];
        bool batched = inputShape.Length == 3;
        int seqLen = batched && _batchFirst ? inputShape[1] : inputShape[0];
        int batch = batched ? (_batchFirst ? inputShape[0] : inputShape[1]) : 1;
        int features = last.OutputFeatures;
        if (!last.Settings.ReturnSequences) return batched ? [batch, features] : [features];
        return !batched ? [seqLen, features] : _batchFirst ? [batch, seqLen, features] : [seqLen, batch, features];
    }

    /// <summary>Runs the layers over a batch of sequences.</summary>
    /// <param name="x"><c>[T, B, I]</c>, <c>[B, T, I]</c> batch-first, or unbatched <c>[T, I]</c>.</param>
    /// <param name="lengths">Valid steps per row, each in 1..T (the rest of a row is padding: its outputs are zero); null for all T.</param>
    /// <param name="h0">Initial h, <c>[L·D, B, U]</c> (<c>[L·D, U]</c> unbatched); null for zeros.</param>
    /// <param name="c0">Initial c of an LSTM stack, as h0.</param>
    /// <exception cref="ShapeMismatchException">x, h0 or c0 does not fit the layers.</exception>
    /// <exception cref="ArgumentException">Lengths are given and a <c>go_backwards</c> layer would feed reversed, padded steps to another layer; or states are given to layers whose shapes differ.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A length is outside 1..T.</exception>
    /// <exception cref="ObjectDisposedException">The stack was disposed.</exception>
    public KerasOutputs Forward(FloatTensor x, int[]? lengths = null, FloatTensor? h0 = null, FloatTensor? c0 = null)
    {
        ArgumentNullException.ThrowIfNull(x);
        ObjectDisposedException.ThrowIf(_disposed, this);
        bool batched = x.Rank != 2;
        // Unbatched input runs as a batch of one, time-major, as PyTorch runs it.
        bool batchFirst = batched && _batchFirst;
        FloatTensor sequence = batched ? x : new FloatTensor(x.Memory, x.Dim(0), 1, x.Dim(1));
        if (sequence.Rank != 3)
            throw new ShapeMismatchException(nameof(x), _batchFirst ? "[B, T, I]" : "[T, B, I]", $"has shape {FloatTensor.FormatShape(x.Shape)}", "the sequence");
        int seqLen = sequence.Dim(batchFirst ? 1 : 0), batch = sequence.Dim(batchFirst ? 0 : 1);
        if (lengths is not null)
        {
            ShapeChecks.CheckLengths(lengths, seqLen, batch);
            for (int index = 0; index + 1 < _layers.Length; index++)
            {
                if (_layers[index] is { IsBidirectional: false, Settings.GoBackwards: true } backwards && lengths.Any(length => length < seqLen))
                {
                    throw new ArgumentException(
                        $"layer '{IO.FileText.Escape(backwards.Name)}' goes backwards and feeds another layer: its output puts each shorter row's padding first, " +
                        "which lengths cannot describe; run without lengths or pad every row to T", nameof(lengths));
                }
            }
        }

        FloatTensor?[] initialHidden = SplitStates(h0, nameof(h0), batch, batched), initialCell = SplitStates(c0, nameof(c0), batch, batched);
        var hidden = new FloatTensor[_layers.Length];
        var cell = new FloatTensor[_layers.Length];
        for (int index = 0; index < _layers.Length; index++)
        {
            (sequence, hidden[index], FloatTensor? c) = RunLayer(index, sequence, batchFirst, seqLen, batch, lengths, initialHidden[index], initialCell[index]);
            cell[index] = c!;
        }

        FloatTensor output = batched ? sequence : Unbatched(sequence, _layers[^1].Settings.ReturnSequences);
        FloatTensor[] hiddenOut = batched ? hidden : [.. hidden.Select(state => new FloatTensor(state.Memory, state.Dim(0), state.Dim(2)))];
        FloatTensor[]? cellOut = !HasCellState ? null : batched ? cell : [.. cell.Select(state => new FloatTensor(state.Memory, state.Dim(0), state.Dim(2)))];
        return new KerasOutputs(output, hiddenOut, cellOut);
    }

    /// <summary>One layer's Keras output (sequence or last step, merged) and its final states.</summary>
    private (FloatTensor Output, FloatTensor Hidden, FloatTensor? Cell) RunLayer(int index, FloatTensor x, bool batchFirst, int seqLen, int batch,
        int[]? lengths, FloatTensor? h0, FloatTensor? c0)
    {
        KerasRecurrentLayer layer = _layers[index];
        RecurrentModule module = _modules[index];
        bool backwards = layer.Settings.GoBackwards && !layer.IsBidirectional;
        SequenceOutput result;
        FloatTensor steps;
        if (!backwards)
        {
            result = module.Forward(x, h0, c0, lengths);
            steps = result.Output;
        }
        else
        {
            // Keras reverses the whole padded sequence: the run over each row's reversed valid steps, put back at the
            // steps' own positions, then reversed as a whole.
            result = module.Forward(SequenceSteps.ReverseSteps(x, seqLen, batch, lengths, batchFirst), h0, c0, lengths);
            steps = lengths is null ? result.Output
                : SequenceSteps.ReverseSteps(SequenceSteps.ReverseSteps(result.Output, seqLen, batch, lengths, batchFirst), seqLen, batch, null, batchFirst);
        }

        FloatTensor output = layer.Settings.ReturnSequences ? steps : SequenceSteps.FinalStates(result.HiddenState, 0, result.HiddenState.Dim(0));
        if (layer.IsBidirectional && layer.MergeMode != KerasMergeMode.Concat) output = Merge(output, layer.Weights.Spec.HiddenSize, layer.MergeMode);
        return (output, result.HiddenState, result.CellState);
    }

    /// <summary>Features <c>[forward U | backward U]</c> merged into U by sum, product or mean, as Keras merges them in float32.</summary>
    private static FloatTensor Merge(FloatTensor output, int units, KerasMergeMode mode)
    {
        ReadOnlySpan<float> source = output.Span;
        int rows = output.Length / (2 * units);
        var result = new float[rows * units];
        for (int row = 0; row < rows; row++)
        {
            ReadOnlySpan<float> forward = source.Slice(row * 2 * units, units), backward = source.Slice((row * 2 * units) + units, units);
            Span<float> merged = result.AsSpan(row * units, units);
            switch (mode)
            {
                case KerasMergeMode.Sum:
                    System.Numerics.Tensors.TensorPrimitives.Add(forward, backward, merged);
                    break;
                case KerasMergeMode.Mul:
                    System.Numerics.Tensors.TensorPrimitives.Multiply(forward, backward, merged);
                    break;
                default:
                    System.Numerics.Tensors.TensorPrimitives.Add(forward, backward, merged);
                    System.Numerics.Tensors.TensorPrimitives.Multiply(merged, 0.5f, merged);
                    break;
            }
        }

        int[] shape = output.Shape.ToArray();
        shape[^1] = units;
        return new FloatTensor(result, shape);
    }

    /// <summary>h0 or c0 <c>[L·D, B, U]</c> (unbatched <c>[L·D, U]</c>) as each layer's <c>[D, B, U]</c>; nulls when not given.</summary>
    private FloatTensor?[] SplitStates(FloatTensor? state, string name, int batch, bool batched)
    {
        var states = new FloatTensor?[_layers.Length];
        if (state is null) return states;
        RnnSpec first = _layers[0].Weights.Spec;
        if (_layers.Any(layer => layer.Weights.Spec.Directions != first.Directions || layer.Weights.Spec.HiddenSize != first.HiddenSize))
        {
            throw new ArgumentException(
                $"{name} was given but the layers differ in units or directions ({string.Join(", ", _layers.Select(layer => layer.ToString()))}), so one [L·D, B, U] state does not fit them; run the layers one by one",
                name);
        }

        int rows = _layers.Length * first.Directions, units = first.HiddenSize;
        ShapeChecks.CheckTensor(name, state, batched ? [rows, batch, units] : [rows, units], "[L·D, B, U]: every layer's and direction's state");
        int perLayer = first.Directions * batch * units;
        for (int index = 0; index < states.Length; index++) states[index] = new FloatTensor(state.Memory.Slice(index * perLayer, perLayer), first.Directions, batch, units);
        return states;
    }

    /// <summary>An output of a batch of one without its batch dimension: <c>[T, F]</c> or <c>[F]</c>.</summary>
    private static FloatTensor Unbatched(FloatTensor output, bool sequence) =>
        sequence ? new FloatTensor(output.Memory, output.Dim(0), output.Dim(2)) : new FloatTensor(output.Memory, output.Dim(1));

    /// <inheritdoc />
    public void Dispose()
    {
        _disposed = true;
        foreach (RecurrentModule? module in _modules) module?.Dispose();
    }
}
