// Row bookkeeping shared by every recurrent step kernel (reference and vector): which rows run at step t, and the
// scalar handling of rows that do not.
#pragma once

#include "cpu/kernels.h"

namespace fusedrnn::cpu {
// Internal linkage: included by files built for different ISAs (see simd_avx512.h).
namespace {

template <class T>
bool is_active(const RecurrentStep<T>& step, int64_t row) {
    return step.lengths == nullptr || step.time < step.lengths[row];
}

// The part of h a call owns: its units, or all of h when a projection mixes them.
template <class T>
int64_t owned_begin(const RecurrentStep<T>& step) {
    return step.weight_hr != nullptr ? 0 : step.unit_begin;
}
template <class T>
int64_t owned_end(const RecurrentStep<T>& step) {
    return step.weight_hr != nullptr ? step.output_size : step.unit_end;
}

// A row past its length: state carries over unchanged, output is zero (as pad_packed_sequence pads).
// Plain loops rather than std::copy / std::fill_n: a std template instantiated in a file built for a wider ISA
// could be the copy the linker keeps for every file.
template <class T>
void hold_row(const RecurrentStep<T>& step, int64_t row) {
    for (int64_t index = owned_begin(step); index < owned_end(step); ++index) {
        step.h_next[row * step.output_size + index] = step.h_prev[row * step.output_size + index];
        if (step.layer_output != nullptr) {
            step.layer_output[row * step.output_stride + index] = T(0);
        }
        if (step.y != nullptr) {
            step.y[row * step.output_stride + index] = 0.0f;
        }
    }
}

// Copies the owned part of a row's new h to the layer output or y.
template <class T>
void write_output(const RecurrentStep<T>& step, int64_t row) {
    const T* h_next = step.h_next + row * step.output_size;
    for (int64_t index = owned_begin(step); index < owned_end(step); ++index) {
        if (step.layer_output != nullptr) {
            step.layer_output[row * step.output_stride + index] = h_next[index];
        }
        if (step.y != nullptr) {
            step.y[row * step.output_stride + index] = round_to_float(h_next[index]);
        }
    }
}

}  // namespace
}  // namespace fusedrnn::cpu
