#include "cpu/weight_packing.h"

#include <algorithm>
#include <cstddef>

namespace fusedrnn {
namespace {

std::size_t to_size(int64_t value) { return static_cast<std::size_t>(value); }

// Index in the packed order of PyTorch's gate row g*H + unit (see weight_packing.h).
int64_t packed_row(int64_t gate, int64_t unit, int64_t gate_count, int64_t panel_width) {
    return (unit / panel_width * gate_count + gate) * panel_width + unit % panel_width;
}

}  // namespace

AlignedFloats pack_gate_rows(const float* rows, int64_t gate_count, int64_t hidden_size, int64_t padded_hidden,
                             int64_t columns, int64_t panel_width) {
    AlignedFloats packed(to_size(gate_count * padded_hidden * columns));
    for (int64_t gate = 0; gate < gate_count; ++gate) {
        for (int64_t unit = 0; unit < hidden_size; ++unit) {
            float* block = packed.data() + unit / panel_width * columns * gate_count * panel_width;
            float* destination = block + gate * panel_width + unit % panel_width;
            const float* source = rows + (gate * hidden_size + unit) * columns;
            for (int64_t column = 0; column < columns; ++column) {
                destination[column * gate_count * panel_width] = source[column];
            }
        }
    }
    return packed;
}

template <class T>
PackedLayer<T> pack_layer(const ModelShape& shape, int64_t layer, const frnn_layer_weights& weights,
                          int64_t panel_width) {
    const int64_t gates = shape.gate_count;
    const int64_t hidden = shape.hidden_size;

    PackedLayer<T> packed;
    packed.input_size = shape.layer_input_size(layer);
    packed.padded_hidden = (hidden + panel_width - 1) / panel_width * panel_width;
    packed.weight_ih = pack_gate_rows(weights.weight_ih, gates, hidden, packed.padded_hidden, packed.input_size,
                                      panel_width);
    const bool reset_before = shape.cell.reset_before_product;
    if (reset_before) {
        // R_n multiplies r * h, not h: its own matrix, after R_r and R_z (rows 2H.. of PyTorch's layout).
        packed.weight_hh = pack_gate_rows(weights.weight_hh, 2, hidden, packed.padded_hidden, shape.output_size,
                                          panel_width);
        packed.weight_hn = pack_gate_rows(weights.weight_hh + 2 * hidden * shape.output_size, 1, hidden,
                                          packed.padded_hidden, shape.output_size, panel_width);
    } else {
        packed.weight_hh = pack_gate_rows(weights.weight_hh, gates, hidden, packed.padded_hidden, shape.output_size,
                                          panel_width);
    }
    packed.input_bias = AlignedArray<T>(to_size(packed.gate_columns(gates)));
    if (shape.cell_kind == FRNN_CELL_GRU) {
        packed.new_gate_bias = AlignedArray<T>(to_size(packed.padded_hidden));
    }
    if (shape.cell.peepholes) {
        packed.peepholes = AlignedArray<T>(to_size(3 * packed.padded_hidden));
        for (int64_t which = 0; which < 3; ++which) {
            for (int64_t unit = 0; unit < hidden; ++unit) {
                packed.peepholes.data()[which * packed.padded_hidden + unit] =
                    static_cast<T>(weights.weight_p[which * hidden + unit]);
            }
        }
    }
    if (shape.has_bias) {
        // With the reset before the product, b_hn is added to n's pre-activation like any bias and folds too.
        const int64_t gru_new_gate = shape.cell_kind == FRNN_CELL_GRU && !reset_before ? 2 : -1;
        for (int64_t gate = 0; gate < gates; ++gate) {
            for (int64_t unit = 0; unit < hidden; ++unit) {
                const int64_t row = gate * hidden + unit;
                const bool folds_recurrent_bias = gate != gru_new_gate;
                const double recurrent_bias = static_cast<double>(weights.bias_hh[row]);
                // The sum of two floats is exact in double (for any biases of sane magnitude), then rounded once to T.
                packed.input_bias.data()[packed_row(gate, unit, gates, panel_width)] = static_cast<T>(
                    static_cast<double>(weights.bias_ih[row]) + (folds_recurrent_bias ? recurrent_bias : 0.0));
                if (!folds_recurrent_bias) {
                    packed.new_gate_bias.data()[unit] = static_cast<T>(recurrent_bias);
                }
            }
        }
    }
    if (shape.has_projection) {
        packed.weight_hr = AlignedFloats(to_size(shape.output_size * hidden));
        std::copy(weights.weight_hr, weights.weight_hr + shape.output_size * hidden, packed.weight_hr.data());
    }
    return packed;
}

template PackedLayer<float> pack_layer<float>(const ModelShape&, int64_t, const frnn_layer_weights&, int64_t);
template PackedLayer<double> pack_layer<double>(const ModelShape&, int64_t, const frnn_layer_weights&, int64_t);

}  // namespace fusedrnn
