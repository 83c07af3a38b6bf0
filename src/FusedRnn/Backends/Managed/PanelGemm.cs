using System.Diagnostics;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace FusedRnn.Backends.Managed;

/// <summary>A tile dimension known to the JIT: tiles are generic over it, so each shape compiles to its own loop.</summary>
internal interface ITileCount
{
    static abstract int Value { get; }
}

internal readonly struct TileCount1 : ITileCount
{
    public static int Value => 1;
}

internal readonly struct TileCount2 : ITileCount
{
    public static int Value => 2;
}

internal readonly struct TileCount4 : ITileCount
{
    public static int Value => 4;
}

internal readonly struct TileCount8 : ITileCount
{
    public static int Value => 8;
}

/// <summary>
/// <c>C = A · panels (+ bias)</c>: rows of A (row-major, any stride) times a run of <see cref="PackedPanels"/> unit
/// blocks, one output vector per (row, block, gate), in the panels' column order <c>[block][gate][lane]</c>. Both the
/// input projection of a whole sequence and the recurrent product of one step go through here.
/// <para>
/// A register tile is R rows × B whole blocks: per k it broadcasts one element of each row and loads the G·B weight
/// vectors of its blocks — G·W contiguous floats per block — and each weight vector serves every row. Single rows
/// (a batch of one) take wide tiles, 2 blocks (8 vectors for LSTM, 6 for GRU) or 8 one-gate blocks, for enough
/// independent FMA chains; row groups take <see cref="ISimd{TVec, T}.TileRows"/> rows × 1 block (4 one-gate blocks).
/// </para>
/// <para>
/// Every output is one FMA chain over k in order, started from zero, whatever tile computes it; the bias is added
/// after. So a result does not depend on how rows and blocks are split into tiles or between threads (bit-exact).
/// </para>
/// <para>
/// The kernels are AggressiveOptimization: compiled fully optimized at first call instead of tier 0, then OSR,
/// then tier 1 while a caller is already timing them — that recompilation was the ~100 µs p99 of <c>fusedrnn demo</c>
/// (15 µs with tiered compilation off).
/// </para>
/// </summary>
internal static class PanelGemm<TSimd, TVec, T>
    where TSimd : ISimd<TVec, T>
    where TVec : struct
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    /// <summary>Rows of A the full product keeps in L2 (a quarter of a 1 MiB L2) while every panel streams past them.</summary>
    private const int RowBlockBytes = 256 * 1024;

    /// <summary>Blocks of a single-row tile.</summary>
    public static int RowTileBlocks<TGates>() where TGates : IGateCount => TGates.Gates == 1 ? 8 : 2;

    /// <summary>Blocks of a row-group tile.</summary>
    public static int GroupTileBlocks<TGates>() where TGates : IGateCount => TGates.Gates == 1 ? 4 : 1;

    /// <param name="a">First element of row 0 of A.</param>
    /// <param name="aStride">Elements between rows of A.</param>
    /// <param name="rows">Rows of A.</param>
    /// <param name="depth">Columns of A used (the panels' depth).</param>
    /// <param name="panels">First float of the first panel.</param>
    /// <param name="panelSize">Floats between panels.</param>
    /// <param name="blocks">Number of panels.</param>
    /// <param name="c">Row 0, column 0 of the output; gate g of block b of row r lands at <c>r·cStride + (b·G + g)·W</c>.</param>
    /// <param name="cStride">Elements between output rows.</param>
    /// <param name="bias">Added to every row, in the output's column order; a null reference for none.</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Multiply<TGates>(ref T a, nint aStride, int rows, int depth, ref float panels, nint panelSize, int blocks, ref T c, nint cStride, ref T bias)
        where TGates : IGateCount
    {
        int tileRows = TSimd.TileRows, groupBlocks = GroupTileBlocks<TGates>();
        nint blockColumns = TGates.Gates * TSimd.Count;
        int rowBlock = int.Max(tileRows, RowBlockBytes / int.Max(1, depth * Unsafe.SizeOf<T>()) / tileRows * tileRows);
        for (int first = 0; first < rows; first += rowBlock)
        {
            int end = int.Min(rows, first + rowBlock), groupsEnd = first + ((end - first) / tileRows * tileRows);
            for (int block = 0; block < blocks; block += groupBlocks)
            {
                ref float panel = ref Unsafe.Add(ref panels, block * panelSize);
                ref T blockBias = ref Offset(ref bias, block * blockColumns);
                for (int row = first; row < groupsEnd; row += tileRows)
                {
                    GroupTiles<TGates>(ref Unsafe.Add(ref a, row * aStride), aStride, depth, ref panel, panelSize, int.Min(groupBlocks, blocks - block),
                        ref Unsafe.Add(ref c, (row * cStride) + (block * blockColumns)), cStride, ref blockBias);
                }
            }

            for (int row = groupsEnd; row < end; row++)
                RowTiles<TGates>(ref Unsafe.Add(ref a, row * aStride), depth, ref panels, panelSize, blocks, ref Unsafe.Add(ref c, row * cStride), ref bias);
        }
    }

    /// <summary>
    /// One tile of the recurrent step: <paramref name="rows"/> ≤ <see cref="ISimd{TVec, T}.TileRows"/> rows times
    /// <paramref name="blocks"/> blocks (at most <see cref="RowTileBlocks{TGates}"/> for one row, else
    /// <see cref="GroupTileBlocks{TGates}"/>), no bias. Parameters as <see cref="Multiply{TGates}"/>'s.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void MultiplyTile<TGates>(ref T a, nint aStride, int rows, int depth, ref float panels, nint panelSize, int blocks, ref T c, nint cStride)
        where TGates : IGateCount
    {
        if (rows == TSimd.TileRows)
        {
            GroupTiles<TGates>(ref a, aStride, depth, ref panels, panelSize, blocks, ref c, cStride, ref Unsafe.NullRef<T>());
            return;
        }

        for (int row = 0; row < rows; row++)
            RowTiles<TGates>(ref Unsafe.Add(ref a, row * aStride), depth, ref panels, panelSize, blocks, ref Unsafe.Add(ref c, row * cStride), ref Unsafe.NullRef<T>());
    }

    /// <summary>A row group times <paramref name="blocks"/> ≤ <see cref="GroupTileBlocks{TGates}"/> blocks.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void GroupTiles<TGates>(ref T a, nint aStride, int depth, ref float panels, nint panelSize, int blocks, ref T c, nint cStride, ref T bias)
        where TGates : IGateCount
    {
        if (blocks == GroupTileBlocks<TGates>())
        {
            if (TGates.Gates == 1) GroupTile<TGates, TileCount4>(ref a, aStride, depth, ref panels, panelSize, ref c, cStride, ref bias);
            else GroupTile<TGates, TileCount1>(ref a, aStride, depth, ref panels, panelSize, ref c, cStride, ref bias);
            return;
        }

        nint blockColumns = TGates.Gates * TSimd.Count;
        for (int block = 0; block < blocks; block++)
        {
            GroupTile<TGates, TileCount1>(ref a, aStride, depth, ref Unsafe.Add(ref panels, block * panelSize), panelSize,
                ref Unsafe.Add(ref c, block * blockColumns), cStride, ref Offset(ref bias, block * blockColumns));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void GroupTile<TGates, TBlocks>(ref T a, nint aStride, int depth, ref float panel, nint panelSize, ref T c, nint cStride, ref T bias)
        where TGates : IGateCount
        where TBlocks : ITileCount
    {
        if (TSimd.TileRows == 4) Tile<TGates, TileCount4, TBlocks>(ref a, aStride, depth, ref panel, panelSize, ref c, cStride, ref bias);
        else Tile<TGates, TileCount2, TBlocks>(ref a, aStride, depth, ref panel, panelSize, ref c, cStride, ref bias);
    }

    /// <summary>One row times <paramref name="blocks"/> blocks: wide tiles, then group-wide ones, then single blocks.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RowTiles<TGates>(ref T a, int depth, ref float panels, nint panelSize, int blocks, ref T c, ref T bias)
        where TGates : IGateCount
    {
        nint blockColumns = TGates.Gates * TSimd.Count;
        int block = 0;
        for (; block + RowTileBlocks<TGates>() <= blocks; block += RowTileBlocks<TGates>())
        {
            ref float panel = ref Unsafe.Add(ref panels, block * panelSize);
            ref T output = ref Unsafe.Add(ref c, block * blockColumns);
            if (TGates.Gates == 1) Tile<TGates, TileCount1, TileCount8>(ref a, 0, depth, ref panel, panelSize, ref output, 0, ref Offset(ref bias, block * blockColumns));
            else Tile<TGates, TileCount1, TileCount2>(ref a, 0, depth, ref panel, panelSize, ref output, 0, ref Offset(ref bias, block * blockColumns));
        }

        if (GroupTileBlocks<TGates>() > 1)
        {
            for (; block + GroupTileBlocks<TGates>() <= blocks; block += GroupTileBlocks<TGates>())
            {
                Tile<TGates, TileCount1, TileCount4>(ref a, 0, depth, ref Unsafe.Add(ref panels, block * panelSize), panelSize,
                    ref Unsafe.Add(ref c, block * blockColumns), 0, ref Offset(ref bias, block * blockColumns));
            }
        }

        for (; block < blocks; block++)
        {
            Tile<TGates, TileCount1, TileCount1>(ref a, 0, depth, ref Unsafe.Add(ref panels, block * panelSize), panelSize,
                ref Unsafe.Add(ref c, block * blockColumns), 0, ref Offset(ref bias, block * blockColumns));
        }
    }

    /// <summary>
    /// <typeparamref name="TRows"/> rows × <typeparamref name="TBlocks"/> blocks of G vectors: at most 8 vectors for one or
    /// two rows, 4 for three or four, one accumulator each.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile<TGates, TRows, TBlocks>(ref T a, nint aStride, int depth, ref float panel, nint panelSize, ref T c, nint cStride, ref T bias)
        where TGates : IGateCount
        where TRows : ITileCount
        where TBlocks : ITileCount
    {
        int rows = TRows.Value, vectors = TBlocks.Value * TGates.Gates;
        Debug.Assert(rows <= 4 && vectors <= (rows <= 2 ? 8 : 4), "a tile larger than its accumulators");
        nint kStride = TGates.Gates * TSimd.Count;
        ref T a1 = ref Unsafe.Add(ref a, rows > 1 ? aStride : 0);
        ref T a2 = ref Unsafe.Add(ref a, rows > 2 ? 2 * aStride : 0);
        ref T a3 = ref Unsafe.Add(ref a, rows > 3 ? 3 * aStride : 0);
        TVec c00 = TSimd.Zero, c01 = TSimd.Zero, c02 = TSimd.Zero, c03 = TSimd.Zero, c04 = TSimd.Zero, c05 = TSimd.Zero, c06 = TSimd.Zero, c07 = TSimd.Zero;
        TVec c10 = TSimd.Zero, c11 = TSimd.Zero, c12 = TSimd.Zero, c13 = TSimd.Zero, c14 = TSimd.Zero, c15 = TSimd.Zero, c16 = TSimd.Zero, c17 = TSimd.Zero;
        TVec c20 = TSimd.Zero, c21 = TSimd.Zero, c22 = TSimd.Zero, c23 = TSimd.Zero;
        TVec c30 = TSimd.Zero, c31 = TSimd.Zero, c32 = TSimd.Zero, c33 = TSimd.Zero;
        ref float weights = ref panel;
        for (nint k = 0; k < depth; k++, weights = ref Unsafe.Add(ref weights, kStride))
        {
            TVec x0 = TSimd.Broadcast(Unsafe.Add(ref a, k));
            TVec x1 = rows > 1 ? TSimd.Broadcast(Unsafe.Add(ref a1, k)) : x0;
            TVec x2 = rows > 2 ? TSimd.Broadcast(Unsafe.Add(ref a2, k)) : x0;
            TVec x3 = rows > 3 ? TSimd.Broadcast(Unsafe.Add(ref a3, k)) : x0;
            Accumulate<TRows>(Weight<TGates>(ref weights, 0, panelSize), x0, x1, x2, x3, ref c00, ref c10, ref c20, ref c30);
            if (vectors > 1) Accumulate<TRows>(Weight<TGates>(ref weights, 1, panelSize), x0, x1, x2, x3, ref c01, ref c11, ref c21, ref c31);
            if (vectors > 2) Accumulate<TRows>(Weight<TGates>(ref weights, 2, panelSize), x0, x1, x2, x3, ref c02, ref c12, ref c22, ref c32);
            if (vectors > 3) Accumulate<TRows>(Weight<TGates>(ref weights, 3, panelSize), x0, x1, x2, x3, ref c03, ref c13, ref c23, ref c33);
            if (vectors > 4) AccumulateTwoRows<TRows>(Weight<TGates>(ref weights, 4, panelSize), x0, x1, ref c04, ref c14);
            if (vectors > 5) AccumulateTwoRows<TRows>(Weight<TGates>(ref weights, 5, panelSize), x0, x1, ref c05, ref c15);
            if (vectors > 6) AccumulateTwoRows<TRows>(Weight<TGates>(ref weights, 6, panelSize), x0, x1, ref c06, ref c16);
            if (vectors > 7) AccumulateTwoRows<TRows>(Weight<TGates>(ref weights, 7, panelSize), x0, x1, ref c07, ref c17);
        }

        StoreRow(vectors, ref c, ref bias, c00, c01, c02, c03, c04, c05, c06, c07);
        if (rows > 1) StoreRow(vectors, ref Unsafe.Add(ref c, cStride), ref bias, c10, c11, c12, c13, c14, c15, c16, c17);
        if (rows > 2) StoreRow(vectors, ref Unsafe.Add(ref c, 2 * cStride), ref bias, c20, c21, c22, c23, c20, c20, c20, c20);
        if (rows > 3) StoreRow(vectors, ref Unsafe.Add(ref c, 3 * cStride), ref bias, c30, c31, c32, c33, c30, c30, c30, c30);
    }

    /// <summary>Weight vector <paramref name="vector"/> of a tile at the current k: gate vector % G of block vector / G.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TVec Weight<TGates>(ref float weights, int vector, nint panelSize)
        where TGates : IGateCount =>
        TSimd.LoadWeights(ref Unsafe.Add(ref weights, (vector / TGates.Gates * panelSize) + (vector % TGates.Gates * TSimd.Count)));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Accumulate<TRows>(TVec weights, TVec x0, TVec x1, TVec x2, TVec x3, ref TVec c0, ref TVec c1, ref TVec c2, ref TVec c3)
        where TRows : ITileCount
    {
        c0 = TSimd.MultiplyAdd(x0, weights, c0);
        if (TRows.Value > 1) c1 = TSimd.MultiplyAdd(x1, weights, c1);
        if (TRows.Value > 2) c2 = TSimd.MultiplyAdd(x2, weights, c2);
        if (TRows.Value > 3) c3 = TSimd.MultiplyAdd(x3, weights, c3);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AccumulateTwoRows<TRows>(TVec weights, TVec x0, TVec x1, ref TVec c0, ref TVec c1)
        where TRows : ITileCount
    {
        c0 = TSimd.MultiplyAdd(x0, weights, c0);
        if (TRows.Value > 1) c1 = TSimd.MultiplyAdd(x1, weights, c1);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreRow(int vectors, ref T c, ref T bias, TVec s0, TVec s1, TVec s2, TVec s3, TVec s4, TVec s5, TVec s6, TVec s7)
    {
        nint width = TSimd.Count;
        StoreSum(s0, ref c, ref bias, 0);
        if (vectors > 1) StoreSum(s1, ref c, ref bias, width);
        if (vectors > 2) StoreSum(s2, ref c, ref bias, 2 * width);
        if (vectors > 3) StoreSum(s3, ref c, ref bias, 3 * width);
        if (vectors > 4) StoreSum(s4, ref c, ref bias, 4 * width);
        if (vectors > 5) StoreSum(s5, ref c, ref bias, 5 * width);
        if (vectors > 6) StoreSum(s6, ref c, ref bias, 6 * width);
        if (vectors > 7) StoreSum(s7, ref c, ref bias, 7 * width);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreSum(TVec sum, ref T c, ref T bias, nint offset)
    {
        if (!Unsafe.IsNullRef(ref bias)) sum = TSimd.Add(TSimd.Load(ref Unsafe.Add(ref bias, offset)), sum);
        TSimd.Store(sum, ref Unsafe.Add(ref c, offset));
    }

    /// <summary><paramref name="bias"/> moved on by <paramref name="offset"/> elements; a null reference stays null.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ref T Offset(ref T bias, nint offset) => ref Unsafe.IsNullRef(ref bias) ? ref bias : ref Unsafe.Add(ref bias, offset);
}
