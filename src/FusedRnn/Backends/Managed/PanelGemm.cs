using System.Runtime.CompilerServices;

namespace FusedRnn.Backends.Managed;

/// <summary>
/// <c>C = A · panels</c> in double: rows of A (row-major, any stride) times a run of packed float32 panels (widened as
/// they are loaded), one output vector per
/// (row, panel). Register-blocked: four rows share every weight load; a single row keeps eight accumulators in
/// flight so the FMA latency is hidden. Both the input projection of a whole sequence and the recurrent product of
/// one step go through here.
/// </summary>
internal static class PanelGemm<TSimd, TVec>
    where TSimd : ISimd<TVec>
    where TVec : struct
{
    /// <param name="a">First element of row 0 of A.</param>
    /// <param name="aStride">Floats between rows of A.</param>
    /// <param name="rows">Rows of A.</param>
    /// <param name="depth">Columns of A used (the panels' depth).</param>
    /// <param name="panel">First float of the first panel.</param>
    /// <param name="panelSize">Floats between panels.</param>
    /// <param name="panels">Number of panels.</param>
    /// <param name="c">Row 0, vector 0 of the output; panel p of row r lands at <c>r·cStride + p·width</c>.</param>
    /// <param name="cStride">Floats between output rows.</param>
    public static void Multiply(ref double a, nint aStride, int rows, int depth, ref float panel, nint panelSize, int panels, ref double c, nint cStride)
    {
        nint width = TSimd.Count;
        int fullRows = rows & ~3;
        // Panels outer, rows inner: a panel (depth × width floats) stays in L1 while every row block uses it.
        int p = 0;
        for (; p + 2 <= panels; p += 2)
        {
            for (int r = 0; r < fullRows; r += 4)
                Tile4x2(ref Unsafe.Add(ref a, r * aStride), aStride, depth, ref Unsafe.Add(ref panel, p * panelSize), panelSize, ref Unsafe.Add(ref c, r * cStride + p * width), cStride);
        }

        if (p < panels)
        {
            for (int r = 0; r < fullRows; r += 4)
                Tile4x1(ref Unsafe.Add(ref a, r * aStride), aStride, depth, ref Unsafe.Add(ref panel, p * panelSize), ref Unsafe.Add(ref c, r * cStride + p * width), cStride);
        }

        for (int r = fullRows; r < rows; r++)
        {
            ref double row = ref Unsafe.Add(ref a, r * aStride);
            ref double output = ref Unsafe.Add(ref c, r * cStride);
            int q = 0;
            for (; q + 4 <= panels; q += 4)
                Tile1x4(ref row, depth, ref Unsafe.Add(ref panel, q * panelSize), panelSize, ref Unsafe.Add(ref output, q * width));
            for (; q < panels; q++)
                Tile1x1(ref row, depth, ref Unsafe.Add(ref panel, q * panelSize), ref Unsafe.Add(ref output, q * width));
        }
    }

    private static void Tile4x2(ref double a, nint aStride, int depth, ref float w0, nint panelSize, ref double c, nint cStride)
    {
        nint width = TSimd.Count;
        ref float w1 = ref Unsafe.Add(ref w0, panelSize);
        ref double a1 = ref Unsafe.Add(ref a, aStride);
        ref double a2 = ref Unsafe.Add(ref a, 2 * aStride);
        ref double a3 = ref Unsafe.Add(ref a, 3 * aStride);
        TVec c00 = TSimd.Zero, c01 = TSimd.Zero, c10 = TSimd.Zero, c11 = TSimd.Zero;
        TVec c20 = TSimd.Zero, c21 = TSimd.Zero, c30 = TSimd.Zero, c31 = TSimd.Zero;
        for (nint k = 0; k < depth; k++)
        {
            TVec b0 = TSimd.LoadWidened(ref Unsafe.Add(ref w0, k * width));
            TVec b1 = TSimd.LoadWidened(ref Unsafe.Add(ref w1, k * width));
            TVec x = TSimd.Broadcast(Unsafe.Add(ref a, k));
            c00 = TSimd.MultiplyAdd(x, b0, c00);
            c01 = TSimd.MultiplyAdd(x, b1, c01);
            x = TSimd.Broadcast(Unsafe.Add(ref a1, k));
            c10 = TSimd.MultiplyAdd(x, b0, c10);
            c11 = TSimd.MultiplyAdd(x, b1, c11);
            x = TSimd.Broadcast(Unsafe.Add(ref a2, k));
            c20 = TSimd.MultiplyAdd(x, b0, c20);
            c21 = TSimd.MultiplyAdd(x, b1, c21);
            x = TSimd.Broadcast(Unsafe.Add(ref a3, k));
            c30 = TSimd.MultiplyAdd(x, b0, c30);
            c31 = TSimd.MultiplyAdd(x, b1, c31);
        }

        TSimd.Store(c00, ref c);
        TSimd.Store(c01, ref Unsafe.Add(ref c, width));
        TSimd.Store(c10, ref Unsafe.Add(ref c, cStride));
        TSimd.Store(c11, ref Unsafe.Add(ref c, cStride + width));
        TSimd.Store(c20, ref Unsafe.Add(ref c, 2 * cStride));
        TSimd.Store(c21, ref Unsafe.Add(ref c, 2 * cStride + width));
        TSimd.Store(c30, ref Unsafe.Add(ref c, 3 * cStride));
        TSimd.Store(c31, ref Unsafe.Add(ref c, 3 * cStride + width));
    }

    private static void Tile4x1(ref double a, nint aStride, int depth, ref float w0, ref double c, nint cStride)
    {
        nint width = TSimd.Count;
        ref double a1 = ref Unsafe.Add(ref a, aStride);
        ref double a2 = ref Unsafe.Add(ref a, 2 * aStride);
        ref double a3 = ref Unsafe.Add(ref a, 3 * aStride);
        TVec c0 = TSimd.Zero, c1 = TSimd.Zero, c2 = TSimd.Zero, c3 = TSimd.Zero;
        for (nint k = 0; k < depth; k++)
        {
            TVec b0 = TSimd.LoadWidened(ref Unsafe.Add(ref w0, k * width));
            c0 = TSimd.MultiplyAdd(TSimd.Broadcast(Unsafe.Add(ref a, k)), b0, c0);
            c1 = TSimd.MultiplyAdd(TSimd.Broadcast(Unsafe.Add(ref a1, k)), b0, c1);
            c2 = TSimd.MultiplyAdd(TSimd.Broadcast(Unsafe.Add(ref a2, k)), b0, c2);
            c3 = TSimd.MultiplyAdd(TSimd.Broadcast(Unsafe.Add(ref a3, k)), b0, c3);
        }

        TSimd.Store(c0, ref c);
        TSimd.Store(c1, ref Unsafe.Add(ref c, cStride));
        TSimd.Store(c2, ref Unsafe.Add(ref c, 2 * cStride));
        TSimd.Store(c3, ref Unsafe.Add(ref c, 3 * cStride));
    }

    /// <summary>One row, four panels; even and odd k accumulate separately (eight chains) to hide FMA latency.</summary>
    private static void Tile1x4(ref double a, int depth, ref float w0, nint panelSize, ref double c)
    {
        nint width = TSimd.Count;
        ref float w1 = ref Unsafe.Add(ref w0, panelSize);
        ref float w2 = ref Unsafe.Add(ref w0, 2 * panelSize);
        ref float w3 = ref Unsafe.Add(ref w0, 3 * panelSize);
        TVec e0 = TSimd.Zero, e1 = TSimd.Zero, e2 = TSimd.Zero, e3 = TSimd.Zero;
        TVec o0 = TSimd.Zero, o1 = TSimd.Zero, o2 = TSimd.Zero, o3 = TSimd.Zero;
        nint k = 0;
        for (; k + 2 <= depth; k += 2)
        {
            nint even = k * width, odd = even + width;
            TVec x = TSimd.Broadcast(Unsafe.Add(ref a, k));
            e0 = TSimd.MultiplyAdd(x, TSimd.LoadWidened(ref Unsafe.Add(ref w0, even)), e0);
            e1 = TSimd.MultiplyAdd(x, TSimd.LoadWidened(ref Unsafe.Add(ref w1, even)), e1);
            e2 = TSimd.MultiplyAdd(x, TSimd.LoadWidened(ref Unsafe.Add(ref w2, even)), e2);
            e3 = TSimd.MultiplyAdd(x, TSimd.LoadWidened(ref Unsafe.Add(ref w3, even)), e3);
            x = TSimd.Broadcast(Unsafe.Add(ref a, k + 1));
            o0 = TSimd.MultiplyAdd(x, TSimd.LoadWidened(ref Unsafe.Add(ref w0, odd)), o0);
            o1 = TSimd.MultiplyAdd(x, TSimd.LoadWidened(ref Unsafe.Add(ref w1, odd)), o1);
            o2 = TSimd.MultiplyAdd(x, TSimd.LoadWidened(ref Unsafe.Add(ref w2, odd)), o2);
            o3 = TSimd.MultiplyAdd(x, TSimd.LoadWidened(ref Unsafe.Add(ref w3, odd)), o3);
        }

        if (k < depth)
        {
            nint last = k * width;
            TVec x = TSimd.Broadcast(Unsafe.Add(ref a, k));
            e0 = TSimd.MultiplyAdd(x, TSimd.LoadWidened(ref Unsafe.Add(ref w0, last)), e0);
            e1 = TSimd.MultiplyAdd(x, TSimd.LoadWidened(ref Unsafe.Add(ref w1, last)), e1);
            e2 = TSimd.MultiplyAdd(x, TSimd.LoadWidened(ref Unsafe.Add(ref w2, last)), e2);
            e3 = TSimd.MultiplyAdd(x, TSimd.LoadWidened(ref Unsafe.Add(ref w3, last)), e3);
        }

        TSimd.Store(TSimd.Add(e0, o0), ref c);
        TSimd.Store(TSimd.Add(e1, o1), ref Unsafe.Add(ref c, width));
        TSimd.Store(TSimd.Add(e2, o2), ref Unsafe.Add(ref c, 2 * width));
        TSimd.Store(TSimd.Add(e3, o3), ref Unsafe.Add(ref c, 3 * width));
    }

    /// <summary>One row, one panel, four chains over k.</summary>
    private static void Tile1x1(ref double a, int depth, ref float w0, ref double c)
    {
        nint width = TSimd.Count;
        TVec s0 = TSimd.Zero, s1 = TSimd.Zero, s2 = TSimd.Zero, s3 = TSimd.Zero;
        nint k = 0;
        for (; k + 4 <= depth; k += 4)
        {
            s0 = TSimd.MultiplyAdd(TSimd.Broadcast(Unsafe.Add(ref a, k)), TSimd.LoadWidened(ref Unsafe.Add(ref w0, k * width)), s0);
            s1 = TSimd.MultiplyAdd(TSimd.Broadcast(Unsafe.Add(ref a, k + 1)), TSimd.LoadWidened(ref Unsafe.Add(ref w0, (k + 1) * width)), s1);
            s2 = TSimd.MultiplyAdd(TSimd.Broadcast(Unsafe.Add(ref a, k + 2)), TSimd.LoadWidened(ref Unsafe.Add(ref w0, (k + 2) * width)), s2);
            s3 = TSimd.MultiplyAdd(TSimd.Broadcast(Unsafe.Add(ref a, k + 3)), TSimd.LoadWidened(ref Unsafe.Add(ref w0, (k + 3) * width)), s3);
        }

        for (; k < depth; k++)
            s0 = TSimd.MultiplyAdd(TSimd.Broadcast(Unsafe.Add(ref a, k)), TSimd.LoadWidened(ref Unsafe.Add(ref w0, k * width)), s0);

        TSimd.Store(TSimd.Add(TSimd.Add(s0, s1), TSimd.Add(s2, s3)), ref c);
    }
}
