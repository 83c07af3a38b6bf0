// The scalar cell math every backend shares: a cell variant's rules (activations with their alpha/beta, clip, the
// coupled gate) and one hidden unit's activation, clip and state update, in the arithmetic type T (float or double).
// The CPU reference kernel set runs on these. FRNN_HOST_DEVICE marks them __host__ __device__ when nvcc compiles
// them, so device code runs the same formulas: native/tests/cell_math_test.cpp checks them on the host, on machines
// without a GPU too, and native/tests/cuda compares the device's results with the host's.
#pragma once

#include <cmath>
#include <cstdint>

#include <fusedrnn.h>

#if defined(__CUDACC__)
#define FRNN_HOST_DEVICE __host__ __device__
#else
#define FRNN_HOST_DEVICE
#endif

namespace fusedrnn {

// An activation of a cell variant: kind is an frnn_activation_kind (never DEFAULT: resolved at model creation).
struct ActivationRule {
    int32_t kind;
    float alpha;
    float beta;
};

// How a cell computes, for one direction (from the model's validated frnn_model_spec; the CPU forward sets it for
// every cell). The CPU vector sets' PyTorch-cell kernels do not read it; the reference set runs every cell from it.
struct CellRules {
    ActivationRule gates;       // f
    ActivationRule candidate;   // g
    ActivationRule output;      // h (LSTM)
    float clip;                 // 0: none; else gate pre-activations are clipped to [-clip, clip]
    bool coupled_input_forget;  // LSTM: f = 1 - i
};

namespace cell_math {

// std::max and std::min's exact rules (the first argument when neither is less, so a NaN first argument stays),
// without <algorithm>, whose functions are host-only.
template <class T>
FRNN_HOST_DEVICE T larger(T a, T b) {
    return a < b ? b : a;
}

template <class T>
FRNN_HOST_DEVICE T smaller(T a, T b) {
    return b < a ? b : a;
}

template <class T>
FRNN_HOST_DEVICE T sigmoid(T value) {
    return T(1) / (T(1) + std::exp(-value));
}

// An activation of a cell variant (see fusedrnn.h for each formula).
template <class T>
FRNN_HOST_DEVICE T activate(const ActivationRule& rule, T x) {
    const T alpha = static_cast<T>(rule.alpha);
    const T beta = static_cast<T>(rule.beta);
    switch (rule.kind) {
    case FRNN_ACTIVATION_IDENTITY: return x;
    case FRNN_ACTIVATION_RELU: return larger(x, T(0));
    case FRNN_ACTIVATION_TANH: return std::tanh(x);
    case FRNN_ACTIVATION_SIGMOID: return sigmoid(x);
    case FRNN_ACTIVATION_AFFINE: return alpha * x + beta;
    case FRNN_ACTIVATION_LEAKY_RELU: return x < T(0) ? alpha * x : x;
    case FRNN_ACTIVATION_THRESHOLDED_RELU: return x > alpha ? x : T(0);
    case FRNN_ACTIVATION_SCALED_TANH: return alpha * std::tanh(beta * x);
    case FRNN_ACTIVATION_HARD_SIGMOID: return x != x ? x : smaller(T(1), larger(T(0), alpha * x + beta));
    case FRNN_ACTIVATION_ELU: return x < T(0) ? alpha * (std::exp(x) - T(1)) : x;
    case FRNN_ACTIVATION_SOFTSIGN: return x / (T(1) + std::fabs(x));
    case FRNN_ACTIVATION_SOFTPLUS: return larger(x, T(0)) + std::log1p(std::exp(-std::fabs(x)));
    default: return x;  // unreachable: the spec was validated
    }
}

// A gate pre-activation clipped to [-clip, clip] when the rules clip (NaN stays NaN).
template <class T>
FRNN_HOST_DEVICE T clipped(const CellRules& rules, T x) {
    const T clip = static_cast<T>(rules.clip);
    return rules.clip > 0.0f && x == x ? smaller(clip, larger(-clip, x)) : x;
}

// One LSTM unit from its four gate pre-activations (input projection + recurrent product, biases folded in) and
// peepholes p_i, p_f, p_o (0 without): i and f see c_prev, o sees the new c (ONNX's P). Returns the cell output
// o * h(c), before any projection; c is updated in place.
template <class T>
FRNN_HOST_DEVICE T lstm_unit(const CellRules& rules, T input_sum, T forget_sum, T candidate_sum, T output_sum,
                             T peephole_input, T peephole_forget, T peephole_output, T& c) {
    const T c_prev = c;
    const T input_gate = activate(rules.gates, clipped(rules, input_sum + peephole_input * c_prev));
    const T forget_gate = rules.coupled_input_forget
                              ? T(1) - input_gate
                              : activate(rules.gates, clipped(rules, forget_sum + peephole_forget * c_prev));
    const T candidate = activate(rules.candidate, clipped(rules, candidate_sum));
    c = forget_gate * c_prev + input_gate * candidate;
    const T output_gate = activate(rules.gates, clipped(rules, output_sum + peephole_output * c));
    return output_gate * activate(rules.output, c);
}

// The GRU's new state from its update gate z, new gate n and old state: h' = (1 - z) * n + z * h.
template <class T>
FRNN_HOST_DEVICE T gru_blend(T update_gate, T new_gate, T h_prev) {
    return (T(1) - update_gate) * new_gate + update_gate * h_prev;
}

}  // namespace cell_math
}  // namespace fusedrnn
