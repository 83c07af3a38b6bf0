// Reference recurrent steps: one pass per hidden unit computes that unit's gate pre-activations (input
// projection + recurrent dot products), activations and state update; gates are never stored. Everything is T
// but the weights, which are converted as they are read.
#include "cpu/kernels.h"
#include "cpu/step_rows.h"

#include <algorithm>
#include <cmath>

namespace fusedrnn::cpu {
namespace {

template <class T>
T sigmoid(T value) {
    return T(1) / (T(1) + std::exp(-value));
}

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

template <class T>
void lstm_step(const RecurrentStep<T>& step) {
    const int64_t hidden = step.hidden_size;
    const int64_t state = step.output_size;
    step_rows(step, [&](int64_t row) {
        const T* projection = step.input_projection + row * step.input_projection_stride;
        const T* h_prev = step.h_prev + row * state;
        T* c = step.c + row * hidden;
        T* h_next = step.h_next + row * state;
        // With projection the cell output o*tanh(c) is an intermediate that W_hr maps to h.
        T* cell_output = step.weight_hr != nullptr ? step.projection_scratch + row * hidden : h_next;
        for (int64_t unit = step.unit_begin; unit < step.unit_end; ++unit) {
            const T* gate_projection = projection + unit * 4;
            const float* weights = step.weight_hh + unit * 4 * state;
            const T input_gate = sigmoid(gate_projection[0] + dot(weights, h_prev, state, 4));
            const T forget_gate = sigmoid(gate_projection[1] + dot(weights + 1, h_prev, state, 4));
            const T candidate = std::tanh(gate_projection[2] + dot(weights + 2, h_prev, state, 4));
            const T output_gate = sigmoid(gate_projection[3] + dot(weights + 3, h_prev, state, 4));
            c[unit] = forget_gate * c[unit] + input_gate * candidate;
            cell_output[unit] = output_gate * std::tanh(c[unit]);
        }
        if (step.weight_hr != nullptr) {
            for (int64_t output = 0; output < state; ++output) {
                h_next[output] = dot(step.weight_hr + output * hidden, cell_output, hidden);
            }
        }
    });
}

template <class T>
void gru_step(const RecurrentStep<T>& step) {
    const int64_t hidden = step.hidden_size;
    step_rows(step, [&](int64_t row) {
        const T* projection = step.input_projection + row * step.input_projection_stride;
        const T* h_prev = step.h_prev + row * hidden;
        T* h_next = step.h_next + row * hidden;
        for (int64_t unit = step.unit_begin; unit < step.unit_end; ++unit) {
            const T* gate_projection = projection + unit * 3;
            const float* weights = step.weight_hh + unit * 3 * hidden;
            const T reset_gate = sigmoid(gate_projection[0] + dot(weights, h_prev, hidden, 3));
            const T update_gate = sigmoid(gate_projection[1] + dot(weights + 1, h_prev, hidden, 3));
            const T recurrent_new = dot(weights + 2, h_prev, hidden, 3) + step.new_gate_bias[unit];
            const T new_gate = std::tanh(gate_projection[2] + reset_gate * recurrent_new);
            h_next[unit] = (T(1) - update_gate) * new_gate + update_gate * h_prev[unit];
        }
    });
}

template <class T>
T tanh_activation(T value) {
    return std::tanh(value);
}

template <class T>
T relu_activation(T value) {
    return std::max(value, T(0));
}

}  // namespace

#define FUSEDRNN_DEFINE_REFERENCE_STEPS(datatype, T)                                                           \
    void datatype##_lstm_step_reference(const RecurrentStep<T>& step) { lstm_step(step); }                     \
    void datatype##_gru_step_reference(const RecurrentStep<T>& step) { gru_step(step); }                       \
    void datatype##_rnn_tanh_step_reference(const RecurrentStep<T>& step) { rnn_step(step, tanh_activation<T>); } \
    void datatype##_rnn_relu_step_reference(const RecurrentStep<T>& step) { rnn_step(step, relu_activation<T>); }
FUSEDRNN_DEFINE_REFERENCE_STEPS(f32, float)
FUSEDRNN_DEFINE_REFERENCE_STEPS(f64, double)
#undef FUSEDRNN_DEFINE_REFERENCE_STEPS

}  // namespace fusedrnn::cpu
