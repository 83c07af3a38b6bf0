// The input-projection GEMM (GemmNtFn in kernels.h) over a vector traits struct V: microkernel.h's tile with an
// epilogue that adds the bias and stores. Rows are taken in blocks that stay in L2 while all weight blocks stream
// past them.
#pragma once

#include "cpu/kernels.h"
#include "cpu/microkernel.h"

namespace fusedrnn::cpu {
// Internal linkage: see simd_avx512.h.
namespace {

template <class V, int Gates, int Rows, int Blocks>
void gemm_tile(int64_t depth, const typename V::Scalar* a, const float* b, const typename V::Scalar* bias,
               typename V::Scalar* c, int64_t c_stride) {
    constexpr int lanes = V::lanes;
    tile_product<V, Gates, Rows, Blocks>(depth, a, depth, b, depth * Gates * lanes,
                                         [&](int row, int block, const typename V::Vec* gate_sums) {
FUSEDRNN_UNROLL
        for (int gate = 0; gate < Gates; ++gate) {
            const int64_t column = (block * Gates + gate) * lanes;
            V::store(c + row * c_stride + column, V::add(V::load(bias + column), gate_sums[gate]));
        }
    });
}

// The tile for a ragged edge: the largest one within `rows` x `blocks`.
template <class V, int Gates, int Rows, int Blocks>
void gemm_edge_tile(int64_t rows, int64_t blocks, int64_t depth, const typename V::Scalar* a, const float* b,
                    const typename V::Scalar* bias, typename V::Scalar* c, int64_t c_stride) {
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
void gemm_tiles(int64_t rows, int64_t blocks, int64_t depth, const typename V::Scalar* a, const float* b,
                const typename V::Scalar* bias, typename V::Scalar* c, int64_t c_stride) {
    constexpr int64_t a_block_bytes = 256 * 1024;  // a quarter of the L2, next to the streaming weights
    constexpr int64_t columns_per_block = Gates * V::lanes;
    const int64_t block_size = depth * columns_per_block;
    const int64_t block_rows =
        a_block_bytes / (depth * static_cast<int64_t>(sizeof(typename V::Scalar))) / TileRows * TileRows;
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
void gemm_blocks(int64_t rows, int64_t blocks, int64_t depth, const typename V::Scalar* a, const float* b,
                 const typename V::Scalar* bias, typename V::Scalar* c, int64_t c_stride) {
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
void gemm_nt(int64_t rows, int64_t blocks, int64_t gate_count, int64_t depth, const typename V::Scalar* a,
             const float* b, const typename V::Scalar* bias, typename V::Scalar* c, int64_t c_stride) {
    switch (gate_count) {
    case 4: return gemm_blocks<V, 4>(rows, blocks, depth, a, b, bias, c, c_stride);
    case 3: return gemm_blocks<V, 3>(rows, blocks, depth, a, b, bias, c, c_stride);
    default: return gemm_blocks<V, 1>(rows, blocks, depth, a, b, bias, c, c_stride);
    }
}

}  // namespace
}  // namespace fusedrnn::cpu

// Defines <datatype>_gemm_nt_<isa> of kernels.h as gemm_nt<Traits>; one line per precision in each per-ISA file.
#define FUSEDRNN_DEFINE_GEMM_NT(function, traits)                                                              \
    void fusedrnn::cpu::function(int64_t rows, int64_t blocks, int64_t gate_count, int64_t depth,              \
                                 const traits::Scalar* a, const float* b, const traits::Scalar* bias,          \
                                 traits::Scalar* c, int64_t c_stride) {                                        \
        gemm_nt<traits>(rows, blocks, gate_count, depth, a, b, bias, c, c_stride);                             \
    }
