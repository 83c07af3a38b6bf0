using System.Numerics;
using System.Runtime.InteropServices;

namespace FusedRnn.Backends;

/// <summary>The one NaN every backend writes into an output, whichever NaN its arithmetic produced.</summary>
internal static class NonFinite
{
    /// <summary>The positive quiet NaN (0x7FC00000), NumPy's <c>np.float32("nan")</c>; the native library writes the same.</summary>
    public static readonly float CanonicalNaN = BitConverter.Int32BitsToSingle(0x7FC00000);

    /// <summary>Replaces every NaN of <paramref name="values"/> by <see cref="CanonicalNaN"/>.</summary>
    public static void CanonicalizeNaN(Span<float> values)
    {
        Span<Vector<float>> vectors = MemoryMarshal.Cast<float, Vector<float>>(values);
        var nan = new Vector<float>(CanonicalNaN);
        for (int i = 0; i < vectors.Length; i++)
        {
            Vector<float> value = vectors[i];
            vectors[i] = Vector.ConditionalSelect(Vector.Equals(value, value), value, nan);
        }

        for (int i = vectors.Length * Vector<float>.Count; i < values.Length; i++)
        {
            if (float.IsNaN(values[i])) values[i] = CanonicalNaN;
        }
    }
}
