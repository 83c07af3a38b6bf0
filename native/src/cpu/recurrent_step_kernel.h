// The fused recurrent step (RecurrentStepFn in kernels.h) over a vector traits struct V and a cell policy
// (LstmCell, GruCell, RnnCell below): microkernel.h's tile of Rows batch rows x Blocks unit blocks over h_prev, with
// the cell as its epilogue. When the tile is done the cell's finish() adds the input projection, applies the
// activations and updates the state of those W units straight from the accumulators: gates never reach memory.
// The PyTorch cells (LstmCell, GruCell, RnnCell) have their own policies, the fastest path; every other variant the
// descriptor allows runs through LstmVariantCell, GruVariantCell, RnnVariantCell or the two passes of
// gru_reset_before_step, vectorized the same way.
#pragma once

#include "cpu/kernels.h"
#include "cpu/microkernel.h"
#include "cpu/step_rows.h"

#include <cstddef>
#include <type_traits>

namespace fusedrnn::cpu {
// Internal linkage: see simd_avx512.h.
namespace {

// `count` <= V::lanes values (a last, partial block of units), the other lanes zero.
template <class V>
typename V::Vec load_units(const typename V::Scalar* source, int64_t count) {
    if (count == V::lanes) {
        return V::load(source);
    }
    typename V::Scalar lanes[V::lanes] = {};
    for (int64_t lane = 0; lane < count; ++lane) {
        lanes[lane] = source[lane];
    }
    return V::load(lanes);
}

// Writes the first `count` lanes: doubles as they are, floats (the caller's y, or float32 state) through store_narrow,
// which rounds doubles and makes every NaN canonical.
template <class V, class T>
void store_units(T* destination, typename V::Vec value, int64_t count) {
    const auto store_all = [](T* to, typename V::Vec from) {
        if constexpr (std::is_same_v<T, float>) {
            V::store_narrow(to, from);
        } else {
            V::store(to, from);
        }
    };
    if (count == V::lanes) {
        store_all(destination, value);
        return;
    }
    T lanes[V::lanes];
    store_all(lanes, value);
    for (int64_t lane = 0; lane < count; ++lane) {
        destination[lane] = lanes[lane];
    }
}

// Units [unit, unit + count) of one batch row, and that row's input projection for their block ([G][W]).
template <class T>
struct UnitBlock {
    int64_t row;
    int64_t unit;
    int64_t count;
    const T* projection;
};

// The new h of a block: into h_next and the layer output or y.
template <class V>
void store_h(const RecurrentStep<typename V::Scalar>& step, const UnitBlock<typename V::Scalar>& block,
             typename V::Vec h) {
    store_units<V>(step.h_next + block.row * step.output_size + block.unit, h, block.count);
    if (step.layer_output != nullptr) {
        store_units<V>(step.layer_output + block.row * step.output_stride + block.unit, h, block.count);
    }
    if (step.y != nullptr) {
        store_units<V>(step.y + block.row * step.output_stride + block.unit, h, block.count);
    }
}

// Gate pre-activation g of a block: input projection (biases folded in) + recurrent product.
template <class V>
typename V::Vec gate_input(const UnitBlock<typename V::Scalar>& block, const typename V::Vec* recurrent, int gate) {
    return V::add(V::load(block.projection + gate * V::lanes), recurrent[gate]);
}

struct LstmCell {
    static constexpr int gates = 4;  // i, f, g, o

    template <class V>
    static void finish(const RecurrentStep<typename V::Scalar>& step, const UnitBlock<typename V::Scalar>& block,
                       const typename V::Vec* recurrent) {
        using Vec = typename V::Vec;
        const Vec input_gate = sigmoid_vector<V>(gate_input<V>(block, recurrent, 0));
        const Vec forget_gate = sigmoid_vector<V>(gate_input<V>(block, recurrent, 1));
        const Vec candidate = tanh_vector<V>(gate_input<V>(block, recurrent, 2));
        const Vec output_gate = sigmoid_vector<V>(gate_input<V>(block, recurrent, 3));
        typename V::Scalar* c = step.c + block.row * step.hidden_size + block.unit;
        const Vec c_next = V::fma(forget_gate, load_units<V>(c, block.count), V::mul(input_gate, candidate));
        store_units<V>(c, c_next, block.count);
        const Vec cell_output = V::mul(output_gate, tanh_vector<V>(c_next));
        if (step.weight_hr != nullptr) {
            // W_hr maps it to h once every unit is done (project_row).
            store_units<V>(step.projection_scratch + block.row * step.hidden_size + block.unit, cell_output,
                           block.count);
        } else {
            store_h<V>(step, block, cell_output);
        }
    }
};

struct GruCell {
    static constexpr int gates = 3;  // r, z, n

    template <class V>
    static void finish(const RecurrentStep<typename V::Scalar>& step, const UnitBlock<typename V::Scalar>& block,
                       const typename V::Vec* recurrent) {
        using Vec = typename V::Vec;
        const Vec reset_gate = sigmoid_vector<V>(gate_input<V>(block, recurrent, 0));
        const Vec update_gate = sigmoid_vector<V>(gate_input<V>(block, recurrent, 1));
        // b_hn is padded like the weights, so a whole vector can be read even in a partial block.
        const Vec recurrent_new = V::add(recurrent[2], V::load(step.new_gate_bias + block.unit));
        const Vec new_input = V::load(block.projection + 2 * V::lanes);
        const Vec new_gate = tanh_vector<V>(V::fma(reset_gate, recurrent_new, new_input));
        const Vec h_prev = load_units<V>(step.h_prev + block.row * step.hidden_size + block.unit, block.count);
        const Vec keep_new = V::mul(V::sub(V::set1(1), update_gate), new_gate);
        store_h<V>(step, block, V::fma(update_gate, h_prev, keep_new));
    }
};

struct TanhActivation {
    template <class V>
    static typename V::Vec apply(typename V::Vec value) {
        return tanh_vector<V>(value);
    }
};

struct ReluActivation {
    template <class V>
    static typename V::Vec apply(typename V::Vec value) {
        return V::max(V::zero(), value);  // NaN stays NaN, as with std::max(value, 0.0)
    }
};

template <class Activation>
struct RnnCell {
    static constexpr int gates = 1;

    template <class V>
    static void finish(const RecurrentStep<typename V::Scalar>& step, const UnitBlock<typename V::Scalar>& block,
                       const typename V::Vec* recurrent) {
        store_h<V>(step, block, Activation::template apply<V>(gate_input<V>(block, recurrent, 0)));
    }
};

// A variant's gate pre-activation, clipped when its rules say so.
template <class V>
typename V::Vec clipped(const CellRules& rules, typename V::Vec x) {
    return rules.clip > 0.0f ? clip_vector<V>(x, static_cast<typename V::Scalar>(rules.clip)) : x;
}

// Peephole P_i (0), P_f (1) or P_o (2) of a block; padded with zeros like the weights, so a whole vector can be read.
template <class V>
typename V::Vec peephole(const RecurrentStep<typename V::Scalar>& step, const UnitBlock<typename V::Scalar>& block,
                         int which) {
    return V::load(step.peepholes + which * step.peephole_stride + block.unit);
}

// LSTM with any activations, clip, peepholes (ONNX's P: i and f see c_prev, o sees the new c) and coupled gate.
struct LstmVariantCell {
    static constexpr int gates = 4;  // i, f, g, o

    template <class V>
    static void finish(const RecurrentStep<typename V::Scalar>& step, const UnitBlock<typename V::Scalar>& block,
                       const typename V::Vec* recurrent) {
        using Vec = typename V::Vec;
        const CellRules& rules = *step.rules;
        const bool peepholes = step.peepholes != nullptr;
        typename V::Scalar* c = step.c + block.row * step.hidden_size + block.unit;
        const Vec c_prev = load_units<V>(c, block.count);
        Vec input_sum = gate_input<V>(block, recurrent, 0);
        if (peepholes) {
            input_sum = V::fma(peephole<V>(step, block, 0), c_prev, input_sum);
        }
        const Vec input_gate = activate<V>(rules.gates, clipped<V>(rules, input_sum));
        Vec forget_gate;
        if (rules.coupled_input_forget) {
            forget_gate = V::sub(V::set1(1), input_gate);
        } else {
            Vec forget_sum = gate_input<V>(block, recurrent, 1);
            if (peepholes) {
                forget_sum = V::fma(peephole<V>(step, block, 1), c_prev, forget_sum);
            }
            forget_gate = activate<V>(rules.gates, clipped<V>(rules, forget_sum));
        }
        const Vec candidate = activate<V>(rules.candidate, clipped<V>(rules, gate_input<V>(block, recurrent, 2)));
        const Vec c_next = V::fma(forget_gate, c_prev, V::mul(input_gate, candidate));
        store_units<V>(c, c_next, block.count);
        Vec output_sum = gate_input<V>(block, recurrent, 3);
        if (peepholes) {
            output_sum = V::fma(peephole<V>(step, block, 2), c_next, output_sum);
        }
        const Vec output_gate = activate<V>(rules.gates, clipped<V>(rules, output_sum));
        const Vec cell_output = V::mul(output_gate, activate<V>(rules.output, c_next));
        if (step.weight_hr != nullptr) {
            store_units<V>(step.projection_scratch + block.row * step.hidden_size + block.unit, cell_output,
                           block.count);
        } else {
            store_h<V>(step, block, cell_output);
        }
    }
};

// GRU with the reset after the product (PyTorch's placement) and any activations and clip.
struct GruVariantCell {
    static constexpr int gates = 3;  // r, z, n

    template <class V>
    static void finish(const RecurrentStep<typename V::Scalar>& step, const UnitBlock<typename V::Scalar>& block,
                       const typename V::Vec* recurrent) {
        using Vec = typename V::Vec;
        const CellRules& rules = *step.rules;
        const Vec reset_gate = activate<V>(rules.gates, clipped<V>(rules, gate_input<V>(block, recurrent, 0)));
        const Vec update_gate = activate<V>(rules.gates, clipped<V>(rules, gate_input<V>(block, recurrent, 1)));
        const Vec recurrent_new = V::add(recurrent[2], V::load(step.new_gate_bias + block.unit));
        const Vec new_sum = V::fma(reset_gate, recurrent_new, V::load(block.projection + 2 * V::lanes));
        const Vec new_gate = activate<V>(rules.candidate, clipped<V>(rules, new_sum));
        const Vec h_prev = load_units<V>(step.h_prev + block.row * step.hidden_size + block.unit, block.count);
        store_h<V>(step, block, V::fma(update_gate, h_prev, V::mul(V::sub(V::set1(1), update_gate), new_gate)));
    }
};

// Elman RNN with any activation and clip.
struct RnnVariantCell {
    static constexpr int gates = 1;

    template <class V>
    static void finish(const RecurrentStep<typename V::Scalar>& step, const UnitBlock<typename V::Scalar>& block,
                       const typename V::Vec* recurrent) {
        const CellRules& rules = *step.rules;
        store_h<V>(step, block, activate<V>(rules.gates, clipped<V>(rules, gate_input<V>(block, recurrent, 0))));
    }
};

template <class V, class Cell, int Rows, int Blocks>
void step_tile(const RecurrentStep<typename V::Scalar>& step, int64_t first_row, int64_t first_block) {
    constexpr int lanes = V::lanes;
    constexpr int gates = Cell::gates;
    const int64_t depth = step.output_size;
    const int64_t block_size = depth * gates * lanes;
    tile_product<V, gates, Rows, Blocks>(
        depth, step.h_prev + first_row * depth, depth, step.weight_hh + first_block * block_size, block_size,
        [&](int row, int block, const typename V::Vec* gate_sums) {
            const int64_t batch_row = first_row + row;
            const int64_t unit = (first_block + block) * lanes;
            const int64_t count = step.hidden_size - unit < lanes ? step.hidden_size - unit : lanes;
            const typename V::Scalar* projection = step.input_projection + batch_row * step.input_projection_stride +
                                                   (first_block + block) * gates * lanes;
            Cell::template finish<V>(step, UnitBlock<typename V::Scalar>{batch_row, unit, count, projection},
                                     gate_sums);
        });
}

// One pass of a step over units: Pass::gates weight vectors per unit block, Pass::tile<V, Rows, Blocks> computing a
// tile of rows x blocks. A cell is one pass; the GRU with the reset before the product is two.
template <class Cell>
struct CellPass {
    static constexpr int gates = Cell::gates;

    template <class V, int Rows, int Blocks>
    static void tile(const RecurrentStep<typename V::Scalar>& step, int64_t first_row, int64_t first_block) {
        step_tile<V, Cell, Rows, Blocks>(step, first_row, first_block);
    }
};

// Pass::tile for `rows` (1..Rows) consecutive active rows and one block.
template <class V, class Pass, int Rows>
void rows_tile(int64_t rows, const RecurrentStep<typename V::Scalar>& step, int64_t first_row, int64_t block) {
    if constexpr (Rows > 1) {
        if (rows < Rows) {
            return rows_tile<V, Pass, Rows - 1>(rows, step, first_row, block);
        }
    }
    Pass::template tile<V, Rows, 1>(step, first_row, block);
}

// Runs a pass over the step's units for every active row:
//  - batch 1: Rows = 1, several blocks per tile (2 for LSTM: 8 independent FMA chains, enough to hide the FMA latency);
//  - batch > 1: unit blocks outermost, so a block's weights stay in L1/L2 while every group of up to V::step_rows
//    active rows passes over them; the weights leave L3 once per step.
// Odd steps walk the tiles last to first. A slice of weights larger than L2 read in the same order every step misses
// on every line (LRU evicts each line just before it is needed again); reversed, the tiles read last are still in L2
// when the next step starts. Each unit's sums stay within its tile, so no result changes.
template <class V, class Pass>
void walk_tiles(const RecurrentStep<typename V::Scalar>& step) {
    constexpr int lanes = V::lanes;
    // More blocks per tile for single-gate passes, to keep enough FMA chains in flight.
    constexpr int single_row_blocks = Pass::gates == 1 ? 4 : 2;
    const int64_t first_block = step.unit_begin / lanes;
    const int64_t end_block = (step.unit_end + lanes - 1) / lanes;
    const bool reverse_walk = (step.time & 1) != 0;
    if (step.batch == 1) {
        if (is_active(step, 0)) {
            const int64_t blocks = end_block - first_block;
            const int64_t wide_tiles = blocks / single_row_blocks;
            const int64_t tiles = wide_tiles + blocks % single_row_blocks;
            for (int64_t index = 0; index < tiles; ++index) {
                const int64_t tile = reverse_walk ? tiles - 1 - index : index;
                if (tile < wide_tiles) {
                    Pass::template tile<V, 1, single_row_blocks>(step, 0, first_block + tile * single_row_blocks);
                } else {
                    Pass::template tile<V, 1, 1>(step, 0, first_block + wide_tiles * single_row_blocks + tile - wide_tiles);
                }
            }
        }
        return;
    }
    for (int64_t index = 0; index < end_block - first_block; ++index) {
        const int64_t block = reverse_walk ? end_block - 1 - index : first_block + index;
        for (int64_t row = 0; row < step.batch;) {
            int64_t rows = 0;
            while (rows < V::step_rows && row + rows < step.batch && is_active(step, row + rows)) {
                ++rows;
            }
            if (rows > 0) {
                rows_tile<V, Pass, V::step_rows>(rows, step, row, block);
            }
            row += rows > 0 ? rows : 1;
        }
    }
}

// What every step does first: ask for h_prev's cache lines, and hold the rows past their length.
template <class V>
void begin_step(const RecurrentStep<typename V::Scalar>& step) {
    // Other participants have just written most of h_prev: ask for all its cache lines at once instead of
    // missing on them one at a time as the k loop reaches them.
    constexpr int64_t values_per_line = 64 / sizeof(typename V::Scalar);
    for (int64_t index = 0; index < step.batch * step.output_size; index += values_per_line) {
        V::prefetch(step.h_prev + index);
    }
    for (int64_t row = 0; row < step.batch; ++row) {
        if (!is_active(step, row)) {
            hold_row(step, row);
        }
    }
}

// h_next = W_hr * (cell outputs of the row), then the row's outputs.
template <class V>
void project_row(const RecurrentStep<typename V::Scalar>& step, int64_t row) {
    const int64_t hidden = step.hidden_size;
    const typename V::Scalar* cell_output = step.projection_scratch + row * hidden;
    for (int64_t output = 0; output < step.output_size; ++output) {
        const float* weights = step.weight_hr + output * hidden;
        typename V::Vec sums = V::zero();
        int64_t unit = 0;
        for (; unit + V::lanes <= hidden; unit += V::lanes) {
            sums = V::fma(V::load_weights(weights + unit), V::load(cell_output + unit), sums);
        }
        typename V::Scalar sum = V::sum(sums);
        for (; unit < hidden; ++unit) {
            sum += static_cast<typename V::Scalar>(weights[unit]) * cell_output[unit];
        }
        step.h_next[row * step.output_size + output] = sum;
    }
    write_output(step, row);
}

template <class V, class Cell>
void recurrent_step(const RecurrentStep<typename V::Scalar>& step) {
    begin_step<V>(step);
    walk_tiles<V, CellPass<Cell>>(step);
    if (step.weight_hr != nullptr) {
        for (int64_t row = 0; row < step.batch; ++row) {
            if (is_active(step, row)) {
                project_row<V>(step, row);
            }
        }
    }
}

// GRU with the reset before the product, n = g(W_n x + R_n (r * h) + b_n): R_n needs all of r * h, so a step is two
// passes over the units (the step always has them all: forward.cpp does not split units for this cell). The
// projection keeps its three gates per block (r, z, n); R_r and R_z are packed in blocks of two gates, R_n of one.
//  1. r and z from R_r h and R_z h; r * h into projection_scratch, z into gate_scratch;
//  2. n from R_n (r * h); h' = (1 - z) * n + z * h.
struct ResetGatesPass {
    static constexpr int gates = 2;

    template <class V, int Rows, int Blocks>
    static void tile(const RecurrentStep<typename V::Scalar>& step, int64_t first_row, int64_t first_block) {
        constexpr int lanes = V::lanes;
        const int64_t depth = step.output_size;
        const int64_t block_size = depth * gates * lanes;
        const CellRules& rules = *step.rules;
        tile_product<V, gates, Rows, Blocks>(
            depth, step.h_prev + first_row * depth, depth, step.weight_hh + first_block * block_size, block_size,
            [&](int row, int block, const typename V::Vec* gate_sums) {
                const int64_t batch_row = first_row + row;
                const int64_t unit = (first_block + block) * lanes;
                const int64_t count = step.hidden_size - unit < lanes ? step.hidden_size - unit : lanes;
                const typename V::Scalar* projection =
                    step.input_projection + batch_row * step.input_projection_stride + (first_block + block) * 3 * lanes;
                const typename V::Vec reset_gate =
                    activate<V>(rules.gates, clipped<V>(rules, V::add(V::load(projection), gate_sums[0])));
                const typename V::Vec update_gate =
                    activate<V>(rules.gates, clipped<V>(rules, V::add(V::load(projection + lanes), gate_sums[1])));
                const int64_t at = batch_row * step.hidden_size + unit;
                store_units<V>(step.projection_scratch + at, V::mul(reset_gate, load_units<V>(step.h_prev + at, count)),
                               count);
                store_units<V>(step.gate_scratch + at, update_gate, count);
            });
    }
};

struct ResetCandidatePass {
    static constexpr int gates = 1;

    template <class V, int Rows, int Blocks>
    static void tile(const RecurrentStep<typename V::Scalar>& step, int64_t first_row, int64_t first_block) {
        constexpr int lanes = V::lanes;
        const int64_t depth = step.hidden_size;
        const int64_t block_size = depth * lanes;
        const CellRules& rules = *step.rules;
        tile_product<V, gates, Rows, Blocks>(
            depth, step.projection_scratch + first_row * depth, depth, step.weight_hn + first_block * block_size,
            block_size, [&](int row, int block, const typename V::Vec* gate_sums) {
                const int64_t batch_row = first_row + row;
                const int64_t unit = (first_block + block) * lanes;
                const int64_t count = step.hidden_size - unit < lanes ? step.hidden_size - unit : lanes;
                const typename V::Scalar* projection = step.input_projection +
                                                       batch_row * step.input_projection_stride +
                                                       (first_block + block) * 3 * lanes;
                const typename V::Vec new_gate = activate<V>(
                    rules.candidate, clipped<V>(rules, V::add(V::load(projection + 2 * lanes), gate_sums[0])));
                const int64_t at = batch_row * step.hidden_size + unit;
                const typename V::Vec update_gate = load_units<V>(step.gate_scratch + at, count);
                const typename V::Vec h_prev = load_units<V>(step.h_prev + at, count);
                const typename V::Vec keep_new = V::mul(V::sub(V::set1(1), update_gate), new_gate);
                store_h<V>(step, UnitBlock<typename V::Scalar>{batch_row, unit, count, projection},
                           V::fma(update_gate, h_prev, keep_new));
            });
    }
};

template <class V>
void gru_reset_before_step(const RecurrentStep<typename V::Scalar>& step) {
    begin_step<V>(step);
    walk_tiles<V, ResetGatesPass>(step);
    walk_tiles<V, ResetCandidatePass>(step);
}

}  // namespace
}  // namespace fusedrnn::cpu

// Defines <datatype>_<op>_<isa>(step) of kernels.h as recurrent_step<Traits, Cell>; one line per precision in each
// per-ISA file.
#define FUSEDRNN_DEFINE_RECURRENT_STEP(function, traits, cell)                                                 \
    void fusedrnn::cpu::function(const RecurrentStep<traits::Scalar>& step) { recurrent_step<traits, cell>(step); }
// Defines <datatype>_gru_reset_before_step_<isa>.
#define FUSEDRNN_DEFINE_GRU_RESET_BEFORE_STEP(function, traits)                                               \
    void fusedrnn::cpu::function(const RecurrentStep<traits::Scalar>& step) { gru_reset_before_step<traits>(step); }
