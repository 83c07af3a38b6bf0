// Reference recurrent steps: one pass per hidden unit computes that unit's gate pre-activations (input
// projection + recurrent dot products), activations and state update; gates are never stored. Everything is T
// but the weights, which are converted as they are read. The reference set has no specialized PyTorch cells: every
// cell, PyTorch's included, runs the variant steps with the rules forward.cpp resolves for it.
#include "cpu/kernels.h"
#include "cpu/step_rows.h"

#include <algorithm>
#include <cmath>

#include <fusedrnn.h>

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

// An activation of a cell variant (see fusedrnn.h for each formula).
template <class T>
T activate(const ActivationRule& rule, T x) {
    const T alpha = static_cast<T>(rule.alpha);
    const T beta = static_cast<T>(rule.beta);
    switch (rule.kind) {
    case FRNN_ACTIVATION_IDENTITY: return x;
    case FRNN_ACTIVATION_RELU: return std::max(x, T(0));
    case FRNN_ACTIVATION_TANH: return std::tanh(x);
    case FRNN_ACTIVATION_SIGMOID: return sigmoid(x);
    case FRNN_ACTIVATION_AFFINE: return alpha * x + beta;
    case FRNN_ACTIVATION_LEAKY_RELU: return x < T(0) ? alpha * x : x;
    case FRNN_ACTIVATION_THRESHOLDED_RELU: return x > alpha ? x : T(0);
    case FRNN_ACTIVATION_SCALED_TANH: return alpha * std::tanh(beta * x);
    case FRNN_ACTIVATION_HARD_SIGMOID: return x != x ? x : std::min(T(1), std::max(T(0), alpha * x + beta));
    case FRNN_ACTIVATION_ELU: return x < T(0) ? alpha * (std::exp(x) - T(1)) : x;
    case FRNN_ACTIVATION_SOFTSIGN: return x / (T(1) + std::fabs(x));
    case FRNN_ACTIVATION_SOFTPLUS: return std::max(x, T(0)) + std::log1p(std::exp(-std::fabs(x)));
    default: return x;  // unreachable: the spec was validated
    }
}

template <class T>
T clipped(const CellRules& rules, T x) {
    const T clip = static_cast<T>(rules.clip);
    return rules.clip > 0.0f && x == x ? std::min(clip, std::max(-clip, x)) : x;
}

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
            const T c_prev = c[unit];
            const T input_gate = activate(
                rules.gates, clipped(rules, gate_projection[0] + dot(weights, h_prev, state, 4) + peephole(0) * c_prev));
            const T forget_gate =
                rules.coupled_input_forget
                    ? T(1) - input_gate
                    : activate(rules.gates, clipped(rules, gate_projection[1] + dot(weights + 1, h_prev, state, 4) +
                                                               peephole(1) * c_prev));
            const T candidate =
                activate(rules.candidate, clipped(rules, gate_projection[2] + dot(weights + 2, h_prev, state, 4)));
            c[unit] = forget_gate * c_prev + input_gate * candidate;
            const T output_gate = activate(
                rules.gates, clipped(rules, gate_projection[3] + dot(weights + 3, h_prev, state, 4) + peephole(2) * c[unit]));
            cell_output[unit] = output_gate * activate(rules.output, c[unit]);
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
            h_next[unit] = (T(1) - update_gate) * new_gate + update_gate * h_prev[unit];
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
            h_next[unit] = (T(1) - update[unit]) * new_gate + update[unit] * h_prev[unit];
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
