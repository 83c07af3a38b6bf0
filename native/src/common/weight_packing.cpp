#include "common/weight_packing.h"

#include <algorithm>
#include <cstddef>

namespace fusedrnn {
namespace {

std::size_t to_size(int64_t value) { return static_cast<std::size_t>(value); }

// Reorders gate-major rows (g*H + j) of a [G*H, columns] matrix into unit-interleaved rows (j*G + g).
AlignedFloats interleave_gate_rows(const float* rows, int64_t gate_count, int64_t hidden_size, int64_t columns) {
    AlignedFloats packed(to_size(gate_count * hidden_size * columns));
    for (int64_t gate = 0; gate < gate_count; ++gate) {
        for (int64_t unit = 0; unit < hidden_size; ++unit) {
            const float* source = rows + (gate * hidden_size + unit) * columns;
            std::copy(source, source + columns, packed.data() + (unit * gate_count + gate) * columns);
        }
    }
    return packed;
}

}  // namespace

PackedLayer pack_layer(const ModelShape& shape, int64_t layer, const frnn_layer_weights& weights) {
    const int64_t gates = shape.gate_count;
    const int64_t hidden = shape.hidden_size;

    PackedLayer packed;
    packed.input_size = shape.layer_input_size(layer);
    packed.weight_ih = interleave_gate_rows(weights.weight_ih, gates, hidden, packed.input_size);
    packed.weight_hh = interleave_gate_rows(weights.weight_hh, gates, hidden, shape.output_size);
    packed.input_bias = AlignedDoubles(to_size(gates * hidden));
    if (shape.cell_kind == FRNN_CELL_GRU) {
        packed.new_gate_bias = AlignedDoubles(to_size(hidden));
    }
    if (shape.has_bias) {
        const int64_t gru_new_gate = shape.cell_kind == FRNN_CELL_GRU ? 2 : -1;
        for (int64_t gate = 0; gate < gates; ++gate) {
            for (int64_t unit = 0; unit < hidden; ++unit) {
                const int64_t row = gate * hidden + unit;
                const bool folds_recurrent_bias = gate != gru_new_gate;
                const double recurrent_bias = static_cast<double>(weights.bias_hh[row]);
                // The sum of two floats is exact in double (for any biases of sane magnitude).
                packed.input_bias.data()[unit * gates + gate] =
                    static_cast<double>(weights.bias_ih[row]) + (folds_recurrent_bias ? recurrent_bias : 0.0);
                if (!folds_recurrent_bias) {
                    packed.new_gate_bias.data()[unit] = recurrent_bias;
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

}  // namespace fusedrnn
