using System.Numerics;

namespace FusedRnn.Backends.Managed;

/// <summary>
/// A gate-stacked weight matrix <c>W [gates·units, depth]</c> (PyTorch layout) in the native library's layout
/// (native/src/common/weight_packing.h): units in blocks of W (the vector width), each block a panel stored k-major
/// <c>[depth][gates][W]</c> — element (gate g, unit j·W + l, column k) at <c>((j·depth + k)·gates + g)·W + l</c>. A
/// kernel then reads, per k, the gates·W weights of a block from one contiguous run, and a block's gates come out of
/// one tile together. Units past the end are zero.
/// </summary>
internal sealed class PackedPanels
{
    private PackedPanels(float[] data, int depth, int gates, int width, int panelCount)
    {
        Data = data;
        Depth = depth;
        Gates = gates;
        Width = width;
        PanelCount = panelCount;
    }

    /// <summary>The panels, one after another.</summary>
    public float[] Data { get; }

    /// <summary>k: the length of the dot products (columns of W).</summary>
    public int Depth { get; }

    /// <summary>Weight vectors per k in a panel.</summary>
    public int Gates { get; }

    /// <summary>Units per block (the vector width).</summary>
    public int Width { get; }

    /// <summary>Unit blocks.</summary>
    public int PanelCount { get; }

    /// <summary>Floats from one panel to the next.</summary>
    public int PanelSize => Depth * Gates * Width;

    public static PackedPanels Pack(ReadOnlySpan<float> weights, int gates, int units, int depth, int width)
    {
        int blocks = BlockCount(units, width);
        // Padding units to whole vectors can take a matrix that fits an array past the limit.
        long size = (long)blocks * gates * depth * width;
        if (size > Array.MaxLength)
            throw new ArgumentOutOfRangeException(nameof(weights), size,
                $"packed for {width}-lane vectors the weights need {size} floats, more than an array holds ({Array.MaxLength})");
        var data = new float[size];
        for (int gate = 0; gate < gates; gate++)
        {
            for (int unit = 0; unit < units; unit++)
            {
                ReadOnlySpan<float> row = weights.Slice(((gate * units) + unit) * depth, depth);
                int first = (unit / width * depth * gates + gate) * width + unit % width;
                for (int k = 0; k < depth; k++) data[first + (k * gates * width)] = row[k];
            }
        }

        return new PackedPanels(data, depth, gates, width, blocks);
    }

    /// <summary>A gate-stacked vector <c>[gates·units]</c> in the panels' column order <c>[block][gate][lane]</c>, zero padded.</summary>
    public static T[] PackVector<T>(ReadOnlySpan<float> vector, int gates, int units, int width)
        where T : INumberBase<T>
    {
        var packed = new T[BlockCount(units, width) * gates * width];
        for (int gate = 0; gate < gates; gate++)
        {
            for (int unit = 0; unit < units; unit++)
                packed[ColumnOf(gate, unit, gates, width)] = T.CreateTruncating(vector[gate * units + unit]);
        }

        return packed;
    }

    /// <summary>Where gate <paramref name="gate"/> of unit <paramref name="unit"/> is among a packed row's columns.</summary>
    public static int ColumnOf(int gate, int unit, int gates, int width) => ((unit / width * gates) + gate) * width + unit % width;

    public static int BlockCount(int units, int width) => (units + width - 1) / width;
}
