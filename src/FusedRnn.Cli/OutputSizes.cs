namespace FusedRnn.Cli;

/// <summary>
/// The outputs a sequence forward pass allocates for an input, with PyTorch's shapes, counted in checked 64-bit
/// arithmetic so that a size beyond what a .NET array holds is reported, not overflowed.
/// </summary>
internal sealed record OutputSizes(IReadOnlyList<(string Name, long[] Shape, long Elements)> Outputs)
{
    /// <summary>The sizes for x of <paramref name="inputShape"/>, or null for a rank Forward rejects with its own message.</summary>
    public static OutputSizes? Plan(RnnSpec spec, bool batchFirst, ReadOnlySpan<int> inputShape)
    {
        if (spec.OutputShapes(inputShape, batchFirst) is not { } shapes) return null;
        return Of([("y", shapes.Output), ("h_n", shapes.HiddenState), .. shapes.CellState is { } cell ? [("c_n", cell)] : Array.Empty<(string, int[])>()]);
    }

    /// <summary>The sizes of the named outputs of the given shapes.</summary>
    public static OutputSizes Of(IEnumerable<(string Name, int[] Shape)> outputs) => new([.. outputs.Select(output =>
    {
        long[] dimensions = [.. output.Shape.Select(dimension => (long)dimension)];
        return (output.Name, dimensions, Count(dimensions));
    })]);

    /// <summary>The product of the dimensions; <see cref="long.MaxValue"/> for one that does not fit (no real request reaches it).</summary>
    static long Count(long[] shape)
    {
        try
        {
            return shape.Aggregate(1L, (count, dimension) => checked(count * dimension));
        }
        catch (OverflowException)
        {
            return long.MaxValue;
        }
    }

    static long BytesOf(long elements) => elements > long.MaxValue / sizeof(float) ? long.MaxValue : elements * sizeof(float);

    /// <summary>Bytes of float32 the outputs need together.</summary>
    public long TotalBytes => Outputs.Aggregate(0L, (total, output) => total > long.MaxValue - BytesOf(output.Elements) ? long.MaxValue : total + BytesOf(output.Elements));

    /// <exception cref="CliException">An output holds more elements than a .NET array (<see cref="ExitCodes.OutOfMemory"/>).</exception>
    public void RejectTooLarge()
    {
        foreach ((string name, long[] shape, long elements) in Outputs)
        {
            if (elements > Array.MaxLength)
                throw new CliException($"the output {name} {Format(shape)} would hold {elements} floats ({CliText.Bytes(BytesOf(elements))}), " +
                    $"more than the {Array.MaxLength} elements a .NET array holds; run shorter sequences or smaller batches", ExitCodes.OutOfMemory);
        }
    }

    /// <summary>E.g. <c>the outputs need y [100, 32, 512] = 1638400 floats (6553600 bytes (6.3 MiB)), ...; 6.5 MiB in all</c>.</summary>
    public override string ToString() =>
        "the outputs need " + string.Join(", ", Outputs.Select(output => $"{output.Name} {Format(output.Shape)} = {output.Elements} floats ({CliText.Bytes(BytesOf(output.Elements))})")) +
        $", {CliText.Bytes(TotalBytes)} in all";

    static string Format(long[] shape) => $"[{string.Join(", ", shape)}]";
}
