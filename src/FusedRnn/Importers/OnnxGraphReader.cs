using FusedRnn.IO;
using FusedRnn.IO.Onnx;

namespace FusedRnn;

/// <summary>A recurrent node's attributes and weights read into this library's terms (one layer of the stack).</summary>
internal sealed record RecurrentNode(
    NodeProto Node, string Name, RnnSpec Spec, LayerWeights[] Layers, OnnxDirection Direction, int Layout, string Where,
    OnnxInputNames Inputs, OnnxOutputNames Outputs);

/// <summary>
/// Reads a graph of LSTM, GRU or RNN nodes and the layout ops exporters put around and between them as one stacked
/// network (<see cref="OnnxRnnModel"/>).
/// <para>
/// The graph is run as a probe: its inputs get sizes (their declared ones; made-up ones for symbolic dimensions),
/// constants are computed, and every element computed from an input or a recurrent node's output carries a tag
/// naming where it was copied from (<see cref="ProbeArray"/>). Then each node's X must be exactly the graph's input
/// (time- or batch-major) or the previous node's Y as <c>[T, B, D·H]</c>; its initial states zeros, constants, or
/// its layer's rows of one stacked graph input; and each graph output the last node's Y in one of four layouts or the
/// nodes' final states stacked. A symbolic dimension whose made-up size contradicts a node (a fixed batch of
/// initial_h, say) takes the size the node needs and the probe runs again; when any size was made up, a second probe
/// with other sizes must find the same network, so that a graph whose layout ops hold for one size only is refused.
/// </para>
/// <para>
/// A whole model's embedding and heads (<see cref="OnnxHeadOps"/>) become sources of their own in the probe: the
/// first node's X may be the embedding of an ids input, and a graph output the end of a chain of dense layers that
/// starts at the last node's Y, its last step or its final states (<see cref="HeadChain"/>).
/// </para>
/// </summary>
internal sealed class OnnxGraphReader
{
    /// <summary>Elements a probe may compute beyond four times what the model's initializers hold.</summary>
    private const long BaseBudget = 1L << 25;

    private readonly string _file;
    private readonly GraphProto _graph;
    private readonly Dictionary<string, TensorProto> _initializers = new(StringComparer.Ordinal);
    private readonly List<GraphInput> _inputs = [];
    private readonly Dictionary<string, ProbeArray> _constants = new(StringComparer.Ordinal);
    private readonly Dictionary<int, RecurrentNode> _recurrent = [];
    private readonly long _budget;
    private readonly long _opset;

    /// <param name="file">The file, for messages.</param>
    /// <param name="graph">The model's graph.</param>
    /// <param name="opset">The model's default-domain opset (Softmax's default axis depends on it).</param>
    public OnnxGraphReader(string file, GraphProto graph, long opset)
    {
        _file = file;
        _graph = graph;
        _opset = opset;
        long initializerElements = 0;
        foreach (TensorProto tensor in graph.Initializer)
        {
            if (!_initializers.TryAdd(tensor.Name, tensor))
                throw new MalformedFileException(file, $"the graph has two initializers named '{FileText.Escape(tensor.Name)}'");
            initializerElements += tensor.Dims.Aggregate(1L, (count, dim) => dim is >= 0 and <= int.MaxValue ? Math.Min(count * dim, int.MaxValue) : 0);
        }

        _budget = BaseBudget + (4 * initializerElements);
        var defined = new HashSet<string>(_initializers.Keys, StringComparer.Ordinal);
        foreach (ValueInfoProto input in graph.Input)
        {
            // Before IR version 4 initializers were listed among the inputs too; the initializer is the value.
            if (_initializers.ContainsKey(input.Name)) continue;
            if (input.Name.Length == 0 || !defined.Add(input.Name))
                throw new MalformedFileException(file, $"the graph has two inputs named '{FileText.Escape(input.Name)}', or one without a name");
            _inputs.Add(GraphInput.Of(file, input));
        }

        foreach (NodeProto node in graph.Node)
        {
            foreach (string output in node.Output.Where(name => name.Length > 0))
            {
                if (!defined.Add(output))
                    throw new MalformedFileException(file, $"{OnnxLayoutOps.Describe(node)} produces '{FileText.Escape(output)}', which an initializer, a graph input or another node defines too");
            }
        }

        if (graph.Output.Count == 0) throw new MalformedFileException(file, "the graph has no outputs");
    }

    public OnnxRnnModel Read()
    {
        var sizes = new ProbeSizes(_inputs, KnownNumbers());
        Chain chain = Assemble(ProbeUntilConsistent(sizes));
        if (!sizes.AnyMadeUp) return chain.Model;
        sizes.MakeUpOthers();
        Chain other;
        try
        {
            other = Assemble(Probe(sizes));
        }
        catch (Exception e) when (e is MalformedFileException or UnsupportedModelException or ProbeConflict)
        {
            throw new UnsupportedModelException(_file, $"the graph's layout ops hold for some sizes of its inputs only (with {sizes.Describe()}: {Unprefixed(e)})");
        }

        if (other.Structure != chain.Structure)
            throw new UnsupportedModelException(_file, $"the graph's layout ops connect its nodes differently for other sizes of its inputs ({chain.Structure} against {other.Structure} with {sizes.Describe()})");
        return chain.Model;
    }

    private string Unprefixed(Exception e) => e.Message.StartsWith(_file + ": ", StringComparison.Ordinal) ? e.Message[(_file.Length + 2)..] : e.Message;

    /// <summary>Numbers the model states (dimensions of inputs and initializers), which made-up sizes avoid.</summary>
    private HashSet<long> KnownNumbers()
    {
        var known = new HashSet<long>();
        foreach (TensorProto tensor in _graph.Initializer) known.UnionWith(tensor.Dims);
        foreach (GraphInput input in _inputs) known.UnionWith(input.Dims.Where(dim => dim.Value is not null).Select(dim => (long)dim.Value!.Value));
        foreach (NodeProto node in _graph.Node) known.UnionWith(node.Attribute.Where(a => a.Name == "hidden_size").Select(a => a.I));
        return known;
    }

    /// <summary>Probes until no node contradicts a made-up size, giving each contradicted one the size its node needs.</summary>
    private Trace ProbeUntilConsistent(ProbeSizes sizes)
    {
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                return Probe(sizes);
            }
            catch (ProbeConflict conflict)
            {
                if (attempt > 2 * sizes.Count || !sizes.Reconcile(conflict.Actual, conflict.Required))
                    throw new MalformedFileException(_file, conflict.Message + (sizes.AnyMadeUp ? $" (with {sizes.Describe()})" : ""));
            }
        }
    }

    /// <summary>Runs every node in order with the graph's inputs at <paramref name="sizes"/>.</summary>
    private Trace Probe(ProbeSizes sizes)
    {
        var budget = new OnnxLayoutOps.Budget(_budget);
        var ops = new OnnxLayoutOps(_file, budget);
        var values = new Dictionary<string, ProbeArray>(StringComparer.Ordinal);
        var sources = new List<Source>();
        foreach (GraphInput input in _inputs)
        {
            int[] shape = sizes.ShapeOf(input);
            TakeSource(budget, $"graph input '{FileText.Escape(input.Name)}'", shape);
            values[input.Name] = ProbeArray.Source(sources.Count, shape, input.ElementType);
            sources.Add(new Source(input.Name, -1, -1, -1));
        }

        var nodes = new List<NodeProbe>();
        var heads = new List<HeadProbe>();
        for (int index = 0; index < _graph.Node.Count; index++)
        {
            NodeProto node = _graph.Node[index];
            if (node.Output.Count > 0 && node.Output.All(name => name.Length == 0 || _constants.ContainsKey(name)))
            {
                foreach (string name in node.Output.Where(name => name.Length > 0)) values[name] = _constants[name];
                continue;
            }

            ProbeArray?[] inputs = [.. node.Input.Select(name => name.Length == 0 ? null : Lookup(values, node, name))];
            ProbeArray[] outputs;
            if (OnnxImporter.IsRecurrent(node))
            {
                NodeProbe probe = RunRecurrent(index, node, inputs, sources, nodes.Count, budget);
                nodes.Add(probe);
                outputs = probe.Outputs;
            }
            else if (OnnxHeadOps.IsHead(node, inputs))
            {
                if (node.Output.Count != 1) throw new MalformedFileException(_file, $"{OnnxLayoutOps.Describe(node)} has {node.Output.Count} outputs; {node.OpType} has one");
                (HeadProbe probe, int[] shape) = OnnxHeadOps.Run(_file, node, inputs, _opset, sources.Count);
                TakeSource(budget, probe.Where, shape);
                outputs = [ProbeArray.Source(sources.Count, shape, OnnxElement.Float)];
                sources.Add(new Source(null, -1, -1, heads.Count));
                heads.Add(probe with { OutputShape = shape });
            }
            else
            {
                if (node.Output.Count != (node.OpType == "Split" ? node.Output.Count : 1) || node.Output.Count == 0)
                    throw new MalformedFileException(_file, $"{OnnxLayoutOps.Describe(node)} has {node.Output.Count} outputs; {node.OpType} has one");
                outputs = ops.Evaluate(node, inputs);
                if (inputs.Any(input => input?.SizeDependent == true)) outputs = [.. outputs.Select(output => output.SizeDependent ? output : output.AsSizeDependent())];
            }

            for (int slot = 0; slot < node.Output.Count && slot < outputs.Length; slot++)
            {
                string name = node.Output[slot];
                if (name.Length == 0) continue;
                values[name] = outputs[slot];
                if (!outputs[slot].SizeDependent) _constants[name] = outputs[slot];
            }
        }

        return new Trace(values, sources, nodes, heads);
    }

    /// <summary>Counts a traced array of <paramref name="shape"/> against the budget before it is made, its size checked.</summary>
    private void TakeSource(OnnxLayoutOps.Budget budget, string where, int[] shape) =>
        budget.Take(_file, where, TensorSizes.TryByteSize(shape, 1, out long count) ? count : long.MaxValue);

    private ProbeArray Lookup(Dictionary<string, ProbeArray> values, NodeProto node, string name)
    {
        if (values.TryGetValue(name, out ProbeArray? value)) return value;
        if (_constants.TryGetValue(name, out value)) return value;
        if (_initializers.TryGetValue(name, out TensorProto? tensor))
        {
            value = OnnxTensors.Read(_file, $"initializer '{FileText.Escape(name)}'", tensor);
            _constants[name] = value;
            return value;
        }

        throw new MalformedFileException(_file,
            $"{OnnxLayoutOps.Describe(node)} reads '{FileText.Escape(name)}', which no initializer, graph input or earlier node defines (ONNX lists nodes in topological order)");
    }

    /// <summary>Checks a recurrent node's X, sequence_lens and initial states against its weights; its outputs become sources.</summary>
    private NodeProbe RunRecurrent(int index, NodeProto node, ProbeArray?[] inputs, List<Source> sources, int probeIndex, OnnxLayoutOps.Budget budget)
    {
        ProbeArray? Input(int slot) => slot < inputs.Length ? inputs[slot] : null;
        if (!_recurrent.TryGetValue(index, out RecurrentNode? info))
        {
            info = new OnnxImporter.NodeReader(_file, node, name => name.Length == 0 ? null : Input(node.Input.IndexOf(name))).Read();
            _recurrent[index] = info;
        }

        RnnSpec spec = info.Spec;
        int directions = spec.Directions, hidden = spec.HiddenSize;
        ProbeArray x = Input(0)!;
        if (!x.IsTraced || !x.IsFloat)
            throw new UnsupportedModelException(_file, $"{info.Where}: X ('{FileText.Escape(info.Inputs.X)}') is {(x.IsTraced ? $"of element type {x.ElementType}" : "a constant")}; it must be float32 computed from a graph input");
        if (x.Shape.Length != 3)
            throw new MalformedFileException(_file, $"{info.Where}: X is {FloatTensor.FormatShape(x.Shape)}; it must be {(info.Layout == 0 ? "[T, B, I]" : "[B, T, I]")} (layout {info.Layout})");
        ProbeConflict.Check(x.Shape[2], spec.InputSize, $"{info.Where}: X is {FloatTensor.FormatShape(x.Shape)} but W's input_size is {spec.InputSize}");
        int seqLen = x.Shape[info.Layout == 0 ? 0 : 1], batch = x.Shape[info.Layout == 0 ? 1 : 0];

        ProbeArray? lengths = Input(4);
        if (lengths is not null)
        {
            if (!OnnxElement.IsInteger(lengths.ElementType) || lengths.Shape.Length != 1)
                throw new MalformedFileException(_file, $"{info.Where}: sequence_lens is {FloatTensor.FormatShape(lengths.Shape)} of element type {lengths.ElementType}; it must be [batch] of int32");
            ProbeConflict.Check(lengths.Shape[0], batch, $"{info.Where}: sequence_lens is {FloatTensor.FormatShape(lengths.Shape)} but X's batch is {batch}");
        }

        int[] stateShape = info.Layout == 0 ? [directions, batch, hidden] : [batch, directions, hidden];
        ProbeArray? State(int slot, string role)
        {
            if (Input(slot) is not { } state) return null;
            if (!state.IsFloat || state.Shape.Length != 3)
                throw new MalformedFileException(_file, $"{info.Where}: {role} is {FloatTensor.FormatShape(state.Shape)} of element type {state.ElementType}; it must be float32 {FloatTensor.FormatShape(stateShape)}");
            for (int axis = 0; axis < 3; axis++)
                ProbeConflict.Check(state.Shape[axis], stateShape[axis], $"{info.Where}: {role} is {FloatTensor.FormatShape(state.Shape)}; with X {FloatTensor.FormatShape(x.Shape)} it must be {FloatTensor.FormatShape(stateShape)}");
            return state;
        }

        ProbeArray? initialHidden = State(5, "initial_h");
        ProbeArray? initialCell = spec.Kind.HasCellState() ? State(6, "initial_c") : null;
        int[] yShape = info.Layout == 0 ? [seqLen, directions, batch, hidden] : [batch, seqLen, directions, hidden];
        var outputs = new ProbeArray[spec.Kind.HasCellState() ? 3 : 2];
        for (int slot = 0; slot < outputs.Length; slot++)
        {
            TakeSource(budget, info.Where, slot == 0 ? yShape : stateShape);
            outputs[slot] = ProbeArray.Source(sources.Count, slot == 0 ? yShape : stateShape, OnnxElement.Float);
            sources.Add(new Source(null, probeIndex, slot, -1));
        }

        return new NodeProbe(info, x, lengths, initialHidden, initialCell, outputs, seqLen, batch, sources.Count - outputs.Length);
    }

    /// <summary>The network a probe found, checked: one chain of nodes, states and outputs in layouts the model can take.</summary>
    private Chain Assemble(Trace trace)
    {
        List<NodeProbe> layers = Order(trace);
        NodeProbe first = layers[0];
        RecurrentNode head = first.Info;
        foreach (NodeProbe layer in layers.Skip(1))
        {
            RecurrentNode info = layer.Info;
            if (info.Node.OpType != head.Node.OpType || info.Spec.HiddenSize != head.Spec.HiddenSize || info.Direction != head.Direction ||
                info.Layout != head.Layout || info.Spec.Bias != head.Spec.Bias || info.Spec.Cell != head.Spec.Cell || info.Spec.Kind != head.Spec.Kind)
            {
                throw new UnsupportedModelException(_file,
                    $"{info.Where} differs from {head.Where} in its operator, hidden_size, direction, layout, bias or cell attributes; the nodes of a stack must agree");
            }
        }

        if (layers.Count > 1 && head.Direction == OnnxDirection.Reverse)
            throw new UnsupportedModelException(_file, $"{head.Where} and the nodes after it run in reverse; a stack of reverse nodes is not a PyTorch network (use forward or bidirectional nodes)");

        int directions = head.Spec.Directions, hidden = head.Spec.HiddenSize, seqLen = first.SeqLen, batch = first.Batch, count = layers.Count;
        bool batchMajorNodes = head.Layout == 1;

        // X of the first node: a graph input (or the embedding of one), as it is or with its first two axes swapped.
        int xId = SourceOf(first.X, head, "X");
        Source xSource = trace.Sources[xId];
        EmbeddingLayer? embedding = null;
        string xInput;
        int[] xShape;
        if (xSource.GraphInput is { } graphInput)
        {
            xInput = graphInput;
            xShape = trace.Values[xInput].Shape;
        }
        else
        {
            HeadProbe lookup = trace.Heads[xSource.Head];
            int idsId = SourceOf(lookup.Input, head, $"embedding {lookup.Where}'s ids");
            xInput = trace.Sources[idsId].GraphInput ?? throw Unstacked($"{lookup.Where}: its ids are not a graph input");
            if (!Same(lookup.Input, trace.Values[xInput].Shape, Identity(idsId, trace.Values[xInput].Shape)) || lookup.Input.Shape.Length != 2)
                throw Unstacked($"{lookup.Where}: its ids are not the graph input '{FileText.Escape(xInput)}' as it is, [T, B] or [B, T]");
            embedding = new EmbeddingLayer(lookup.Weight!, lookup.Where);
            xShape = lookup.OutputShape!;
        }

        OnnxSequenceLayout xLayout;
        if (Same(first.X, xShape, Identity(xId, xShape))) xLayout = batchMajorNodes ? OnnxSequenceLayout.BatchMajor : OnnxSequenceLayout.TimeMajor;
        else if (xShape.Length == 3 && Same(first.X, [xShape[1], xShape[0], xShape[2]], Expected([xShape[1], xShape[0], xShape[2]], i => ProbeArray.Tag(xId, (((i[1] * xShape[1]) + i[0]) * xShape[2]) + i[2]))))
            xLayout = batchMajorNodes ? OnnxSequenceLayout.TimeMajor : OnnxSequenceLayout.BatchMajor;
        else
            throw Unstacked($"{head.Where}: its X is not the graph input '{FileText.Escape(xInput)}'{(embedding is null ? "" : "'s embedding")} or that with its first two axes swapped");

        // X of every other node: the node before's Y as [T, B, D·H] (layout 0) or [B, T, D·H] (layout 1).
        for (int k = 1; k < count; k++)
        {
            NodeProbe previous = layers[k - 1];
            int[] shape = batchMajorNodes ? [batch, seqLen, directions * hidden] : [seqLen, batch, directions * hidden];
            if (!Same(layers[k].X, shape, Expected(shape, i => batchMajorNodes ? previous.YTag(i[1], i[0], i[2]) : previous.YTag(i[0], i[1], i[2]))))
                throw Unstacked($"{layers[k].Info.Where}: its X is not {layers[k - 1].Info.Where}'s Y as {(batchMajorNodes ? "[B, T, D·H]" : "[T, B, D·H]")}");
        }

        // sequence_lens: none, one graph input every node reads as it is, or the same stored lengths.
        string? lengthsInput = null;
        int[]? storedLengths = null;
        if (layers.Any(layer => layer.Lengths is not null))
        {
            ProbeArray lengths = first.Lengths ?? throw Unstacked($"{layers.First(l => l.Lengths is not null).Info.Where} has sequence_lens but {head.Where} has none");
            if (lengths.IsTraced)
            {
                int id = SourceOf(lengths, head, "sequence_lens");
                lengthsInput = trace.Sources[id].GraphInput;
                if (lengthsInput is null || !Same(lengths, [batch], Identity(id, [batch])))
                    throw Unstacked($"{head.Where}: its sequence_lens is not a graph input of [batch] lengths");
            }
            else
            {
                storedLengths = StoredLengths(lengths, head);
            }

            foreach (NodeProbe layer in layers)
            {
                bool same = layer.Lengths is { } l && l.IsTraced == lengths.IsTraced &&
                    (l.IsTraced ? l.Tags!.SequenceEqual(lengths.Tags!) : l.Integers!.SequenceEqual(lengths.Integers!));
                if (!same) throw Unstacked($"{layer.Info.Where}: its sequence_lens differs from {head.Where}'s");
            }
        }

        StateInput hiddenIn = InitialStates(trace, layers, layer => layer.InitialHidden, "initial_h");
        StateInput cellIn = head.Spec.Kind.HasCellState() ? InitialStates(trace, layers, layer => layer.InitialCell, "initial_c") : StateInput.None;

        // Graph outputs: the last node's Y, or the nodes' Y_h or Y_c stacked.
        int lastY = layers[^1].Source;
        int[] yNode = batchMajorNodes ? [batch, seqLen, directions, hidden] : [seqLen, directions, batch, hidden];
        var yCandidates = new List<(OnnxSequenceLayout Layout, int[] Shape, long[] Tags)>
        {
            (batchMajorNodes ? OnnxSequenceLayout.OnnxBatchMajor : OnnxSequenceLayout.OnnxTimeMajor, yNode, Identity(lastY, yNode)),
        };
        foreach (OnnxSequenceLayout layout in new[] { OnnxSequenceLayout.TimeMajor, OnnxSequenceLayout.BatchMajor })
        {
            int[] shape = layout == OnnxSequenceLayout.TimeMajor ? [seqLen, batch, directions * hidden] : [batch, seqLen, directions * hidden];
            yCandidates.Add((layout, shape, Expected(shape, i => layout == OnnxSequenceLayout.TimeMajor ? layers[^1].YTag(i[0], i[1], i[2]) : layers[^1].YTag(i[1], i[0], i[2]))));
        }

        string? yOutput = null, hOutput = null, cOutput = null, headOutput = null;
        OnnxSequenceLayout? yLayout = null;
        (IReadOnlyList<DenseLayer> Layers, HeadSteps Steps)? headChain = null;
        OnnxStateLayout? hLayout = null, cLayout = null;
        foreach (ValueInfoProto output in _graph.Output)
        {
            string name = output.Name;
            string quoted = $"graph output '{FileText.Escape(name)}'";
            if (!trace.Values.TryGetValue(name, out ProbeArray? value) && !_initializers.ContainsKey(name))
                throw new MalformedFileException(_file, $"{quoted} is not an initializer, a graph input or any node's output");
            if (value is null || !value.IsTraced) throw new UnsupportedModelException(_file, $"{quoted} is a constant; this reader runs graphs whose outputs are the recurrent nodes' results");
            OnnxSequenceLayout? asY = null;
            foreach ((OnnxSequenceLayout layout, int[] shape, long[] tags) in yCandidates)
            {
                if (Same(value, shape, tags))
                {
                    asY = layout;
                    break;
                }
            }

            OnnxStateLayout? asH = StackedLayout(value, layers, 1, batch), asC = head.Spec.Kind.HasCellState() ? StackedLayout(value, layers, 2, batch) : null;
            void Claim<T>(ref string? role, ref T? layout, T found, string what) where T : struct
            {
                if (role is not null) throw new UnsupportedModelException(_file, $"{quoted} and graph output '{FileText.Escape(role)}' are both {what}; the reader takes one");
                role = name;
                layout = found;
            }

            if (asY is { } y) Claim(ref yOutput, ref yLayout, y, $"{layers[^1].Info.Where}'s Y");
            else if (asH is { } h) Claim(ref hOutput, ref hLayout, h, "the final hidden states");
            else if (asC is { } c) Claim(ref cOutput, ref cLayout, c, "the final cell states");
            else if (HeadChain(trace, value, layers, xLayout) is { } chain)
            {
                if (headOutput is not null) throw new UnsupportedModelException(_file, $"{quoted} and graph output '{FileText.Escape(headOutput)}' both end in dense layers; the reader takes one");
                headOutput = name;
                headChain = chain;
            }
            else
            {
                throw new UnsupportedModelException(_file,
                    $"{quoted} is neither {layers[^1].Info.Where}'s Y (as [T, D, B, H], [B, T, D, H], [T, B, D·H] or [B, T, D·H]) nor every node's Y_h or Y_c stacked ([L·D, B, H] or [B, L·D, H])");
            }
        }

        OnnxStateLayout natural = batchMajorNodes ? OnnxStateLayout.BatchMajor : OnnxStateLayout.DirectionMajor;
        OnnxStateLayout[] stateLayouts = [.. new[] { hiddenIn.Layout, cellIn.Layout, hLayout, cLayout }.OfType<OnnxStateLayout>().Distinct()];
        if (stateLayouts.Length > 1)
            throw new UnsupportedModelException(_file, "the graph's initial and final states are in different layouts ([L·D, B, H] and [B, L·D, H]); the reader takes one for all");
        OnnxStateLayout stateLayout = stateLayouts.Length == 1 ? stateLayouts[0] : natural;

        RnnSpec spec = (head.Spec with { NumLayers = count }).Validate();
        var weights = new RnnWeights(spec, [.. layers.SelectMany(layer => layer.Info.Layers)]);
        var inputs = new OnnxInputNames(xInput, lengthsInput, hiddenIn.GraphInput, cellIn.GraphInput);
        if (embedding is not null && (yOutput ?? hOutput ?? cOutput) is { } stackOutput)
            throw new UnsupportedModelException(_file, $"graph output '{FileText.Escape(stackOutput)}' is the stack's, but the graph starts with an embedding; the reader takes its heads' output only");
        var outputs = new OnnxOutputNames(yOutput ?? headOutput, hOutput, cOutput);
        var layouts = new OnnxArrayLayouts(xLayout, yLayout ?? yCandidates[0].Layout, stateLayout);
        OnnxWholeModel? whole = embedding is not null || headChain is not null
            ? new OnnxWholeModel(embedding, headChain?.Layers ?? [], headChain?.Steps ?? HeadSteps.Every)
            : null;
        var model = new OnnxRnnModel(weights, [.. layers.Select(layer => layer.Info.Name)], head.Direction, head.Layout, inputs, outputs, layouts,
            storedLengths, hiddenIn.Stored(head.Layout, stateLayout, directions, hidden), cellIn.Stored(head.Layout, stateLayout, directions, hidden), whole);
        string structure = $"nodes {string.Join(" -> ", model.NodeNames)}; {inputs}; {outputs}; {layouts}; stored states {hiddenIn.Constants is not null}, {cellIn.Constants is not null}; " +
            $"embedding {embedding is not null}; heads {headChain?.Layers.Count ?? 0} on {headChain?.Steps}";
        return new Chain(model, structure);
    }

    /// <summary>
    /// The dense layers a graph output ends in, walked back from it: each MatMul or Gemm, then an Add of its bias and
    /// an activation, each reading the one before as it is, the first reading the last node's Y (<c>[T, B, D·H]</c> in
    /// x's layout: every step), its last step (<c>[B, D·H]</c>), or its final hidden states of every direction; null
    /// when the output is no head's.
    /// </summary>
    private (IReadOnlyList<DenseLayer> Layers, HeadSteps Steps)? HeadChain(Trace trace, ProbeArray value, List<NodeProbe> layers, OnnxSequenceLayout xLayout)
    {
        if (value.Count == 0) return null;
        long firstTag = value.Tags![0];
        if (firstTag == ProbeArray.ConstantTag || trace.Sources[(int)(firstTag >> 32)] is not { Head: >= 0 } outputSource) return null;
        int source = (int)(firstTag >> 32);
        HeadProbe last = trace.Heads[outputSource.Head];
        if (last.Kind == HeadKind.Embedding || !Same(value, last.OutputShape!, Identity(source, last.OutputShape!))) return null;

        var stages = new List<HeadProbe>();
        HeadSteps steps;
        for (HeadProbe stage = last; ; )
        {
            stages.Insert(0, stage);
            int inputId = SourceOf(stage.Input, layers[^1].Info, $"head {stage.Where}'s input");
            if (trace.Sources[inputId] is { Head: >= 0 } previous)
            {
                HeadProbe before = trace.Heads[previous.Head];
                if (before.Kind == HeadKind.Embedding)
                    throw new UnsupportedModelException(_file, $"{stage.Where}: its input is the embedding {before.Where}'s output; heads read the stack's");
                if (!Same(stage.Input, before.OutputShape!, Identity(inputId, before.OutputShape!)))
                    throw new UnsupportedModelException(_file, $"{stage.Where}: its input is not {before.Where}'s output as it is; a head reads the one before it");
                stage = before;
                continue;
            }

            steps = StepsOf(stage.Input, layers, xLayout)
                ?? throw new UnsupportedModelException(_file,
                    $"{stage.Where}: its input is neither {layers[^1].Info.Where}'s Y (every step, in x's layout), its last step, nor its final hidden states of every direction");
            break;
        }

        var dense = new List<DenseLayer>();
        for (int index = 0; index < stages.Count;)
        {
            HeadProbe stage = stages[index++];
            if (stage.Kind != HeadKind.Dense)
                throw new UnsupportedModelException(_file, $"{stage.Where} does not follow a MatMul or Gemm; a head is MatMul or Gemm, then an Add of its bias, then an activation");
            float[]? bias = stage.Bias;
            if (index < stages.Count && stages[index].Kind == HeadKind.Bias && bias is null) bias = stages[index++].Bias;
            DenseActivation activation = index < stages.Count && stages[index].Kind == HeadKind.Activation ? stages[index++].Activation : DenseActivation.Identity;
            dense.Add(new DenseLayer(stage.Weight!, bias is null ? null : new FloatTensor(bias, bias.Length), activation, stage.Where));
        }

        return (dense, steps);
    }

    /// <summary>Which steps of the stack <paramref name="input"/> holds: every step in x's layout, each row's last step, or the final states.</summary>
    private static HeadSteps? StepsOf(ProbeArray input, List<NodeProbe> layers, OnnxSequenceLayout xLayout)
    {
        NodeProbe last = layers[^1];
        int hidden = last.Info.Spec.HiddenSize, seqLen = last.SeqLen, batch = last.Batch, features = last.Info.Spec.Directions * hidden;
        bool batchFirst = xLayout == OnnxSequenceLayout.BatchMajor;
        int[] every = batchFirst ? [batch, seqLen, features] : [seqLen, batch, features];
        if (Same(input, every, Expected(every, i => batchFirst ? last.YTag(i[1], i[0], i[2]) : last.YTag(i[0], i[1], i[2])))) return HeadSteps.Every;
        if (Same(input, [batch, features], Expected([batch, features], i => last.YTag(seqLen - 1, i[0], i[1])))) return HeadSteps.Last;
        return Same(input, [batch, features], Expected([batch, features], i => last.StateTag(1, i[1] / hidden, i[0], i[1] % hidden))) ? HeadSteps.FinalState : null;
    }

    /// <summary>The recurrent nodes in stack order: the one that reads a graph input, then each that reads the one before.</summary>
    private List<NodeProbe> Order(Trace trace)
    {
        var remaining = new List<NodeProbe>(trace.Nodes);
        bool IsEntry(Source source) => source.GraphInput is not null || (source.Head >= 0 && trace.Heads[source.Head].Kind == HeadKind.Embedding);
        var heads = remaining.Where(node => IsEntry(trace.Sources[SourceOf(node.X, node.Info, "X")])).ToList();
        if (heads.Count != 1)
        {
            throw Unstacked(heads.Count == 0
                ? "no recurrent node reads a graph input as its X"
                : $"{string.Join(" and ", heads.Select(h => h.Info.Where))} each read a graph input as X; the reader takes one stack");
        }

        var order = new List<NodeProbe> { heads[0] };
        remaining.Remove(heads[0]);
        while (remaining.Count > 0)
        {
            NodeProbe previous = order[^1];
            var next = remaining.Where(node => SourceOf(node.X, node.Info, "X") == previous.Source).ToList();
            if (next.Count != 1)
            {
                throw Unstacked(next.Count == 0
                    ? $"{string.Join(" and ", remaining.Select(n => n.Info.Where))} {(remaining.Count == 1 ? "does" : "do")} not read {previous.Info.Where}'s Y as X"
                    : $"{string.Join(" and ", next.Select(n => n.Info.Where))} each read {previous.Info.Where}'s Y; the reader takes one stack");
            }

            order.Add(next[0]);
            remaining.Remove(next[0]);
        }

        return order;
    }

    /// <summary>The one source every element of <paramref name="value"/> was copied from.</summary>
    private int SourceOf(ProbeArray value, RecurrentNode node, string role)
    {
        long[] tags = value.TagsOrConstant();
        if (tags.Length == 0) throw new MalformedFileException(_file, $"{node.Where}: its {role} is empty");
        long source = tags[0] >> 32;
        if (tags[0] == ProbeArray.ConstantTag || tags.Any(tag => tag == ProbeArray.ConstantTag || tag >> 32 != source))
            throw Unstacked($"{node.Where}: its {role} mixes elements of several arrays or constants");
        return (int)source;
    }

    private int[] StoredLengths(ProbeArray lengths, RecurrentNode node) => [.. lengths.Integers!.Select((value, row) => value is >= 0 and <= int.MaxValue
        ? (int)value
        : throw new MalformedFileException(_file, $"{node.Where}: sequence_lens[{row}] is {value}, not a length"))];

    /// <summary>
    /// The nodes' initial states of one kind: none (or zeros), constants, or every node's rows of one graph input in
    /// the stacked layout <c>[L·D, B, H]</c> or <c>[B, L·D, H]</c>.
    /// </summary>
    private StateInput InitialStates(Trace trace, List<NodeProbe> layers, Func<NodeProbe, ProbeArray?> state, string role)
    {
        ProbeArray?[] states = [.. layers.Select(state)];
        if (states.All(s => s is null || (!s.IsTraced && s.IsZeroConstant))) return StateInput.None;
        if (states.All(s => s is not null && !s.IsTraced))
        {
            if (layers[0].Info.Layout == 1 && layers.Count > 1)
                throw new UnsupportedModelException(_file, $"{layers[0].Info.Where} and the nodes after it have constant {role}s in layout 1; stored states of a stack are read in layout 0");
            return new StateInput(null, null, [.. states.Select(s => s!.Floats!)]);
        }

        if (states.Any(s => s is null || !s.IsTraced))
            throw Unstacked($"the nodes' {role} are not of one kind (none or zeros, stored, or one stacked graph input's rows)");
        int id = SourceOf(states[0]!, layers[0].Info, role);
        string? input = trace.Sources[id].GraphInput ?? throw Unstacked($"{layers[0].Info.Where}: its {role} is not a graph input's rows");
        int[] inputShape = trace.Values[input].Shape;
        foreach (OnnxStateLayout layout in StateLayoutsNaturalFirst(layers[0].Info))
        {
            if (StacksFrom(layers, states, id, inputShape, layout)) return new StateInput(input, layout, null);
        }

        throw Unstacked($"graph input '{FileText.Escape(input)}' is not every node's {role} stacked as [L·D, B, H] or [B, L·D, H]");
    }

    /// <summary>Whether node k's state is rows kD..kD+D-1 of <paramref name="inputShape"/> in <paramref name="layout"/>.</summary>
    private static bool StacksFrom(List<NodeProbe> layers, ProbeArray?[] states, int input, int[] inputShape, OnnxStateLayout layout)
    {
        NodeProbe first = layers[0];
        int directions = first.Info.Spec.Directions, hidden = first.Info.Spec.HiddenSize, batch = first.Batch, rows = layers.Count * directions;
        int[] expectedShape = layout == OnnxStateLayout.DirectionMajor ? [rows, batch, hidden] : [batch, rows, hidden];
        if (!inputShape.AsSpan().SequenceEqual(expectedShape)) return false;
        for (int k = 0; k < layers.Count; k++)
        {
            bool batchMajorNode = layers[k].Info.Layout == 1;
            int[] nodeShape = batchMajorNode ? [batch, directions, hidden] : [directions, batch, hidden];
            long[] expected = Expected(nodeShape, i =>
            {
                int d = batchMajorNode ? i[1] : i[0], b = batchMajorNode ? i[0] : i[1], row = (k * directions) + d;
                return ProbeArray.Tag(input, layout == OnnxStateLayout.DirectionMajor ? (((row * batch) + b) * hidden) + i[2] : (((b * rows) + row) * hidden) + i[2]);
            });
            if (!Same(states[k]!, nodeShape, expected)) return false;
        }

        return true;
    }

    /// <summary>The layout in which <paramref name="value"/> stacks every node's output <paramref name="slot"/> (1 Y_h, 2 Y_c); null if it does not.</summary>
    private static OnnxStateLayout? StackedLayout(ProbeArray value, List<NodeProbe> layers, int slot, int batch)
    {
        NodeProbe first = layers[0];
        int directions = first.Info.Spec.Directions, hidden = first.Info.Spec.HiddenSize, rows = layers.Count * directions;
        foreach (OnnxStateLayout layout in StateLayoutsNaturalFirst(first.Info))
        {
            int[] shape = layout == OnnxStateLayout.DirectionMajor ? [rows, batch, hidden] : [batch, rows, hidden];
            long[] expected = Expected(shape, i =>
            {
                int row = layout == OnnxStateLayout.DirectionMajor ? i[0] : i[1], b = layout == OnnxStateLayout.DirectionMajor ? i[1] : i[0];
                return layers[row / directions].StateTag(slot, row % directions, b, i[2]);
            });
            if (Same(value, shape, expected)) return layout;
        }

        return null;
    }

    /// <summary>
    /// Both state layouts, the nodes' own first: at sizes where both describe the same elements (B = 1 and one
    /// direction, say), the nodes' layout is the one that holds for other sizes too.
    /// </summary>
    private static OnnxStateLayout[] StateLayoutsNaturalFirst(RecurrentNode node) => node.Layout == 0
        ? [OnnxStateLayout.DirectionMajor, OnnxStateLayout.BatchMajor]
        : [OnnxStateLayout.BatchMajor, OnnxStateLayout.DirectionMajor];

    private UnsupportedModelException Unstacked(string message) =>
        new(_file, $"the graph's recurrent nodes do not form one stack: {message}");

    private static bool Same(ProbeArray value, int[] shape, long[] tags) =>
        value.IsTraced && value.Shape.AsSpan().SequenceEqual(shape) && value.Tags!.AsSpan().SequenceEqual(tags);

    private static long[] Identity(int source, int[] shape) => Expected(shape, null, source);

    /// <summary>The tag of every element of an array of <paramref name="shape"/>, by its multi-index.</summary>
    private static long[] Expected(int[] shape, Func<int[], long> tag) => Expected(shape, tag, -1);

    private static long[] Expected(int[] shape, Func<int[], long>? tag, int identity)
    {
        int count = ProbeArray.Product(shape);
        var tags = new long[count];
        var index = new int[shape.Length];
        for (int o = 0; o < count; o++)
        {
            tags[o] = tag is null ? ProbeArray.Tag(identity, o) : tag(index);
            for (int a = shape.Length - 1; a >= 0; a--)
            {
                if (++index[a] < shape[a]) break;
                index[a] = 0;
            }
        }

        return tags;
    }

    /// <summary>A graph input: its element type and declared dimensions (a size, a symbolic name, or neither).</summary>
    internal sealed record GraphInput(string Name, int ElementType, GraphInput.Dim[] Dims)
    {
        internal sealed record Dim(int? Value, string Key);

        public static GraphInput Of(string file, ValueInfoProto input)
        {
            string quoted = $"graph input '{FileText.Escape(input.Name)}'";
            TypeProto.Types.Tensor? tensor = input.Type?.TensorType;
            int type = tensor?.ElemType is { } t and not 0 ? t : OnnxElement.Float;
            if (!OnnxElement.IsKnown(type))
                throw new UnsupportedModelException(file, $"{quoted} has element type {type}; float32 (1), int32 (6) and int64 (7) are supported");
            Dim[] dims;
            if (tensor?.Shape is { } shape)
            {
                dims = new Dim[shape.Dim.Count];
                for (int axis = 0; axis < dims.Length; axis++)
                {
                    TensorShapeProto.Types.Dimension dim = shape.Dim[axis];
                    if (dim.ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue)
                    {
                        if (dim.DimValue is < 0 or > int.MaxValue) throw new MalformedFileException(file, $"{quoted} has dimension {axis} of {dim.DimValue}");
                        dims[axis] = new Dim((int)dim.DimValue, "");
                    }
                    else
                    {
                        dims[axis] = new Dim(null, dim.DimParam.Length > 0 ? "'" + FileText.Escape(dim.DimParam) + "'" : $"{quoted}[{axis}]");
                    }
                }
            }
            else
            {
                // No shape declared: a sequence or state of rank 3, or lengths of rank 1, every dimension to be found.
                int rank = OnnxElement.IsInteger(type) ? 1 : 3;
                dims = [.. Enumerable.Range(0, rank).Select(axis => new Dim(null, $"{quoted}[{axis}]"))];
            }

            return new GraphInput(input.Name, type, dims);
        }
    }

    /// <summary>An array a probe traces elements back to: a graph input, or output <c>Slot</c> of recurrent node <c>Node</c>.</summary>
    private sealed record Source(string? GraphInput, int Node, int Slot, int Head);

    private sealed record NodeProbe(RecurrentNode Info, ProbeArray X, ProbeArray? Lengths, ProbeArray? InitialHidden, ProbeArray? InitialCell,
        ProbeArray[] Outputs, int SeqLen, int Batch, int Source)
    {
        /// <summary>The tag of Y's element at step <paramref name="t"/>, row <paramref name="b"/>, PyTorch feature <paramref name="feature"/> (direction · H + unit), in the node's layout.</summary>
        public long YTag(int t, int b, int feature)
        {
            int directions = Info.Spec.Directions, hidden = Info.Spec.HiddenSize, d = feature / hidden, h = feature % hidden;
            return ProbeArray.Tag(Source, Info.Layout == 1
                ? (((((b * SeqLen) + t) * directions) + d) * hidden) + h
                : (((((t * directions) + d) * Batch) + b) * hidden) + h);
        }

        /// <summary>The tag of final state <paramref name="slot"/>'s (1 Y_h, 2 Y_c) element of direction <paramref name="d"/>, row <paramref name="b"/>, unit <paramref name="h"/>.</summary>
        public long StateTag(int slot, int d, int b, int h)
        {
            int directions = Info.Spec.Directions, hidden = Info.Spec.HiddenSize;
            return ProbeArray.Tag(Source + slot, Info.Layout == 1 ? (((b * directions) + d) * hidden) + h : (((d * Batch) + b) * hidden) + h);
        }
    }

    private sealed record Trace(Dictionary<string, ProbeArray> Values, List<Source> Sources, List<NodeProbe> Nodes, List<HeadProbe> Heads);

    private sealed record Chain(OnnxRnnModel Model, string Structure);

    /// <summary>Where a stack's initial states come from: nowhere, a stacked graph input, or each node's constant.</summary>
    private sealed record StateInput(string? GraphInput, OnnxStateLayout? Layout, float[][]? Constants)
    {
        public static readonly StateInput None = new(null, null, null);

        /// <summary>
        /// The constants stacked in <paramref name="layout"/>; null for none. Nodes in layout 0 hold [D, B, H] each; one
        /// in layout 1 (a stack of one node) holds [B, D, H].
        /// </summary>
        public FloatTensor? Stored(int nodeLayout, OnnxStateLayout layout, int directions, int hidden)
        {
            if (Constants is null) return null;
            int rows = Constants.Length * directions, batch = Constants[0].Length / (directions * hidden);
            var stacked = new FloatTensor([.. Constants.SelectMany(c => c)], nodeLayout == 0 ? [rows, batch, hidden] : [batch, rows, hidden]);
            bool directionMajor = nodeLayout == 0;
            return directionMajor == (layout == OnnxStateLayout.DirectionMajor) ? stacked : SequenceSteps.Transpose01(stacked);
        }
    }
}

/// <summary>A node's need that a probe's made-up size contradicts: the size found, and the one needed.</summary>
internal sealed class ProbeConflict(int actual, int required, string message) : Exception(message)
{
    public int Actual { get; } = actual;

    public int Required { get; } = required;

    public static void Check(int actual, int required, string message)
    {
        if (actual != required) throw new ProbeConflict(actual, required, message);
    }
}

/// <summary>
/// The sizes a probe gives the graph inputs' dimensions: declared sizes as they are; each symbolic one (dimensions of
/// one name are one) a made-up size unlike any number in the model, so that a conflict names the dimension it came
/// from; a made-up size a node contradicts takes the size the node needs (<see cref="Reconcile"/>).
/// </summary>
internal sealed class ProbeSizes
{
    private readonly Dictionary<string, int> _sizes = new(StringComparer.Ordinal);
    private readonly HashSet<string> _madeUp = new(StringComparer.Ordinal);
    private readonly HashSet<long> _avoid;
    private int _candidate = 10;

    public ProbeSizes(IEnumerable<OnnxGraphReader.GraphInput> inputs, HashSet<long> known)
    {
        _avoid = known;
        foreach (OnnxGraphReader.GraphInput.Dim dim in inputs.SelectMany(input => input.Dims).Where(dim => dim.Value is null))
        {
            if (_sizes.ContainsKey(dim.Key)) continue;
            _sizes[dim.Key] = NextSize();
            _madeUp.Add(dim.Key);
        }
    }

    public int Count => _sizes.Count;

    public bool AnyMadeUp => _madeUp.Count > 0;

    public int[] ShapeOf(OnnxGraphReader.GraphInput input) => [.. input.Dims.Select(dim => dim.Value ?? _sizes[dim.Key])];

    /// <summary>
    /// Makes a made-up size <paramref name="actual"/> the <paramref name="required"/> one (or the reverse); false when
    /// neither is made up, a real contradiction.
    /// </summary>
    public bool Reconcile(int actual, int required)
    {
        // Dimensions made equal before share their size, so all of them change together.
        string[] found = [.. _madeUp.Where(key => _sizes[key] == actual)];
        bool toMadeUp = _madeUp.Any(key => _sizes[key] == required);
        if (found.Length == 0)
        {
            found = [.. _madeUp.Where(key => _sizes[key] == required)];
            (required, toMadeUp) = (actual, false);
        }

        if (found.Length == 0) return false;
        foreach (string key in found)
        {
            _sizes[key] = required;
            if (!toMadeUp) _madeUp.Remove(key);
        }

        return true;
    }

    /// <summary>Gives every size still made up another made-up size (dimensions made equal stay equal).</summary>
    public void MakeUpOthers()
    {
        var renamed = new Dictionary<int, int>();
        foreach (string key in _madeUp.Order(StringComparer.Ordinal))
        {
            int old = _sizes[key];
            if (!renamed.TryGetValue(old, out int size)) renamed[old] = size = NextSize();
            _sizes[key] = size;
        }
    }

    public string Describe() => string.Join(", ", _sizes.OrderBy(pair => pair.Key, StringComparer.Ordinal).Select(pair => $"{pair.Key} = {pair.Value}"));

    private int NextSize()
    {
        do
        {
            _candidate++;
        }
        while (!IsPrime(_candidate) || _avoid.Contains(_candidate));
        return _candidate;
    }

    private static bool IsPrime(int n)
    {
        for (int d = 2; d * d <= n; d++)
        {
            if (n % d == 0) return false;
        }

        return n > 1;
    }
}
