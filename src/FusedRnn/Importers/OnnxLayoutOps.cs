using FusedRnn.IO;
using FusedRnn.IO.Onnx;

namespace FusedRnn;

/// <summary>
/// The ONNX operators that exporters put around and between recurrent nodes, computed on <see cref="ProbeArray"/>s:
/// ops that only move, copy or create elements (Transpose, Reshape, Squeeze, Unsqueeze, Concat, Slice, Split, Gather,
/// Expand, Identity) and the ones that make constants and shapes (Constant, ConstantOfShape, Shape, Cast). Each takes
/// its parameters from an attribute (older opsets) or an input (newer ones), whichever the node has. Every error
/// names the node.
/// </summary>
internal sealed class OnnxLayoutOps(string file, OnnxLayoutOps.Budget budget)
{
    /// <summary>The operators computed here.</summary>
    public static readonly IReadOnlySet<string> Supported = new HashSet<string>(StringComparer.Ordinal)
    {
        "Identity", "Transpose", "Reshape", "Squeeze", "Unsqueeze", "Concat", "Slice", "Split", "Gather", "Expand",
        "Constant", "ConstantOfShape", "Shape", "Cast",
    };

    /// <summary>
    /// How many elements a read may compute in all: a hostile graph of Expand and ConstantOfShape nodes must not
    /// allocate what its file does not hold.
    /// </summary>
    public sealed class Budget(long elements)
    {
        private long _taken;

        public void Take(string file, string where, long count)
        {
            _taken += count;
            if (_taken > elements)
                throw new UnsupportedModelException(file, $"{where}: the graph's layout ops compute more elements than its tensors hold ({elements} in all); this reader does not run such graphs");
        }
    }

    public static string Describe(NodeProto node) => $"{FileText.Escape(node.OpType)} node '{FileText.Escape(node.Name)}'";

    /// <summary>The node's outputs, from its inputs (null for an optional input left out).</summary>
    public ProbeArray[] Evaluate(NodeProto node, ProbeArray?[] inputs)
    {
        var op = new Op(file, node, inputs, budget);
        try
        {
            return node.OpType switch
        {
            "Identity" => [op.Input(0)],
            "Transpose" => [Transpose(op)],
            "Reshape" => [Reshape(op)],
            "Squeeze" => [Squeeze(op)],
            "Unsqueeze" => [Unsqueeze(op)],
            "Concat" => [Concat(op)],
            "Slice" => [Slice(op)],
            "Split" => Split(op, node.Output.Count),
            "Gather" => [Gather(op)],
            "Expand" => [Expand(op)],
            "Constant" => [Constant(op)],
            "ConstantOfShape" => [ConstantOfShape(op)],
            "Shape" => [Shape(op)],
            "Cast" => [Cast(op)],
            _ => throw new InvalidOperationException($"{node.OpType} is not a layout op"),
        };
        }
        catch (OverflowException)
        {
            throw op.Error("its sizes overflow");
        }
    }

    private static ProbeArray Transpose(Op op)
    {
        ProbeArray data = op.Input(0);
        int rank = data.Shape.Length;
        long[] perm = op.Ints("perm") ?? [.. Enumerable.Range(0, rank).Reverse().Select(i => (long)i)];
        if (perm.Length != rank || perm.Distinct().Count() != rank || perm.Any(p => p < 0 || p >= rank))
            throw op.Error($"perm is [{string.Join(", ", perm)}], not a permutation of the {rank} axes of {FloatTensor.FormatShape(data.Shape)}");
        int[] strides = Strides(data.Shape);
        return View(op, data, [.. perm.Select(p => data.Shape[p])], 0, [.. perm.Select(p => (long)strides[p])]);
    }

    private static ProbeArray Reshape(Op op)
    {
        ProbeArray data = op.Input(0);
        long[] requested = op.IntegerInput(1, "shape");
        bool allowZero = op.Int("allowzero", 0) != 0;
        var shape = new int[requested.Length];
        int inferred = -1;
        long known = 1;
        for (int axis = 0; axis < requested.Length; axis++)
        {
            long dim = requested[axis];
            if (dim == 0 && !allowZero)
            {
                if (axis >= data.Shape.Length) throw op.Error($"shape[{axis}] is 0 (copy the input's dimension) but the input {FloatTensor.FormatShape(data.Shape)} has no axis {axis}");
                dim = data.Shape[axis];
            }

            if (dim == -1)
            {
                if (inferred >= 0) throw op.Error("shape has more than one -1");
                inferred = axis;
                continue;
            }

            if (dim is < 0 or > int.MaxValue) throw op.Error($"shape[{axis}] is {dim}");
            shape[axis] = (int)dim;
            known = checked(known * dim);
        }

        if (inferred >= 0)
        {
            if (known == 0 || data.Count % known != 0) throw op.Error($"cannot reshape {FloatTensor.FormatShape(data.Shape)} into [{string.Join(", ", requested)}]");
            shape[inferred] = (int)(data.Count / known);
        }
        else if (known != data.Count)
        {
            throw op.Error($"cannot reshape {FloatTensor.FormatShape(data.Shape)} ({data.Count} elements) into {FloatTensor.FormatShape(shape)}");
        }

        return data.Reshaped(shape);
    }

    private static ProbeArray Squeeze(Op op)
    {
        ProbeArray data = op.Input(0);
        long[]? axes = op.Ints("axes") ?? op.OptionalIntegerInput(1, "axes");
        bool[] squeezed = new bool[data.Shape.Length];
        if (axes is null)
        {
            for (int axis = 0; axis < squeezed.Length; axis++) squeezed[axis] = data.Shape[axis] == 1;
        }
        else
        {
            foreach (long axis in axes)
            {
                int normal = op.Axis(axis, data.Shape.Length, "axes");
                if (data.Shape[normal] != 1) throw op.Error($"axis {axis} of {FloatTensor.FormatShape(data.Shape)} is not 1");
                squeezed[normal] = true;
            }
        }

        return data.Reshaped([.. data.Shape.Where((_, axis) => !squeezed[axis])]);
    }

    private static ProbeArray Unsqueeze(Op op)
    {
        ProbeArray data = op.Input(0);
        long[] axes = op.Ints("axes") ?? op.IntegerInput(1, "axes");
        int rank = data.Shape.Length + axes.Length;
        var inserted = new bool[rank];
        foreach (long axis in axes)
        {
            int normal = op.Axis(axis, rank, "axes");
            if (inserted[normal]) throw op.Error($"axes names axis {normal} twice");
            inserted[normal] = true;
        }

        var shape = new int[rank];
        for (int axis = 0, source = 0; axis < rank; axis++) shape[axis] = inserted[axis] ? 1 : data.Shape[source++];
        return data.Reshaped(shape);
    }

    private static ProbeArray Concat(Op op)
    {
        ProbeArray[] parts = op.AllInputs();
        if (parts.Length == 0) throw op.Error("has no inputs");
        ProbeArray first = parts[0];
        int axis = op.Axis(op.Int("axis", null), first.Shape.Length, "axis");
        long total = 0;
        foreach (ProbeArray part in parts)
        {
            bool fits = part.Shape.Length == first.Shape.Length && part.ElementType == first.ElementType &&
                part.Shape.Select((dim, a) => a == axis || dim == first.Shape[a]).All(same => same);
            if (!fits)
                throw op.Error($"joins {string.Join(" and ", parts.Select(p => FloatTensor.FormatShape(p.Shape)))} (element types {string.Join(", ", parts.Select(p => p.ElementType).Distinct())}) along axis {axis}");
            total += part.Shape[axis];
        }

        int[] shape = [.. first.Shape];
        shape[axis] = checked((int)total);
        int outer = ProbeArray.Product(shape.AsSpan(0, axis)), inner = ProbeArray.Product(shape.AsSpan(axis + 1));
        bool traced = parts.Any(p => p.IsTraced);
        bool sizeDependent = parts.Any(p => p.SizeDependent);
        int count = ProbeArray.Product(shape);
        op.Reserve(count);
        long[]? tags = traced ? new long[count] : null;
        float[]? floats = !traced && first.IsFloat ? new float[count] : null;
        long[]? integers = !traced && !first.IsFloat ? new long[count] : null;
        int offset = 0;
        for (int o = 0; o < outer; o++)
        {
            foreach (ProbeArray part in parts)
            {
                int length = part.Shape[axis] * inner, start = o * length;
                if (tags is not null) part.TagsOrConstant().AsSpan(start, length).CopyTo(tags.AsSpan(offset));
                else if (floats is not null) part.Floats.AsSpan(start, length).CopyTo(floats.AsSpan(offset));
                else part.Integers.AsSpan(start, length).CopyTo(integers.AsSpan(offset));
                offset += length;
            }
        }

        return tags is not null ? ProbeArray.Traced(shape, tags, first.ElementType)
            : floats is not null ? ProbeArray.Float(shape, floats, sizeDependent)
            : ProbeArray.Integer(shape, integers!, first.ElementType, sizeDependent);
    }

    private static ProbeArray Slice(Op op)
    {
        ProbeArray data = op.Input(0);
        int rank = data.Shape.Length;
        long[] starts = op.Ints("starts") ?? op.IntegerInput(1, "starts");
        long[] ends = op.Ints("ends") ?? op.IntegerInput(2, "ends");
        long[] axes = op.Ints("axes") ?? op.OptionalIntegerInput(3, "axes") ?? [.. Enumerable.Range(0, starts.Length).Select(a => (long)a)];
        long[] steps = op.OptionalIntegerInput(4, "steps") ?? [.. Enumerable.Repeat(1L, starts.Length)];
        if (ends.Length != starts.Length || axes.Length != starts.Length || steps.Length != starts.Length)
            throw op.Error($"starts, ends, axes and steps have {starts.Length}, {ends.Length}, {axes.Length} and {steps.Length} values; they must have as many");
        int[] shape = [.. data.Shape];
        int[] strides = Strides(data.Shape);
        long[] viewStrides = [.. strides.Select(s => (long)s)];
        long offset = 0;
        var sliced = new bool[rank];
        for (int i = 0; i < starts.Length; i++)
        {
            int axis = op.Axis(axes[i], rank, "axes");
            if (sliced[axis]) throw op.Error($"axes names axis {axis} twice");
            sliced[axis] = true;
            long dim = data.Shape[axis], step = steps[i];
            if (step == 0) throw op.Error($"steps[{i}] is 0");
            // ONNX's clamping: a negative index counts from the end; then starts and ends are clamped into the axis.
            long start = starts[i] < 0 ? starts[i] + dim : starts[i], end = ends[i] < 0 ? ends[i] + dim : ends[i];
            // A bound past an axis of the probe's size would cut a longer one: "to the end" is written as a huge number
            // (INT64_MAX), and only such a bound may be clamped on an array computed from the graph's inputs.
            bool startClamped = step > 0 ? start < 0 || start > dim : start < 0 || start > dim - 1;
            bool endClamped = step > 0 ? end < 0 || end > dim : end < -1 || end > dim - 1;
            if (data.IsTraced && ((startClamped && !IsOpen(starts[i])) || (endClamped && !IsOpen(ends[i]))))
            {
                throw new UnsupportedModelException(op.File,
                    $"{op.Where}: starts[{i}] = {starts[i]} or ends[{i}] = {ends[i]} lies outside axis {axis} of {FloatTensor.FormatShape(data.Shape)}, so the slice would cut a longer axis; " +
                    "this reader takes bounds inside the axis, or open-ended ones (INT64_MAX)");
            }

            long length;
            if (step > 0)
            {
                start = Math.Clamp(start, 0, dim);
                end = Math.Clamp(end, 0, dim);
                length = end > start ? ((end - start - 1) / step) + 1 : 0;
            }
            else
            {
                start = Math.Clamp(start, 0, dim - 1);
                end = Math.Clamp(end, -1, dim - 1);
                length = start > end ? ((start - end - 1) / -step) + 1 : 0;
            }

            shape[axis] = (int)length;
            offset += length > 0 ? start * strides[axis] : 0;
            viewStrides[axis] = step * strides[axis];
        }

        return View(op, data, shape, offset, viewStrides);
    }

    /// <summary>Whether a slice bound means "to the end of any axis": INT32_MAX or more, or as negative.</summary>
    private static bool IsOpen(long bound) => bound >= int.MaxValue || bound <= -int.MaxValue;

    private static ProbeArray[] Split(Op op, int outputs)
    {
        ProbeArray data = op.Input(0);
        int axis = op.Axis(op.Int("axis", 0), data.Shape.Length, "axis");
        int dim = data.Shape[axis];
        long[]? sizes = op.Ints("split") ?? op.OptionalIntegerInput(1, "split");
        if (sizes is null)
        {
            long parts = op.Int("num_outputs", outputs);
            if (parts != outputs || parts < 1) throw op.Error($"num_outputs is {parts} but the node has {outputs} outputs");
            long each = (dim + parts - 1) / parts;
            sizes = [.. Enumerable.Range(0, outputs).Select(i => Math.Clamp(dim - (i * each), 0, each))];
        }

        if (sizes.Length != outputs || sizes.Any(s => s < 0) || sizes.Sum() != dim)
            throw op.Error($"split is [{string.Join(", ", sizes)}]; the node has {outputs} outputs and axis {axis} of {FloatTensor.FormatShape(data.Shape)} is {dim}");
        int[] strides = Strides(data.Shape);
        long[] viewStrides = [.. strides.Select(s => (long)s)];
        var result = new ProbeArray[outputs];
        long start = 0;
        for (int i = 0; i < outputs; i++)
        {
            int[] shape = [.. data.Shape];
            shape[axis] = (int)sizes[i];
            result[i] = View(op, data, shape, start * strides[axis], viewStrides);
            start += sizes[i];
        }

        return result;
    }

    private static ProbeArray Gather(Op op)
    {
        ProbeArray data = op.Input(0), indices = op.Input(1);
        // Indices computed from the graph's inputs are an embedding lookup, which OnnxHeadOps reads.
        if (!OnnxElement.IsInteger(indices.ElementType)) throw op.Error($"its indices are of element type {indices.ElementType}, not int32 or int64");
        int axis = op.Axis(op.Int("axis", 0), data.Shape.Length, "axis");
        int dim = data.Shape[axis];
        int outer = ProbeArray.Product(data.Shape.AsSpan(0, axis)), inner = ProbeArray.Product(data.Shape.AsSpan(axis + 1));
        int[] shape = [.. data.Shape[..axis], .. indices.Shape, .. data.Shape[(axis + 1)..]];
        int count = ProbeArray.Product(shape);
        op.Reserve(count);
        var map = new int[count];
        int position = 0;
        for (int o = 0; o < outer; o++)
        {
            foreach (long raw in indices.Integers!)
            {
                long index = raw < 0 ? raw + dim : raw;
                if (index < 0 || index >= dim) throw op.Error($"index {raw} is outside axis {axis} of {FloatTensor.FormatShape(data.Shape)}");
                for (int i = 0; i < inner; i++) map[position++] = (((o * dim) + (int)index) * inner) + i;
            }
        }

        return data.Select(shape, map);
    }

    private static ProbeArray Expand(Op op)
    {
        ProbeArray data = op.Input(0);
        long[] requested = op.IntegerInput(1, "shape");
        int rank = Math.Max(requested.Length, data.Shape.Length);
        var shape = new int[rank];
        var strides = new long[rank];
        int[] dataStrides = Strides(data.Shape);
        for (int axis = 0; axis < rank; axis++)
        {
            int dataAxis = axis - (rank - data.Shape.Length), shapeAxis = axis - (rank - requested.Length);
            long have = dataAxis >= 0 ? data.Shape[dataAxis] : 1, want = shapeAxis >= 0 ? requested[shapeAxis] : 1;
            if (want is < 0 or > int.MaxValue) throw op.Error($"shape[{shapeAxis}] is {want}");
            if (have != want && have != 1 && want != 1)
                throw op.Error($"cannot broadcast {FloatTensor.FormatShape(data.Shape)} to [{string.Join(", ", requested)}]");
            shape[axis] = (int)Math.Max(have, want);
            strides[axis] = have == 1 || dataAxis < 0 ? 0 : dataStrides[dataAxis];
        }

        return View(op, data, shape, 0, strides);
    }

    private static ProbeArray Constant(Op op)
    {
        if (op.Node.Input.Count > 0) throw op.Error("has inputs; a Constant takes none");
        if (op.Node.Attribute.Count != 1) throw op.Error($"has {op.Node.Attribute.Count} attributes; a Constant has one (value, value_float, value_floats, value_int or value_ints)");
        AttributeProto value = op.Node.Attribute[0];
        return value.Name switch
        {
            "value" when value.T is not null => OnnxTensors.Read(op.File, $"{op.Where}: value", value.T),
            "value_float" => ProbeArray.Float([], [value.F]),
            "value_floats" => ProbeArray.Float([value.Floats.Count], [.. value.Floats]),
            "value_int" => ProbeArray.Integer([], [value.I]),
            "value_ints" => ProbeArray.Integer([value.Ints.Count], [.. value.Ints]),
            _ => throw new UnsupportedModelException(op.File, $"{op.Where}: attribute {FileText.Escape(value.Name)} is not a tensor, float(s) or int(s) value this reader reads"),
        };
    }

    private static ProbeArray ConstantOfShape(Op op)
    {
        long[] requested = op.IntegerInput(0, "shape");
        var shape = new int[requested.Length];
        long count = 1;
        for (int axis = 0; axis < shape.Length; axis++)
        {
            if (requested[axis] is < 0 or > int.MaxValue) throw op.Error($"shape[{axis}] is {requested[axis]}");
            shape[axis] = (int)requested[axis];
            count = checked(count * requested[axis]);
        }

        op.Reserve(count);
        ProbeArray value = op.Tensor("value") ?? ProbeArray.Float([1], [0f]);
        if (value.Count != 1) throw op.Error($"value has {value.Count} elements; it must have one");
        bool sizeDependent = op.Input(0).SizeDependent;
        return value.IsFloat
            ? ProbeArray.Float(shape, Enumerable.Repeat(value.Floats![0], (int)count).ToArray(), sizeDependent)
            : ProbeArray.Integer(shape, Enumerable.Repeat(value.Integers![0], (int)count).ToArray(), value.ElementType, sizeDependent);
    }

    private static ProbeArray Shape(Op op)
    {
        ProbeArray data = op.Input(0);
        int rank = data.Shape.Length;
        long start = op.Int("start", 0), end = op.Int("end", rank);
        start = Math.Clamp(start < 0 ? start + rank : start, 0, rank);
        end = Math.Clamp(end < 0 ? end + rank : end, 0, rank);
        long[] dims = [.. data.Shape.Skip((int)start).Take((int)Math.Max(0, end - start)).Select(d => (long)d)];
        return ProbeArray.Integer([dims.Length], dims, OnnxElement.Int64, data.SizeDependent);
    }

    private static ProbeArray Cast(Op op)
    {
        ProbeArray data = op.Input(0);
        long to = op.Int("to", null);
        if (!OnnxElement.IsKnown((int)to) || to is < 0 or > int.MaxValue)
            throw new UnsupportedModelException(op.File, $"{op.Where}: casts to element type {to}; float32 (1), int32 (6) and int64 (7) are supported");
        int type = (int)to;
        op.Reserve(data.Count);
        if (data.IsTraced)
        {
            if (OnnxElement.IsInteger(type) != OnnxElement.IsInteger(data.ElementType))
                throw new UnsupportedModelException(op.File, $"{op.Where}: converts an array computed from the graph's inputs between floats and integers");
            return ProbeArray.Traced(data.Shape, data.Tags!, type);
        }

        if (type == OnnxElement.Float)
            return data.IsFloat ? data : ProbeArray.Float(data.Shape, [.. data.Integers!.Select(v => (float)v)], data.SizeDependent);
        long[] integers = data.IsFloat ? [.. data.Floats!.Select(v => float.IsFinite(v) ? (long)Math.Clamp(MathF.Truncate(v), long.MinValue, long.MaxValue) : 0)] : data.Integers!;
        if (type == OnnxElement.Int32) integers = [.. integers.Select(v => (long)(int)v)];
        return ProbeArray.Integer(data.Shape, integers, type, data.SizeDependent);
    }

    /// <summary>An array of <paramref name="shape"/> whose element at index i is data's element at offset + Σ i[a]·strides[a].</summary>
    private static ProbeArray View(Op op, ProbeArray data, int[] shape, long offset, long[] strides)
    {
        int count = ProbeArray.Product(shape);
        op.Reserve(count);
        var map = new int[count];
        var index = new int[shape.Length];
        for (int o = 0; o < count; o++)
        {
            long source = offset;
            for (int a = 0; a < shape.Length; a++) source += index[a] * strides[a];
            map[o] = (int)source;
            for (int a = shape.Length - 1; a >= 0; a--)
            {
                if (++index[a] < shape[a]) break;
                index[a] = 0;
            }
        }

        return data.Select(shape, map);
    }

    private static int[] Strides(int[] shape)
    {
        var strides = new int[shape.Length];
        int stride = 1;
        for (int a = shape.Length - 1; a >= 0; a--)
        {
            strides[a] = stride;
            stride *= shape[a];
        }

        return strides;
    }

    /// <summary>One node's inputs and attributes, with the messages that name it.</summary>
    private sealed class Op(string file, NodeProto node, ProbeArray?[] inputs, Budget budget)
    {
        /// <summary>Counts an array of <paramref name="count"/> elements against the read's budget before it is made.</summary>
        public void Reserve(long count) => budget.Take(file, Where, count);

        public string File => file;

        public NodeProto Node => node;

        public string Where => Describe(node);

        public MalformedFileException Error(string message) => new(file, $"{Where}: {message}");

        public ProbeArray Input(int index) =>
            index < inputs.Length && inputs[index] is { } input ? input : throw Error($"has no input {index}");

        public ProbeArray[] AllInputs() => [.. inputs.Select((input, index) => input ?? throw Error($"input {index} is empty"))];

        /// <summary>A constant integer input (a shape, axes or indices), as its values.</summary>
        public long[] IntegerInput(int index, string role) =>
            OptionalIntegerInput(index, role) ?? throw Error($"has no {role} (an attribute or input {index})");

        public long[]? OptionalIntegerInput(int index, string role)
        {
            if (index >= inputs.Length || inputs[index] is not { } input) return null;
            if (input.IsTraced)
                throw new UnsupportedModelException(file, $"{Where}: its {role} is computed from the graph's input values, not from shapes and constants");
            if (!OnnxElement.IsInteger(input.ElementType) || input.Shape.Length > 1)
                throw Error($"its {role} is {FloatTensor.FormatShape(input.Shape)} of element type {input.ElementType}, not a list of integers");
            return input.Integers;
        }

        public AttributeProto? Attribute(string name, AttributeProto.Types.AttributeType type)
        {
            AttributeProto? attribute = node.Attribute.FirstOrDefault(a => a.Name == name);
            if (attribute is not null && attribute.Type != type) throw Error($"attribute {name} is a {attribute.Type}, not {type}");
            return attribute;
        }

        public long[]? Ints(string name) => Attribute(name, AttributeProto.Types.AttributeType.Ints)?.Ints.ToArray();

        public long Int(string name, long? fallback) =>
            Attribute(name, AttributeProto.Types.AttributeType.Int)?.I ?? fallback ?? throw Error($"has no attribute {name}");

        public ProbeArray? Tensor(string name) =>
            Attribute(name, AttributeProto.Types.AttributeType.Tensor) is { T: { } tensor } ? OnnxTensors.Read(file, $"{Where}: attribute {name}", tensor) : null;

        /// <summary>An axis of an array of <paramref name="rank"/> axes, negative ones counted from the end.</summary>
        public int Axis(long axis, int rank, string role)
        {
            long normal = axis < 0 ? axis + rank : axis;
            if (normal < 0 || normal >= rank) throw Error($"{role} names axis {axis} of an array of rank {rank}");
            return (int)normal;
        }
    }
}
