#pragma once

#include <fusedrnn.h>

#include <cstdint>

namespace fusedrnn {

// One activation of a validated spec, DEFAULT resolved to the kind PyTorch's cell uses in that role.
struct Activation {
    frnn_activation_kind kind;
    float alpha;
    float beta;

    bool operator==(const Activation& other) const {
        return kind == other.kind && alpha == other.alpha && beta == other.beta;
    }
};

struct CellActivations {
    Activation gates;
    Activation candidate;
    Activation output;  // LSTM only

    bool operator==(const CellActivations& other) const {
        return gates == other.gates && candidate == other.candidate && output == other.output;
    }
};

// The cell variant of a validated spec (see frnn_model_spec).
struct CellVariant {
    bool peepholes = false;
    bool coupled_input_forget = false;
    bool reset_before_product = false;
    float clip = 0.0f;  // 0 = none
    CellActivations activations[2];  // per direction, resolved

    // PyTorch's cell: what the specialized kernels compute.
    bool is_pytorch_cell(const CellActivations& pytorch_activations, int64_t num_directions) const {
        bool default_activations = true;
        for (int64_t direction = 0; direction < num_directions; ++direction) {
            default_activations = default_activations && activations[direction] == pytorch_activations;
        }
        return default_activations && !peepholes && !coupled_input_forget && !reset_before_product && clip == 0.0f;
    }
};

// The dimensions every part of the library derives from a validated spec.
struct ModelShape {
    frnn_cell_kind cell_kind;
    int64_t gate_count;     // G: 4 LSTM, 3 GRU, 1 RNN
    int64_t input_size;
    int64_t hidden_size;    // H
    int64_t output_size;    // Hout: proj_size if > 0 else H; the width of h and of each direction in y
    int64_t num_layers;     // L
    int64_t num_directions; // D
    bool has_bias;
    bool has_projection;
    frnn_precision precision;
    CellVariant cell;
    CellActivations pytorch_activations;  // the cell kind's activations in PyTorch

    bool is_pytorch_cell() const { return cell.is_pytorch_cell(pytorch_activations, num_directions); }

    int64_t layer_input_size(int64_t layer) const { return layer == 0 ? input_size : num_directions * output_size; }
    int64_t gate_rows() const { return gate_count * hidden_size; }
    bool has_cell_state() const { return cell_kind == FRNN_CELL_LSTM; }
};

// The per-call dimensions of a validated frnn_forward_args.
struct ForwardShape {
    int64_t seq_len;    // T
    int64_t batch;      // B
    bool batch_first;
};

// The dimensions of a validated frnn_dense_spec.
struct DenseShape {
    int64_t input_size;
    int64_t output_size;
    int32_t activation;  // an frnn_dense_activation
    int32_t precision;   // an frnn_precision
};

}  // namespace fusedrnn
