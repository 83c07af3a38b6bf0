// The one register-tile loop of every vector kernel: the input-projection GEMM (gemm_nt_kernel.h) and the recurrent
// step (recurrent_step_kernel.h) differ only in their epilogue. A tile is Rows rows of A times Blocks unit blocks of
// G weight vectors (W = V::lanes units each, stored [k][gate][lane], see kernels.h), one accumulator per row and
// vector: per k it loads each weight vector once (widened, in double precision), which every row reuses, and
// broadcasts each row's A value once. Each accumulator sums its k in ascending order whatever the tile shape, so
// the shape chosen for a call never changes a result.
#pragma once

#include "cpu/vector_math.h"

#include <cstddef>
#include <cstdint>

namespace fusedrnn::cpu {
// Internal linkage: see simd_avx512.h.
namespace {

// Calls epilogue(row, block, gate_sums) for every row < Rows and block < Blocks of the tile, gate_sums holding that
// row's G sums of that block: sum_k a[row * a_stride + k] * (the block's weights of gate g at k).
template <class V, int Gates, int Rows, int Blocks, class Epilogue>
void tile_product(int64_t depth, const typename V::Scalar* a, int64_t a_stride, const float* b, int64_t block_size,
                  const Epilogue& epilogue) {
    using Vec = typename V::Vec;
    constexpr int lanes = V::lanes;
    constexpr int vectors = Blocks * Gates;
    Vec sums[std::size_t{Rows}][std::size_t{vectors}];
    zero_tile<V>(sums);
    for (int64_t k = 0; k < depth; ++k) {
        Vec weights[std::size_t{vectors}];
FUSEDRNN_UNROLL
        for (int vector = 0; vector < vectors; ++vector) {
            weights[vector] = V::load_weights(b + vector / Gates * block_size + (k * Gates + vector % Gates) * lanes);
        }
        // Row by row, so that one broadcast register serves however many rows the tile has: a tile may use all but
        // vectors + 1 registers as accumulators.
FUSEDRNN_UNROLL
        for (int row = 0; row < Rows; ++row) {
            const Vec value = V::set1(a[row * a_stride + k]);
FUSEDRNN_UNROLL
            for (int vector = 0; vector < vectors; ++vector) {
                sums[row][vector] = V::fma(value, weights[vector], sums[row][vector]);
            }
        }
    }
FUSEDRNN_UNROLL
    for (int row = 0; row < Rows; ++row) {
FUSEDRNN_UNROLL
        for (int block = 0; block < Blocks; ++block) {
            // A copy, so that no pointer into sums escapes and the compiler keeps sums in registers.
            Vec gate_sums[std::size_t{Gates}];
FUSEDRNN_UNROLL
            for (int gate = 0; gate < Gates; ++gate) {
                gate_sums[gate] = sums[row][block * Gates + gate];
            }
            epilogue(row, block, gate_sums);
        }
    }
}

}  // namespace
}  // namespace fusedrnn::cpu
