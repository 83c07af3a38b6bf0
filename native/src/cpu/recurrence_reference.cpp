// Reference recurrent steps: one pass per hidden unit computes that unit's gate pre-activations (input
// projection + recurrent dot products), activations and state update; gates are never stored.
#include "cpu/kernels.h"

#include <algorithm>
#include <cmath>

namespace fusedrnn::cpu {
namespace {

float sigmoid(float value) { return 1.0f / (1.0f + std::exp(-value)); }

float dot(const float* a, const float* b, int64_t count) {
    float sum = 0.0f;
    for (int64_t index = 0; index < count; ++index) {
        sum += a[index] * b[index];
    }
    return sum;
}

bool is_active(const RecurrentStep& step, int64_t row) {
    return step.lengths == nullptr || step.time < step.lengths[row];
}

// A row past its length: state carries over unchanged, output is zero (as pad_packed_sequence pads).
void hold_row(const RecurrentStep& step, int64_t row) {
    const float* h_prev = step.h_prev + row * step.output_size;
    std::copy(h_prev, h_prev + step.output_size, step.h_next + row * step.output_size);
    if (step.output != nullptr) {
        float* output = step.output + row * step.output_stride;
        std::fill(output, output + step.output_size, 0.0f);
    }
}

void write_output(const RecurrentStep& step, int64_t row) {
    if (step.output != nullptr) {
        const float* h_next = step.h_next + row * step.output_size;
        std::copy(h_next, h_next + step.output_size, step.output + row * step.output_stride);
    }
}

// Runs update_row(row) for active rows and hold_row for the others.
template <class UpdateRow>
void step_rows(const RecurrentStep& step, UpdateRow update_row) {
    for (int64_t row = 0; row < step.batch; ++row) {
        if (is_active(step, row)) {
            update_row(row);
            write_output(step, row);
        } else {
            hold_row(step, row);
        }
    }
}

template <class Activation>
void rnn_step(const RecurrentStep& step, Activation activation) {
    const int64_t hidden = step.hidden_size;
    step_rows(step, [&](int64_t row) {
        const float* projection = step.input_projection + row * step.input_projection_stride;
        const float* h_prev = step.h_prev + row * hidden;
        float* h_next = step.h_next + row * hidden;
        for (int64_t unit = 0; unit < hidden; ++unit) {
            h_next[unit] = activation(projection[unit] + dot(step.weight_hh + unit * hidden, h_prev, hidden));
        }
    });
}

}  // namespace

void lstm_step_reference(const RecurrentStep& step) {
    const int64_t hidden = step.hidden_size;
    const int64_t state = step.output_size;
    step_rows(step, [&](int64_t row) {
        const float* projection = step.input_projection + row * step.input_projection_stride;
        const float* h_prev = step.h_prev + row * state;
        float* c = step.c + row * hidden;
        float* h_next = step.h_next + row * state;
        // With projection the cell output o*tanh(c) is an intermediate that W_hr maps to h.
        float* cell_output = step.weight_hr != nullptr ? step.projection_scratch + row * hidden : h_next;
        for (int64_t unit = 0; unit < hidden; ++unit) {
            const float* gate_projection = projection + unit * 4;
            const float* weights = step.weight_hh + unit * 4 * state;
            float input_gate = sigmoid(gate_projection[0] + dot(weights, h_prev, state));
            float forget_gate = sigmoid(gate_projection[1] + dot(weights + state, h_prev, state));
            float candidate = std::tanh(gate_projection[2] + dot(weights + 2 * state, h_prev, state));
            float output_gate = sigmoid(gate_projection[3] + dot(weights + 3 * state, h_prev, state));
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

void gru_step_reference(const RecurrentStep& step) {
    const int64_t hidden = step.hidden_size;
    step_rows(step, [&](int64_t row) {
        const float* projection = step.input_projection + row * step.input_projection_stride;
        const float* h_prev = step.h_prev + row * hidden;
        float* h_next = step.h_next + row * hidden;
        for (int64_t unit = 0; unit < hidden; ++unit) {
            const float* gate_projection = projection + unit * 3;
            const float* weights = step.weight_hh + unit * 3 * hidden;
            float reset_gate = sigmoid(gate_projection[0] + dot(weights, h_prev, hidden));
            float update_gate = sigmoid(gate_projection[1] + dot(weights + hidden, h_prev, hidden));
            float recurrent_new = dot(weights + 2 * hidden, h_prev, hidden) + step.new_gate_bias[unit];
            float new_gate = std::tanh(gate_projection[2] + reset_gate * recurrent_new);
            h_next[unit] = (1.0f - update_gate) * new_gate + update_gate * h_prev[unit];
        }
    });
}

void rnn_tanh_step_reference(const RecurrentStep& step) {
    rnn_step(step, [](float value) { return std::tanh(value); });
}

void rnn_relu_step_reference(const RecurrentStep& step) {
    rnn_step(step, [](float value) { return std::max(value, 0.0f); });
}

}  // namespace fusedrnn::cpu
