// Reference recurrent steps: one pass per hidden unit computes that unit's gate pre-activations (input
// projection + recurrent dot products), activations and state update; gates are never stored. Everything is T
// but the weights, which are converted as they are read. The reference set has no specialized PyTorch cells: every
// cell, PyTorch's included, runs the variant steps with the rules forward.cpp resolves for it.
#include "common/cell_math.h"
#include "cpu/kernels.h"
#include "cpu/step_rows.h"

#include <algorithm>
#include <cmath>

#include <fusedrnn.h>

namespace fusedrnn::cpu {
namespace {

// weights[index * stride] . values; a unit's gate rows are interleaved k-major (stride G, see kernels.h).
template <class T>
T dot(const float* weights, const T* values, int64_t count, int64_t stride = 1) {
    T sum = 0;
    for (int64_t index = 0; index < count; ++index) {
        sum += static_cast<T>(weights[index * stride]) * values[index];
    }
    return sum;
}

// Runs update_row(row) for active rows and hold_row for the others.
template <class T, class UpdateRow>
void step_rows(const RecurrentStep<T>& step, UpdateRow update_row) {
    for (int64_t row = 0; row < step.batch; ++row) {
        if (is_active(step, row)) {
            update_row(row);
            write_output(step, row);
        } else {
            hold_row(step, row);
        }
    }
}

template <class T, class Activation>
void rnn_step(const RecurrentStep<T>& step, Activation activation) {
    const int64_t hidden = step.hidden_size;
    step_rows(step, [&](int64_t row) {
        const T* projection = step.input_projection + row * step.input_projection_stride;
        const T* h_prev = step.h_prev + row * hidden;
        T* h_next = step.h_next + row * hidden;
        for (int64_t unit = step.unit_begin; unit < step.unit_end; ++unit) {
            h_next[unit] = activation(projection[unit] + dot(step.weight_hh + unit * hidden, h_prev, hidden));
        }
    });
}

using cell_math::activate;
using cell_math::clipped;
using cell_math::gru_blend;

template <class T>
void lstm_variant_step(const RecurrentStep<T>& step) {
    const CellRules& rules = *step.rules;
    const int64_t hidden = step.hidden_size;
    const int64_t state = step.output_size;
    step_rows(step, [&](int64_t row) {
        const T* projection = step.input_projection + row * step.input_projection_stride;
        const T* h_prev = step.h_prev + row * state;
        T* c = step.c + row * hidden;
        T* h_next = step.h_next + row * state;
        T* cell_output = step.weight_hr != nullptr ? step.projection_scratch + row * hidden : h_next;
        for (int64_t unit = step.unit_begin; unit < step.unit_end; ++unit) {
            const T* gate_projection = projection + unit * 4;
            const float* weights = step.weight_hh + unit * 4 * state;
            const auto peephole = [&](int which) {
                return step.peepholes != nullptr ? step.peepholes[which * step.peephole_stride + unit] : T(0);
            };
            const auto recurrent = [&](int gate) { return dot(weights + gate, h_prev, state, 4); };
            cell_output[unit] = cell_math::lstm_unit(
                rules, gate_projection[0] + recurrent(0), gate_projection[1] + recurrent(1),
                gate_projection[2] + recurrent(2), gate_projection[3] + recurrent(3), peephole(0), peephole(1),
                peephole(2), c[unit]);
        }
        if (step.weight_hr != nullptr) {
            for (int64_t output = 0; output < state; ++output) {
                h_next[output] = dot(step.weight_hr + output * hidden, cell_output, hidden);
            }
        }
    });
}

template <class T>
void gru_variant_step(const RecurrentStep<T>& step) {
    const CellRules& rules = *step.rules;
    const int64_t hidden = step.hidden_size;
    step_rows(step, [&](int64_t row) {
        const T* projection = step.input_projection + row * step.input_projection_stride;
        const T* h_prev = step.h_prev + row * hidden;
        T* h_next = step.h_next + row * hidden;
        for (int64_t unit = step.unit_begin; unit < step.unit_end; ++unit) {
            const T* gate_projection = projection + unit * 3;
            const float* weights = step.weight_hh + unit * 3 * hidden;
            const T reset_gate = activate(rules.gates, clipped(rules, gate_projection[0] + dot(weights, h_prev, hidden, 3)));
            const T update_gate =
                activate(rules.gates, clipped(rules, gate_projection[1] + dot(weights + 1, h_prev, hidden, 3)));
            const T recurrent_new = dot(weights + 2, h_prev, hidden, 3) + step.new_gate_bias[unit];
            const T new_gate = activate(rules.candidate, clipped(rules, gate_projection[2] + reset_gate * recurrent_new));
            h_next[unit] = gru_blend(update_gate, new_gate, h_prev[unit]);
        }
    });
}

// Two passes (see gru_reset_before_step in recurrent_step_kernel.h): r * h and z of every unit, then n and h'. With
// W = 1, weight_hh holds unit u's R_r and R_z rows for k at (u * H + k) * 2, weight_hn its R_n row at u * H + k.
template <class T>
void gru_reset_before_step(const RecurrentStep<T>& step) {
    const CellRules& rules = *step.rules;
    const int64_t hidden = step.hidden_size;
    step_rows(step, [&](int64_t row) {
        const T* projection = step.input_projection + row * step.input_projection_stride;
        const T* h_prev = step.h_prev + row * hidden;
        T* reset_hidden = step.projection_scratch + row * hidden;
        T* update = step.gate_scratch + row * hidden;
        for (int64_t unit = 0; unit < hidden; ++unit) {
            const float* weights = step.weight_hh + unit * 2 * hidden;
            const T reset_gate =
                activate(rules.gates, clipped(rules, projection[unit * 3] + dot(weights, h_prev, hidden, 2)));
            update[unit] = activate(rules.gates, clipped(rules, projection[unit * 3 + 1] + dot(weights + 1, h_prev, hidden, 2)));
            reset_hidden[unit] = reset_gate * h_prev[unit];
        }
        T* h_next = step.h_next + row * hidden;
        for (int64_t unit = 0; unit < hidden; ++unit) {
            const T new_gate = activate(rules.candidate, clipped(rules, projection[unit * 3 + 2] +
                                                                         dot(step.weight_hn + unit * hidden, reset_hidden, hidden)));
            h_next[unit] = gru_blend(update[unit], new_gate, h_prev[unit]);
        }
    });
}

template <class T>
void rnn_variant_step(const RecurrentStep<T>& step) {
    const CellRules& rules = *step.rules;
    rnn_step(step, [&](T value) { return activate(rules.gates, clipped(rules, value)); });
}

}  // namespace

#define FUSEDRNN_DEFINE_REFERENCE_STEPS(datatype, T)                                                           \
    void datatype##_lstm_step_reference(const RecurrentStep<T>& step) { lstm_variant_step(step); }             \
    void datatype##_gru_step_reference(const RecurrentStep<T>& step) { gru_variant_step(step); }               \
    void datatype##_rnn_tanh_step_reference(const RecurrentStep<T>& step) { rnn_variant_step(step); }          \
    void datatype##_rnn_relu_step_reference(const RecurrentStep<T>& step) { rnn_variant_step(step); }          \
    void datatype##_lstm_variant_step_reference(const RecurrentStep<T>& step) { lstm_variant_step(step); }     \
    void datatype##_gru_variant_step_reference(const RecurrentStep<T>& step) { gru_variant_step(step); }       \
    void datatype##_gru_reset_before_step_reference(const RecurrentStep<T>& step) { gru_reset_before_step(step); } \
    void datatype##_rnn_variant_step_reference(const RecurrentStep<T>& step) { rnn_variant_step(step); }
FUSEDRNN_DEFINE_REFERENCE_STEPS(f32, float)
FUSEDRNN_DEFINE_REFERENCE_STEPS(f64, double)
#undef FUSEDRNN_DEFINE_REFERENCE_STEPS

}  // namespace fusedrnn::cpu
