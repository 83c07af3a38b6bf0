// The input-projection GEMM (GemmNtFn in kernels.h) over a vector traits struct V. Register tile: Rows rows of A
// times Blocks unit blocks of G weight vectors, one accumulator each (V::accumulators in all); per k it widens
// the tile's weight vectors once (a contiguous G*W floats per block) and reuses each for every row, so the
// float->double conversion is paid once per Rows FMAs. Rows are taken in blocks that stay in L2 while all
// weight blocks stream past them.
#pragma once

#include "cpu/kernels.h"
#include "cpu/vector_math.h"

#include <cstddef>

namespace fusedrnn::cpu {
// Internal linkage: see simd_avx512.h.
namespace {

template <class V, int Gates, int Rows, int Blocks>
void gemm_tile(int64_t depth, const double* a, const float* b, const double* bias, double* c, int64_t c_stride) {
    using Vec = typename V::Vec;
    constexpr int lanes = V::lanes;
    constexpr int vectors = Gates * Blocks;
    const int64_t block_size = depth * Gates * lanes;
    Vec sums[std::size_t{Rows}][std::size_t{vectors}];
    zero_tile<V>(sums);
    for (int64_t k = 0; k < depth; ++k) {
        Vec weights[std::size_t{vectors}];
FUSEDRNN_UNROLL
        for (int vector = 0; vector < vectors; ++vector) {
            weights[vector] = V::widen(b + vector / Gates * block_size + (k * Gates + vector % Gates) * lanes);
        }
FUSEDRNN_UNROLL
        for (int row = 0; row < Rows; ++row) {
            const Vec value = V::set1(a[row * depth + k]);
FUSEDRNN_UNROLL
            for (int vector = 0; vector < vectors; ++vector) {
                sums[row][vector] = V::fma(value, weights[vector], sums[row][vector]);
            }
        }
    }
FUSEDRNN_UNROLL
    for (int row = 0; row < Rows; ++row) {
FUSEDRNN_UNROLL
        for (int vector = 0; vector < vectors; ++vector) {
            V::store(c + row * c_stride + vector * lanes, V::add(V::load(bias + vector * lanes), sums[row][vector]));
        }
    }
}

// The tile for a ragged edge: the largest one within `rows` x `blocks`.
template <class V, int Gates, int Rows, int Blocks>
void gemm_edge_tile(int64_t rows, int64_t blocks, int64_t depth, const double* a, const float* b,
                    const double* bias, double* c, int64_t c_stride) {
    if constexpr (Rows > 1) {
        if (rows < Rows) {
            return gemm_edge_tile<V, Gates, Rows - 1, Blocks>(rows, blocks, depth, a, b, bias, c, c_stride);
        }
    }
    if constexpr (Blocks > 1) {
        if (blocks < Blocks) {
            return gemm_edge_tile<V, Gates, Rows, Blocks - 1>(rows, blocks, depth, a, b, bias, c, c_stride);
        }
    }
    gemm_tile<V, Gates, Rows, Blocks>(depth, a, b, bias, c, c_stride);
}

template <class V, int Gates, int TileRows, int TileBlocks>
void gemm_tiles(int64_t rows, int64_t blocks, int64_t depth, const double* a, const float* b, const double* bias,
                double* c, int64_t c_stride) {
    constexpr int64_t a_block_bytes = 256 * 1024;  // a quarter of the L2, next to the streaming weights
    constexpr int64_t columns_per_block = Gates * V::lanes;
    const int64_t block_size = depth * columns_per_block;
    const int64_t block_rows = a_block_bytes / (depth * static_cast<int64_t>(sizeof(double))) / TileRows * TileRows;
    const int64_t row_block = block_rows > TileRows ? block_rows : TileRows;
    for (int64_t first_row = 0; first_row < rows; first_row += row_block) {
        const int64_t end_row = first_row + row_block < rows ? first_row + row_block : rows;
        for (int64_t block = 0; block < blocks; block += TileBlocks) {
            const int64_t width = blocks - block < TileBlocks ? blocks - block : TileBlocks;
            for (int64_t row = first_row; row < end_row; row += TileRows) {
                const int64_t height = end_row - row < TileRows ? end_row - row : TileRows;
                gemm_edge_tile<V, Gates, TileRows, TileBlocks>(
                    height, width, depth, a + row * depth, b + block * block_size, bias + block * columns_per_block,
                    c + row * c_stride + block * columns_per_block, c_stride);
            }
        }
    }
}

template <class V, int Gates>
void gemm_blocks(int64_t rows, int64_t blocks, int64_t depth, const double* a, const float* b, const double* bias,
                 double* c, int64_t c_stride) {
    // Tall tiles (two blocks for single-gate cells, so a tile has enough vectors to reuse each row's broadcast);
    // for fewer rows than that (a single time step) wide ones, several blocks for at least 8 FMA chains.
    constexpr int tall_blocks = Gates == 1 ? 2 : 1;
    constexpr int tall_rows = V::accumulators / (Gates * tall_blocks);
    constexpr int wide_blocks = Gates == 1 ? 8 : 2;
    constexpr int wide_rows = V::accumulators / (Gates * wide_blocks) > 1 ? V::accumulators / (Gates * wide_blocks) : 1;
    if (rows < tall_rows) {
        gemm_tiles<V, Gates, wide_rows, wide_blocks>(rows, blocks, depth, a, b, bias, c, c_stride);
    } else {
        gemm_tiles<V, Gates, tall_rows, tall_blocks>(rows, blocks, depth, a, b, bias, c, c_stride);
    }
}

template <class V>
void gemm_nt(int64_t rows, int64_t blocks, int64_t gate_count, int64_t depth, const double* a, const float* b,
             const double* bias, double* c, int64_t c_stride) {
    switch (gate_count) {
    case 4: return gemm_blocks<V, 4>(rows, blocks, depth, a, b, bias, c, c_stride);
    case 3: return gemm_blocks<V, 3>(rows, blocks, depth, a, b, bias, c, c_stride);
    default: return gemm_blocks<V, 1>(rows, blocks, depth, a, b, bias, c, c_stride);
    }
}

}  // namespace
}  // namespace fusedrnn::cpu

// Defines gemm_nt_<isa> of kernels.h as gemm_nt<Traits>; one line in each per-ISA file.
#define FUSEDRNN_DEFINE_GEMM_NT(isa, traits)                                                                   \
    void fusedrnn::cpu::gemm_nt_##isa(int64_t rows, int64_t blocks, int64_t gate_count, int64_t depth,         \
                                      const double* a, const float* b, const double* bias, double* c,          \
                                      int64_t c_stride) {                                                      \
        gemm_nt<traits>(rows, blocks, gate_count, depth, a, b, bias, c, c_stride);                             \
    }
