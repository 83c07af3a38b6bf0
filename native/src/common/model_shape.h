#pragma once

#include <fusedrnn.h>

#include <cstdint>

namespace fusedrnn {

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

}  // namespace fusedrnn
