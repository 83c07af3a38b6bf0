using System.Runtime.CompilerServices;

namespace FusedRnn.Backends.Managed;

/// <summary>
/// <c>C = A · panels</c> in double: rows of A (row-major, any stride) times a run of packed float32 panels (widened as
/// they are loaded), one output vector per (row, panel). Both the input projection of a whole sequence and the
/// recurrent product of one step go through here.
/// <para>
/// Every output is summed in one fixed order whatever tile computes it: even k in one chain, odd k in another, the
/// two added at the end. Two chains per output hide the FMA latency in the single-row tiles, and the fixed order
/// makes a result independent of how rows and panels are split into tiles or between threads (bit-exact).
/// </para>
/// <para>
/// The kernels are AggressiveOptimization: compiled fully optimized at first call instead of tier 0, then OSR,
/// then tier 1 while a caller is already timing them — that recompilation was the ~100 µs p99 of <c>fusedrnn demo</c>
/// (15 µs with tiered compilation off).
/// </para>
/// </summary>
internal static class PanelGemm<TSimd, TVec>
    where TSimd : ISimd<TVec>
    where TVec : struct
{
    /// <param name="a">First element of row 0 of A.</param>
    /// <param name="aStride">Doubles between rows of A.</param>
    /// <param name="rows">Rows of A.</param>
    /// <param name="depth">Columns of A used (the panels' depth).</param>
    /// <param name="panel">First float of the first panel.</param>
    /// <param name="panelSize">Floats between panels.</param>
    /// <param name="panels">Number of panels.</param>
    /// <param name="c">Row 0, vector 0 of the output; panel p of row r lands at <c>r·cStride + p·width</c>.</param>
    /// <param name="cStride">Doubles between output rows.</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
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

    /// <summary>Four rows, two panels: sixteen chains, each weight load shared by four rows.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile4x2(ref double a, nint aStride, int depth, ref float w0, nint panelSize, ref double c, nint cStride)
    {
        nint width = TSimd.Count;
        ref float w1 = ref Unsafe.Add(ref w0, panelSize);
        ref double a1 = ref Unsafe.Add(ref a, aStride);
        ref double a2 = ref Unsafe.Add(ref a, 2 * aStride);
        ref double a3 = ref Unsafe.Add(ref a, 3 * aStride);
        TVec e00 = TSimd.Zero, e01 = TSimd.Zero, e10 = TSimd.Zero, e11 = TSimd.Zero;
        TVec e20 = TSimd.Zero, e21 = TSimd.Zero, e30 = TSimd.Zero, e31 = TSimd.Zero;
        TVec o00 = TSimd.Zero, o01 = TSimd.Zero, o10 = TSimd.Zero, o11 = TSimd.Zero;
        TVec o20 = TSimd.Zero, o21 = TSimd.Zero, o30 = TSimd.Zero, o31 = TSimd.Zero;
        nint k = 0;
        for (; k + 2 <= depth; k += 2)
        {
            nint even = k * width, odd = even + width;
            TVec b0 = TSimd.LoadWidened(ref Unsafe.Add(ref w0, even));
            TVec b1 = TSimd.LoadWidened(ref Unsafe.Add(ref w1, even));
            Accumulate4x2(ref a, ref a1, ref a2, ref a3, k, b0, b1, ref e00, ref e01, ref e10, ref e11, ref e20, ref e21, ref e30, ref e31);
            b0 = TSimd.LoadWidened(ref Unsafe.Add(ref w0, odd));
            b1 = TSimd.LoadWidened(ref Unsafe.Add(ref w1, odd));
            Accumulate4x2(ref a, ref a1, ref a2, ref a3, k + 1, b0, b1, ref o00, ref o01, ref o10, ref o11, ref o20, ref o21, ref o30, ref o31);
        }

        if (k < depth)
        {
            nint last = k * width;
            Accumulate4x2(ref a, ref a1, ref a2, ref a3, k, TSimd.LoadWidened(ref Unsafe.Add(ref w0, last)), TSimd.LoadWidened(ref Unsafe.Add(ref w1, last)),
                ref e00, ref e01, ref e10, ref e11, ref e20, ref e21, ref e30, ref e31);
        }

        TSimd.Store(TSimd.Add(e00, o00), ref c);
        TSimd.Store(TSimd.Add(e01, o01), ref Unsafe.Add(ref c, width));
        TSimd.Store(TSimd.Add(e10, o10), ref Unsafe.Add(ref c, cStride));
        TSimd.Store(TSimd.Add(e11, o11), ref Unsafe.Add(ref c, cStride + width));
        TSimd.Store(TSimd.Add(e20, o20), ref Unsafe.Add(ref c, 2 * cStride));
        TSimd.Store(TSimd.Add(e21, o21), ref Unsafe.Add(ref c, 2 * cStride + width));
        TSimd.Store(TSimd.Add(e30, o30), ref Unsafe.Add(ref c, 3 * cStride));
        TSimd.Store(TSimd.Add(e31, o31), ref Unsafe.Add(ref c, 3 * cStride + width));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Accumulate4x2(
        ref double a0, ref double a1, ref double a2, ref double a3, nint k, TVec b0, TVec b1,
        ref TVec c00, ref TVec c01, ref TVec c10, ref TVec c11, ref TVec c20, ref TVec c21, ref TVec c30, ref TVec c31)
    {
        TVec x = TSimd.Broadcast(Unsafe.Add(ref a0, k));
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

    /// <summary>Four rows, one panel (an odd panel count's last).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile4x1(ref double a, nint aStride, int depth, ref float w0, ref double c, nint cStride)
    {
        nint width = TSimd.Count;
        ref double a1 = ref Unsafe.Add(ref a, aStride);
        ref double a2 = ref Unsafe.Add(ref a, 2 * aStride);
        ref double a3 = ref Unsafe.Add(ref a, 3 * aStride);
        TVec e0 = TSimd.Zero, e1 = TSimd.Zero, e2 = TSimd.Zero, e3 = TSimd.Zero;
        TVec o0 = TSimd.Zero, o1 = TSimd.Zero, o2 = TSimd.Zero, o3 = TSimd.Zero;
        nint k = 0;
        for (; k + 2 <= depth; k += 2)
        {
            Accumulate4x1(ref a, ref a1, ref a2, ref a3, k, TSimd.LoadWidened(ref Unsafe.Add(ref w0, k * width)), ref e0, ref e1, ref e2, ref e3);
            Accumulate4x1(ref a, ref a1, ref a2, ref a3, k + 1, TSimd.LoadWidened(ref Unsafe.Add(ref w0, (k + 1) * width)), ref o0, ref o1, ref o2, ref o3);
        }

        if (k < depth)
            Accumulate4x1(ref a, ref a1, ref a2, ref a3, k, TSimd.LoadWidened(ref Unsafe.Add(ref w0, k * width)), ref e0, ref e1, ref e2, ref e3);

        TSimd.Store(TSimd.Add(e0, o0), ref c);
        TSimd.Store(TSimd.Add(e1, o1), ref Unsafe.Add(ref c, cStride));
        TSimd.Store(TSimd.Add(e2, o2), ref Unsafe.Add(ref c, 2 * cStride));
        TSimd.Store(TSimd.Add(e3, o3), ref Unsafe.Add(ref c, 3 * cStride));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Accumulate4x1(ref double a0, ref double a1, ref double a2, ref double a3, nint k, TVec b, ref TVec c0, ref TVec c1, ref TVec c2, ref TVec c3)
    {
        c0 = TSimd.MultiplyAdd(TSimd.Broadcast(Unsafe.Add(ref a0, k)), b, c0);
        c1 = TSimd.MultiplyAdd(TSimd.Broadcast(Unsafe.Add(ref a1, k)), b, c1);
        c2 = TSimd.MultiplyAdd(TSimd.Broadcast(Unsafe.Add(ref a2, k)), b, c2);
        c3 = TSimd.MultiplyAdd(TSimd.Broadcast(Unsafe.Add(ref a3, k)), b, c3);
    }

    /// <summary>One row, four panels: eight chains, enough to keep both FMA pipes busy (the B = 1 recurrent step).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
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
            nint even = k * width;
            Accumulate1x4(Unsafe.Add(ref a, k), ref Unsafe.Add(ref w0, even), ref Unsafe.Add(ref w1, even), ref Unsafe.Add(ref w2, even), ref Unsafe.Add(ref w3, even), ref e0, ref e1, ref e2, ref e3);
            nint odd = even + width;
            Accumulate1x4(Unsafe.Add(ref a, k + 1), ref Unsafe.Add(ref w0, odd), ref Unsafe.Add(ref w1, odd), ref Unsafe.Add(ref w2, odd), ref Unsafe.Add(ref w3, odd), ref o0, ref o1, ref o2, ref o3);
        }

        if (k < depth)
        {
            nint last = k * width;
            Accumulate1x4(Unsafe.Add(ref a, k), ref Unsafe.Add(ref w0, last), ref Unsafe.Add(ref w1, last), ref Unsafe.Add(ref w2, last), ref Unsafe.Add(ref w3, last), ref e0, ref e1, ref e2, ref e3);
        }

        TSimd.Store(TSimd.Add(e0, o0), ref c);
        TSimd.Store(TSimd.Add(e1, o1), ref Unsafe.Add(ref c, width));
        TSimd.Store(TSimd.Add(e2, o2), ref Unsafe.Add(ref c, 2 * width));
        TSimd.Store(TSimd.Add(e3, o3), ref Unsafe.Add(ref c, 3 * width));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Accumulate1x4(double a, ref float w0, ref float w1, ref float w2, ref float w3, ref TVec c0, ref TVec c1, ref TVec c2, ref TVec c3)
    {
        TVec x = TSimd.Broadcast(a);
        c0 = TSimd.MultiplyAdd(x, TSimd.LoadWidened(ref w0), c0);
        c1 = TSimd.MultiplyAdd(x, TSimd.LoadWidened(ref w1), c1);
        c2 = TSimd.MultiplyAdd(x, TSimd.LoadWidened(ref w2), c2);
        c3 = TSimd.MultiplyAdd(x, TSimd.LoadWidened(ref w3), c3);
    }

    /// <summary>One row, one panel: what is left of a panel run after the four-panel tiles.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile1x1(ref double a, int depth, ref float w0, ref double c)
    {
        nint width = TSimd.Count;
        TVec even = TSimd.Zero, odd = TSimd.Zero;
        nint k = 0;
        for (; k + 2 <= depth; k += 2)
        {
            even = TSimd.MultiplyAdd(TSimd.Broadcast(Unsafe.Add(ref a, k)), TSimd.LoadWidened(ref Unsafe.Add(ref w0, k * width)), even);
            odd = TSimd.MultiplyAdd(TSimd.Broadcast(Unsafe.Add(ref a, k + 1)), TSimd.LoadWidened(ref Unsafe.Add(ref w0, (k + 1) * width)), odd);
        }

        if (k < depth)
            even = TSimd.MultiplyAdd(TSimd.Broadcast(Unsafe.Add(ref a, k)), TSimd.LoadWidened(ref Unsafe.Add(ref w0, k * width)), even);

        TSimd.Store(TSimd.Add(even, odd), ref c);
    }
}
