using System.Buffers.Binary;
using FusedRnn.IO;
using FusedRnn.IO.Onnx;

namespace FusedRnn;

/// <summary>
/// An array in a probe run of an ONNX graph (<see cref="OnnxGraphReader"/>): its shape and element type, and either
/// its numbers (a constant: an initializer, a Constant node, or what the layout ops make of them and of shapes) or,
/// for an array computed from the graph's inputs or a recurrent node's outputs, a tag per element naming the element
/// it is a copy of. Tags are what let the reader prove that the layout ops between recurrent nodes only move
/// elements, and where each one goes.
/// </summary>
internal sealed class ProbeArray
{
    /// <summary>The tag of an element that came from a constant into an array computed from the graph's inputs.</summary>
    public const long ConstantTag = -1;

    private ProbeArray(int[] shape, int elementType, float[]? floats, long[]? integers, long[]? tags, bool sizeDependent)
    {
        Shape = shape;
        ElementType = elementType;
        Floats = floats;
        Integers = integers;
        Tags = tags;
        SizeDependent = sizeDependent;
    }

    public int[] Shape { get; }

    /// <summary>ONNX's element type: <see cref="OnnxElement.Float"/>, <see cref="OnnxElement.Int32"/> or <see cref="OnnxElement.Int64"/>.</summary>
    public int ElementType { get; }

    public float[]? Floats { get; }

    public long[]? Integers { get; }

    public long[]? Tags { get; }

    /// <summary>Whether the array depends on the sizes the probe gave the graph's inputs (it is traced, or made from a Shape).</summary>
    public bool SizeDependent { get; }

    public bool IsTraced => Tags is not null;

    public bool IsFloat => ElementType == OnnxElement.Float;

    public int Count => Tags?.Length ?? Floats?.Length ?? Integers!.Length;

    public static ProbeArray Float(int[] shape, float[] values, bool sizeDependent = false) => new(shape, OnnxElement.Float, values, null, null, sizeDependent);

    public static ProbeArray Integer(int[] shape, long[] values, int elementType = OnnxElement.Int64, bool sizeDependent = false) =>
        new(shape, elementType, null, values, null, sizeDependent);

    public static ProbeArray Traced(int[] shape, long[] tags, int elementType) => new(shape, elementType, null, null, tags, true);

    /// <summary>The tag of element <paramref name="index"/> of source <paramref name="source"/> (a graph input or a recurrent node's output).</summary>
    public static long Tag(int source, long index) => ((long)source << 32) | index;

    /// <summary>Every element of <paramref name="source"/>'s array of <paramref name="shape"/>, tagged in order.</summary>
    public static ProbeArray Source(int source, int[] shape, int elementType)
    {
        var tags = new long[Product(shape)];
        for (int i = 0; i < tags.Length; i++) tags[i] = Tag(source, i);
        return Traced(shape, tags, elementType);
    }

    /// <summary>The same array, marked as depending on the probe's sizes (it was computed from something that does).</summary>
    public ProbeArray AsSizeDependent() => new(Shape, ElementType, Floats, Integers, Tags, true);

    /// <summary>The same elements under another shape of as many elements.</summary>
    public ProbeArray Reshaped(int[] shape) => new(shape, ElementType, Floats, Integers, Tags, SizeDependent);

    /// <summary>An array of <paramref name="shape"/> whose element i is this array's element <paramref name="sourceIndex"/>[i].</summary>
    public ProbeArray Select(int[] shape, int[] sourceIndex)
    {
        if (Tags is not null) return Traced(shape, Pick(Tags, sourceIndex), ElementType);
        if (Floats is not null) return Float(shape, Pick(Floats, sourceIndex), SizeDependent);
        return Integer(shape, Pick(Integers!, sourceIndex), ElementType, SizeDependent);
    }

    /// <summary>The tags of the elements: a constant's are all <see cref="ConstantTag"/>.</summary>
    public long[] TagsOrConstant() => Tags ?? Enumerable.Repeat(ConstantTag, Count).ToArray();

    /// <summary>Whether the array is a constant whose every element is zero.</summary>
    public bool IsZeroConstant => Floats is { } floats ? floats.All(v => v == 0) : Integers is { } ints && ints.All(v => v == 0);

    public static int Product(ReadOnlySpan<int> shape)
    {
        long count = 1;
        foreach (int dim in shape) count = checked(count * dim);
        return checked((int)count);
    }

    private static T[] Pick<T>(T[] source, int[] index)
    {
        var result = new T[index.Length];
        for (int i = 0; i < index.Length; i++) result[i] = source[index[i]];
        return result;
    }
}

/// <summary>ONNX's TensorProto element types this reader computes with.</summary>
internal static class OnnxElement
{
    public const int Float = 1;
    public const int Int32 = 6;
    public const int Int64 = 7;

    public static bool IsInteger(int type) => type is Int32 or Int64;

    public static bool IsKnown(int type) => type is Float or Int32 or Int64;
}

/// <summary>The elements of a TensorProto (an initializer or a Constant node's value), checked against its shape.</summary>
internal static class OnnxTensors
{
    /// <summary>The tensor as a constant probe array: float32, int32 or int64.</summary>
    public static ProbeArray Read(string file, string what, TensorProto tensor)
    {
        if (tensor.DataLocation == TensorProto.Types.DataLocation.External || tensor.ExternalData.Count > 0)
            throw new UnsupportedModelException(file, $"{what} is stored in an external file; save the model with its tensors inside (onnx.save_model(..., save_as_external_data=False))");
        if (!OnnxElement.IsKnown(tensor.DataType))
            throw new UnsupportedModelException(file, $"{what} has element type {tensor.DataType}; float32 (1), int32 (6) and int64 (7) are supported");
        (int[] shape, long count) = Dimensions(file, what, tensor);
        int itemSize = tensor.DataType == OnnxElement.Int64 ? 8 : 4;
        ReadOnlySpan<byte> raw = tensor.RawData.Span;
        if (!tensor.RawData.IsEmpty)
        {
            if (tensor.FloatData.Count + tensor.Int32Data.Count + tensor.Int64Data.Count > 0)
                throw new MalformedFileException(file, $"{what} has both raw_data and {(tensor.DataType == OnnxElement.Float ? "float_data" : "typed data")}");
            if (raw.Length != count * itemSize)
                throw new MalformedFileException(file, $"{what} has {raw.Length} bytes of raw_data; shape {FloatTensor.FormatShape(shape)} needs {count * itemSize}");
        }

        switch (tensor.DataType)
        {
            case OnnxElement.Float:
                if (!raw.IsEmpty) return ProbeArray.Float(shape, LittleEndianArrays.Float32(raw));
                RequireCount(file, what, shape, count, tensor.FloatData.Count);
                return ProbeArray.Float(shape, [.. tensor.FloatData]);
            case OnnxElement.Int32:
                if (!raw.IsEmpty) return ProbeArray.Integer(shape, LittleEndianArrays.Decode(raw, 4, bytes => (long)BinaryPrimitives.ReadInt32LittleEndian(bytes)), OnnxElement.Int32);
                RequireCount(file, what, shape, count, tensor.Int32Data.Count);
                return ProbeArray.Integer(shape, [.. tensor.Int32Data.Select(v => (long)v)], OnnxElement.Int32);
            default:
                if (!raw.IsEmpty) return ProbeArray.Integer(shape, LittleEndianArrays.Decode(raw, 8, BinaryPrimitives.ReadInt64LittleEndian));
                RequireCount(file, what, shape, count, tensor.Int64Data.Count);
                return ProbeArray.Integer(shape, [.. tensor.Int64Data]);
        }
    }

    private static void RequireCount(string file, string what, int[] shape, long count, int actual)
    {
        if (actual != count) throw new MalformedFileException(file, $"{what} has {actual} values; shape {FloatTensor.FormatShape(shape)} needs {count}");
    }

    /// <summary>The dimensions of a tensor as ints, and its element count, checked.</summary>
    private static (int[] Shape, long Count) Dimensions(string file, string what, TensorProto tensor)
    {
        var shape = new int[tensor.Dims.Count];
        for (int i = 0; i < shape.Length; i++)
        {
            if (tensor.Dims[i] is < 0 or > int.MaxValue) throw new MalformedFileException(file, $"{what} has dimension {i} of {tensor.Dims[i]}");
            shape[i] = (int)tensor.Dims[i];
        }

        if (!TensorSizes.TryByteSize(shape, 1, out long count) || count > Array.MaxLength)
            throw new MalformedFileException(file, $"{what} has shape {FloatTensor.FormatShape(shape)}: more elements than an array holds");
        return (shape, count);
    }
}
