using System.Runtime.InteropServices;

namespace FusedRnn;

/// <summary>
/// A dense row-major float32 tensor: a view of caller memory plus a shape. Wrapping memory never copies it, so an
/// array produced elsewhere can be passed in as is.
/// </summary>
public sealed class FloatTensor
{
    private readonly int[] _shape;

    /// <summary>Wraps <paramref name="data"/> (not copied) with the given shape.</summary>
    /// <exception cref="ArgumentException">The shape has a negative dimension or does not match the data length.</exception>
    public FloatTensor(Memory<float> data, params int[] shape)
    {
        ArgumentNullException.ThrowIfNull(shape);
        long count = ElementCount(shape);
        if (count != data.Length)
            throw new ArgumentException($"shape {FormatShape(shape)} holds {count} elements but the data has {data.Length}", nameof(data));
        Memory = data;
        _shape = (int[])shape.Clone();
    }

    /// <summary>
    /// Wraps read-only <paramref name="data"/> (not copied) as an input: the library never writes into a tensor
    /// passed as x, h0 or c0, so memory the caller cannot write (a memory-mapped file, a string of constants) is
    /// accepted as is. Do not use the result as an output.
    /// </summary>
    public FloatTensor(ReadOnlyMemory<float> data, params int[] shape)
        : this(MemoryMarshal.AsMemory(data), shape)
    {
    }

    /// <summary>Wraps <paramref name="data"/> (not copied) with the given shape.</summary>
    public FloatTensor(float[] data, params int[] shape)
        : this(new Memory<float>(data ?? throw new ArgumentNullException(nameof(data))), shape)
    {
    }

    /// <summary>A new tensor of zeros.</summary>
    /// <exception cref="ArgumentException">The shape has a negative dimension.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The shape holds more elements than an array can
    /// (<see cref="Array.MaxLength"/>).</exception>
    public static FloatTensor Zeros(params int[] shape)
    {
        ArgumentNullException.ThrowIfNull(shape);
        return new(new float[CheckedArrayLength(shape, nameof(shape))], shape);
    }

    /// <summary>The elements, row-major.</summary>
    public Memory<float> Memory { get; }

    /// <summary>The elements as a span.</summary>
    public Span<float> Span => Memory.Span;

    /// <summary>The dimensions.</summary>
    public ReadOnlySpan<int> Shape => _shape;

    /// <summary>Number of dimensions.</summary>
    public int Rank => _shape.Length;

    /// <summary>Number of elements.</summary>
    public int Length => Memory.Length;

    /// <summary>Size of dimension <paramref name="axis"/>.</summary>
    public int Dim(int axis) => _shape[axis];

    /// <summary>The element at a full index.</summary>
    public float this[params int[] index]
    {
        get => Span[Offset(index)];
        set => Span[Offset(index)] = value;
    }

    /// <summary>A copy of the elements.</summary>
    public float[] ToArray() => Memory.ToArray();

    /// <summary>Whether the shape equals <paramref name="dims"/>.</summary>
    public bool HasShape(params int[] dims) => _shape.AsSpan().SequenceEqual(dims);

    /// <inheritdoc />
    public override string ToString() => $"FloatTensor{FormatShape(_shape)}";

    /// <summary>Formats a shape as PyTorch prints it, e.g. <c>[2, 3, 4]</c>.</summary>
    public static string FormatShape(ReadOnlySpan<int> shape) => "[" + string.Join(", ", shape.ToArray()) + "]";

    /// <summary>
    /// The number of elements of <paramref name="shape"/>, saturating at <see cref="long.MaxValue"/>: no product of
    /// dimensions can overflow, and a saturated count is larger than any buffer.
    /// </summary>
    internal static long ElementCount(ReadOnlySpan<int> shape)
    {
        long count = 1;
        foreach (int dim in shape)
        {
            if (dim < 0) throw new ArgumentException($"shape {FormatShape(shape)} has a negative dimension", nameof(shape));
            if (dim != 0 && count > long.MaxValue / dim) count = long.MaxValue;
            else count *= dim;
        }

        return count;
    }

    /// <summary>The element count of <paramref name="shape"/> as an array length, or a typed error naming it.</summary>
    internal static int CheckedArrayLength(ReadOnlySpan<int> shape, string paramName)
    {
        long count = ElementCount(shape);
        if (count > Array.MaxLength)
            throw new ArgumentOutOfRangeException(paramName, count,
                $"shape {FormatShape(shape)} holds {FormatCount(count)} elements; a float array holds at most {Array.MaxLength}");
        return (int)count;
    }

    /// <summary>An element count as a message shows it; a saturated one (see <see cref="ElementCount"/>) as "over 2^63".</summary>
    internal static string FormatCount(long count) => count == long.MaxValue ? "over 2^63" : count.ToString(System.Globalization.CultureInfo.InvariantCulture);

    private int Offset(int[] index)
    {
        if (index.Length != _shape.Length)
            throw new ArgumentException($"index has {index.Length} dimensions, tensor has {_shape.Length}", nameof(index));
        int offset = 0;
        for (int axis = 0; axis < index.Length; axis++)
        {
            if ((uint)index[axis] >= (uint)_shape[axis])
                throw new IndexOutOfRangeException($"index {index[axis]} is outside dimension {axis} of size {_shape[axis]}");
            offset = offset * _shape[axis] + index[axis];
        }

        return offset;
    }
}
