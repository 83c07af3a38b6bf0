// A plain float64 transcription of ONNX's LSTM / GRU / RNN equations (PyTorch's cells when the spec's cell fields are
// zero), written from the operator definitions and not from the library's code: the reference of
// random_reference_test.cpp (PyTorch's cells) and variant_reference_test.cpp (every cell variant).
#pragma once

#include "test_support.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace fusedrnn::test {

// Reference activations, written from ONNX's operator list (not from the library's code).
inline double activate(const frnn_activation& activation, double x) {
    const double alpha = activation.alpha;
    const double beta = activation.beta;
    switch (activation.kind) {
    case FRNN_ACTIVATION_IDENTITY: return x;
    case FRNN_ACTIVATION_RELU: return x > 0 ? x : 0.0;
    case FRNN_ACTIVATION_TANH: return std::tanh(x);
    case FRNN_ACTIVATION_SIGMOID: return 1.0 / (1.0 + std::exp(-x));
    case FRNN_ACTIVATION_AFFINE: return alpha * x + beta;
    case FRNN_ACTIVATION_LEAKY_RELU: return x >= 0 ? x : alpha * x;
    case FRNN_ACTIVATION_THRESHOLDED_RELU: return x > alpha ? x : 0.0;
    case FRNN_ACTIVATION_SCALED_TANH: return alpha * std::tanh(beta * x);
    case FRNN_ACTIVATION_HARD_SIGMOID: return std::min(std::max(alpha * x + beta, 0.0), 1.0);
    case FRNN_ACTIVATION_ELU: return x >= 0 ? x : alpha * (std::exp(x) - 1.0);
    case FRNN_ACTIVATION_SOFTSIGN: return x / (1.0 + std::fabs(x));
    case FRNN_ACTIVATION_SOFTPLUS: return std::log(1.0 + std::exp(x));
    }
    ADD_FAILURE() << "activation kind " << activation.kind << " in a reference";
    return x;
}

// A role's activation, DEFAULT meaning PyTorch's.
inline frnn_activation resolved(const frnn_activation& activation, int32_t pytorch_kind) {
    return activation.kind == FRNN_ACTIVATION_DEFAULT ? frnn_activation{pytorch_kind, 0.0f, 0.0f} : activation;
}

struct ReferenceOutputs {
    std::vector<double> y, hn, cn;
};

// ONNX's LSTM / GRU / RNN equations in float64 (PyTorch's when the spec's cell fields are zero), one row and one
// step at a time, for the call `in` describes (PyTorch's gate order and layout for the weights).
inline ReferenceOutputs reference_forward(const frnn_model_spec& spec, const std::vector<LayerTensors>& layers,
                                          const ForwardBuffers& in) {
    const int64_t gates = gate_count(spec.cell_kind);
    const int64_t hidden = spec.hidden_size;
    const int64_t out = spec.proj_size > 0 ? spec.proj_size : hidden;
    const int64_t directions = spec.num_directions;
    const int64_t steps = in.seq_len;
    const int64_t batch = in.batch;
    const auto row_index = [&](int64_t t, int64_t b) { return in.batch_first ? b * steps + t : t * batch + b; };
    const auto clip = [&](double x) {
        return spec.clip > 0 ? std::min(std::max(x, -double{spec.clip}), double{spec.clip}) : x;
    };
    const int32_t rnn_kind = spec.cell_kind == FRNN_CELL_RNN_RELU ? FRNN_ACTIVATION_RELU : FRNN_ACTIVATION_TANH;
    const int32_t gate_default = gates == 1 ? rnn_kind : FRNN_ACTIVATION_SIGMOID;

    std::vector<double> layer_input(in.x.begin(), in.x.end());
    int64_t input_width = spec.input_size;
    ReferenceOutputs result;
    result.hn.assign(static_cast<std::size_t>(spec.num_layers * directions * batch * out), 0.0);
    result.cn.assign(static_cast<std::size_t>(spec.num_layers * directions * batch * hidden), 0.0);
    for (int64_t layer = 0; layer < spec.num_layers; ++layer) {
        std::vector<double> layer_output(static_cast<std::size_t>(steps * batch * directions * out), 0.0);
        for (int64_t direction = 0; direction < directions; ++direction) {
            const frnn_cell_activations& given = direction == 0 ? spec.forward_activations : spec.reverse_activations;
            const frnn_activation f = resolved(given.gates, gate_default);
            const frnn_activation g = resolved(given.candidate, FRNN_ACTIVATION_TANH);
            const frnn_activation h_activation = resolved(given.output, FRNN_ACTIVATION_TANH);
            const int64_t slice = layer * directions + direction;
            const LayerTensors& w = layers[static_cast<std::size_t>(slice)];
            const auto bias = [&](const std::vector<float>& values, int64_t row) {
                return values.empty() ? 0.0 : static_cast<double>(values[static_cast<std::size_t>(row)]);
            };
            const auto peephole = [&](int64_t which, int64_t j) {
                return w.weight_p.empty() ? 0.0 : static_cast<double>(w.weight_p[which * hidden + j]);
            };
            for (int64_t b = 0; b < batch; ++b) {
                std::vector<double> h(static_cast<std::size_t>(out), 0.0), cell(static_cast<std::size_t>(hidden), 0.0);
                if (!in.h0.empty()) {
                    for (int64_t k = 0; k < out; ++k) h[k] = in.h0[(slice * batch + b) * out + k];
                }
                if (!in.c0.empty()) {
                    for (int64_t k = 0; k < hidden; ++k) cell[k] = in.c0[(slice * batch + b) * hidden + k];
                }
                const int64_t length = in.lengths.empty() ? steps : in.lengths[static_cast<std::size_t>(b)];
                for (int64_t s = 0; s < length; ++s) {
                    const int64_t t = direction == 0 ? s : length - 1 - s;
                    const double* x = layer_input.data() + row_index(t, b) * input_width;
                    // W x + b_i per gate row, and R v + b_h for a vector v of width out.
                    const auto input_part = [&](int64_t row) {
                        double sum = bias(w.bias_ih, row);
                        for (int64_t k = 0; k < input_width; ++k) sum += w.weight_ih[row * input_width + k] * x[k];
                        return sum;
                    };
                    const auto recurrent_part = [&](int64_t row, const std::vector<double>& v) {
                        double sum = bias(w.bias_hh, row);
                        for (int64_t k = 0; k < out; ++k) sum += w.weight_hh[row * out + k] * v[k];
                        return sum;
                    };
                    std::vector<double> next(static_cast<std::size_t>(hidden));
                    if (spec.cell_kind == FRNN_CELL_LSTM) {
                        for (int64_t j = 0; j < hidden; ++j) {
                            const auto pre = [&](int64_t gate) {
                                return input_part(gate * hidden + j) + recurrent_part(gate * hidden + j, h);
                            };
                            const double c_prev = cell[j];
                            const double i = activate(f, clip(pre(0) + peephole(0, j) * c_prev));
                            const double forget =
                                spec.coupled_input_forget ? 1.0 - i : activate(f, clip(pre(1) + peephole(1, j) * c_prev));
                            cell[j] = forget * c_prev + i * activate(g, clip(pre(2)));
                            const double o = activate(f, clip(pre(3) + peephole(2, j) * cell[j]));
                            next[j] = o * activate(h_activation, cell[j]);
                        }
                    } else if (spec.cell_kind == FRNN_CELL_GRU) {
                        std::vector<double> r(static_cast<std::size_t>(hidden)), z(r.size()), reset_h(r.size());
                        for (int64_t j = 0; j < hidden; ++j) {
                            r[j] = activate(f, clip(input_part(j) + recurrent_part(j, h)));
                            z[j] = activate(f, clip(input_part(hidden + j) + recurrent_part(hidden + j, h)));
                            reset_h[j] = r[j] * h[j];
                        }
                        for (int64_t j = 0; j < hidden; ++j) {
                            const int64_t row = 2 * hidden + j;
                            const double n = spec.reset_before_product
                                                 ? activate(g, clip(input_part(row) + recurrent_part(row, reset_h)))
                                                 : activate(g, clip(input_part(row) + r[j] * recurrent_part(row, h)));
                            next[j] = (1 - z[j]) * n + z[j] * h[j];
                        }
                    } else {
                        for (int64_t j = 0; j < hidden; ++j) next[j] = activate(f, clip(input_part(j) + recurrent_part(j, h)));
                    }
                    if (spec.proj_size > 0) {
                        for (int64_t p = 0; p < out; ++p) {
                            double sum = 0;
                            for (int64_t j = 0; j < hidden; ++j) sum += w.weight_hr[p * hidden + j] * next[j];
                            h[p] = sum;
                        }
                    } else {
                        h = next;
                    }
                    for (int64_t k = 0; k < out; ++k) {
                        layer_output[row_index(t, b) * directions * out + direction * out + k] = h[k];
                    }
                }
                for (int64_t k = 0; k < out; ++k) result.hn[(slice * batch + b) * out + k] = h[k];
                for (int64_t k = 0; k < hidden; ++k) result.cn[(slice * batch + b) * hidden + k] = cell[k];
            }
        }
        layer_input = std::move(layer_output);
        input_width = directions * out;
    }
    result.y = std::move(layer_input);
    if (spec.cell_kind != FRNN_CELL_LSTM) {
        result.cn.clear();
    }
    return result;
}

}  // namespace fusedrnn::test
