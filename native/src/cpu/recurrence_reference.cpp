// Reference recurrent steps: one pass per hidden unit computes that unit's gate pre-activations (input
// projection + recurrent dot products), activations and state update; gates are never stored. Everything is
// double but the weights, which are widened as they are read.
#include "cpu/kernels.h"
#include "cpu/step_rows.h"

#include <algorithm>
#include <cmath>

namespace fusedrnn::cpu {
namespace {

double sigmoid(double value) { return 1.0 / (1.0 + std::exp(-value)); }

// weights[index * stride] . values; a unit's gate rows are interleaved k-major (stride G, see kernels.h).
double dot(const float* weights, const double* values, int64_t count, int64_t stride = 1) {
    double sum = 0.0;
    for (int64_t index = 0; index < count; ++index) {
        sum += static_cast<double>(weights[index * stride]) * values[index];
    }
    return sum;
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
        const double* projection = step.input_projection + row * step.input_projection_stride;
        const double* h_prev = step.h_prev + row * hidden;
        double* h_next = step.h_next + row * hidden;
        for (int64_t unit = step.unit_begin; unit < step.unit_end; ++unit) {
            h_next[unit] = activation(projection[unit] + dot(step.weight_hh + unit * hidden, h_prev, hidden));
        }
    });
}

}  // namespace

void lstm_step_reference(const RecurrentStep& step) {
    const int64_t hidden = step.hidden_size;
    const int64_t state = step.output_size;
    step_rows(step, [&](int64_t row) {
        const double* projection = step.input_projection + row * step.input_projection_stride;
        const double* h_prev = step.h_prev + row * state;
        double* c = step.c + row * hidden;
        double* h_next = step.h_next + row * state;
        // With projection the cell output o*tanh(c) is an intermediate that W_hr maps to h.
        double* cell_output = step.weight_hr != nullptr ? step.projection_scratch + row * hidden : h_next;
        for (int64_t unit = step.unit_begin; unit < step.unit_end; ++unit) {
            const double* gate_projection = projection + unit * 4;
            const float* weights = step.weight_hh + unit * 4 * state;
            const double input_gate = sigmoid(gate_projection[0] + dot(weights, h_prev, state, 4));
            const double forget_gate = sigmoid(gate_projection[1] + dot(weights + 1, h_prev, state, 4));
            const double candidate = std::tanh(gate_projection[2] + dot(weights + 2, h_prev, state, 4));
            const double output_gate = sigmoid(gate_projection[3] + dot(weights + 3, h_prev, state, 4));
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
        const double* projection = step.input_projection + row * step.input_projection_stride;
        const double* h_prev = step.h_prev + row * hidden;
        double* h_next = step.h_next + row * hidden;
        for (int64_t unit = step.unit_begin; unit < step.unit_end; ++unit) {
            const double* gate_projection = projection + unit * 3;
            const float* weights = step.weight_hh + unit * 3 * hidden;
            const double reset_gate = sigmoid(gate_projection[0] + dot(weights, h_prev, hidden, 3));
            const double update_gate = sigmoid(gate_projection[1] + dot(weights + 1, h_prev, hidden, 3));
            const double recurrent_new = dot(weights + 2, h_prev, hidden, 3) + step.new_gate_bias[unit];
            const double new_gate = std::tanh(gate_projection[2] + reset_gate * recurrent_new);
            h_next[unit] = (1.0 - update_gate) * new_gate + update_gate * h_prev[unit];
        }
    });
}

void rnn_tanh_step_reference(const RecurrentStep& step) {
    rnn_step(step, [](double value) { return std::tanh(value); });
}

void rnn_relu_step_reference(const RecurrentStep& step) {
    rnn_step(step, [](double value) { return std::max(value, 0.0); });
}

}  // namespace fusedrnn::cpu
