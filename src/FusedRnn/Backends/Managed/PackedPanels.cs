namespace FusedRnn.Backends.Managed;

/// <summary>
/// A gate-stacked weight matrix <c>W [gates·units, k]</c> (PyTorch layout) transposed into panels one vector wide:
/// panel <c>block·gates + gate</c> holds, for every k, the weights of units <c>[block·width, block·width + width)</c>
/// of that gate, contiguous. A kernel streams a panel front to back, and the panels of one block of hidden units are
/// adjacent, so a recurrent step computes all gates of a block together. Units past the end are zero.
/// </summary>
internal sealed class PackedPanels
{
    private PackedPanels(float[] data, int depth, int width, int panelCount)
    {
        Data = data;
        Depth = depth;
        Width = width;
        PanelCount = panelCount;
    }

    /// <summary>The panels, one after another.</summary>
    public float[] Data { get; }

    /// <summary>k: the length of the dot products (columns of W).</summary>
    public int Depth { get; }

    /// <summary>Lanes per panel (the vector width).</summary>
    public int Width { get; }

    /// <summary>blocks × gates.</summary>
    public int PanelCount { get; }

    /// <summary>Floats from one panel to the next.</summary>
    public int PanelSize => Depth * Width;

    public static PackedPanels Pack(ReadOnlySpan<float> weights, int gates, int units, int depth, int width)
    {
        int blocks = BlockCount(units, width);
        // Padding units to whole vectors can take a matrix that fits an array past the limit.
        long size = (long)blocks * gates * depth * width;
        if (size > Array.MaxLength)
            throw new ArgumentOutOfRangeException(nameof(weights), size,
                $"packed for {width}-lane vectors the weights need {size} floats, more than an array holds ({Array.MaxLength})");
        var data = new float[size];
        for (int block = 0; block < blocks; block++)
        {
            for (int gate = 0; gate < gates; gate++)
            {
                Span<float> panel = data.AsSpan((block * gates + gate) * depth * width, depth * width);
                int lanes = Math.Min(width, units - block * width);
                for (int lane = 0; lane < lanes; lane++)
                {
                    ReadOnlySpan<float> row = weights.Slice(((gate * units) + (block * width) + lane) * depth, depth);
                    for (int k = 0; k < depth; k++) panel[k * width + lane] = row[k];
                }
            }
        }

        return new PackedPanels(data, depth, width, blocks * gates);
    }

    /// <summary>A gate-stacked vector <c>[gates·units]</c> in the panels' order <c>[block][gate][lane]</c>, zero padded.</summary>
    public static double[] PackVector(ReadOnlySpan<float> vector, int gates, int units, int width)
    {
        int blocks = BlockCount(units, width);
        var packed = new double[blocks * gates * width];
        for (int gate = 0; gate < gates; gate++)
        {
            for (int unit = 0; unit < units; unit++)
                packed[((unit / width) * gates + gate) * width + unit % width] = vector[gate * units + unit];
        }

        return packed;
    }

    public static int BlockCount(int units, int width) => (units + width - 1) / width;
}
