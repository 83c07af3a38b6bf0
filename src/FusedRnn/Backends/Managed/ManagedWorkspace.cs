namespace FusedRnn.Backends.Managed;

/// <summary>Grow-only scratch arrays of the managed kernels (double: see <see cref="ISimd{TVec}"/>); sized by the largest call seen.</summary>
internal sealed class ManagedWorkspace(RnnExecutor owner) : RnnWorkspace(owner)
{
    /// <summary>The first layer's input, widened to double.</summary>
    public double[] Input = [];

    /// <summary>Input projection of every time step of one (layer, direction): <c>[T·B, blocks·gates·width]</c>.</summary>
    public double[] Projection = [];

    /// <summary>Outputs of the two most recent hidden layers, <c>[T, B, D·Hout]</c> each.</summary>
    public double[] LayerOutputA = [], LayerOutputB = [];

    /// <summary>h of every batch row in length order (current and next step), rows padded to whole vectors.</summary>
    public double[] Hidden = [], HiddenNext = [];

    /// <summary>c of every batch row in length order.</summary>
    public double[] Cell = [];

    /// <summary>Unprojected LSTM output of a row group, before <c>W_hr</c>.</summary>
    public double[] Unprojected = [];

    /// <summary>Recurrent products of one block of hidden units for a row group: <c>[rows][gates·width]</c>.</summary>
    public double[] GateTile = [];

    /// <summary>Batch rows sorted by length, longest first, so the rows still running are always a prefix.</summary>
    public int[] RowOrder = [];

    /// <summary>Length of each row of <see cref="RowOrder"/>.</summary>
    public int[] SortedLengths = [];

    public static void Grow(ref double[] buffer, int length)
    {
        if (buffer.Length < length) buffer = new double[length];
    }

    public static void Grow(ref int[] buffer, int length)
    {
        if (buffer.Length < length) buffer = new int[length];
    }
}
