// Weights of one layer and direction in the layout the active CPU kernel set streams. With W the set's panel
// width (values per vector register in the model's precision) and H padded with zero rows to Hp, a multiple of W,
// the G*Hp gate rows are ordered (unit block j, gate g, lane l) for hidden unit j*W + l, and the G*W rows of each
// block are stored k-major: element (row, k) at ((j*columns + k)*G + g)*W + l. A recurrent step then reads, per k,
// the G*W weights of a block from one contiguous run (one stream per block for the prefetchers, no cache-set
// aliasing between gates), and the input projection comes out in the same (j, g, l) order, so one fused pass per
// block finds its gates in registers. W = 1 (reference) is unit-interleaved too: unit u's G gate weights for k side
// by side. Weight matrices stay float32 in both precisions (the double kernels widen them as they load them);
// biases are in the arithmetic type T, because b_ih + b_hh is folded once here: exactly in double, and rounded once
// to float32 in float precision, where PyTorch's two separate bias additions round twice.
#pragma once

#include "common/aligned_buffer.h"
#include "common/model_shape.h"

#include <fusedrnn.h>

namespace fusedrnn {

template <class T>
struct PackedLayer {
    int64_t input_size = 0;
    int64_t padded_hidden = 0;     // Hp
    AlignedFloats weight_ih;       // [G*Hp, input_size] in unit blocks
    AlignedFloats weight_hh;       // [G*Hp, Hout] in unit blocks; GRU with the reset before the product: R_r, R_z
                                   // only ([2*Hp, Hout], blocks of two gates), R_n in weight_hn
    AlignedFloats weight_hn;       // GRU with the reset before the product: R_n [Hp, Hout] in blocks of one gate
    // Added once to the input projection: b_ih + b_hh, except PyTorch's GRU n gate which only gets b_ih because b_hn
    // sits inside the reset product. Zero without biases and in padding. [G*Hp], in (j, g, l) row order.
    AlignedArray<T> input_bias;
    AlignedArray<T> new_gate_bias;  // GRU with the reset after the product: b_hn [Hp]; zero without biases
    AlignedArray<T> peepholes;      // LSTM with peepholes: P_i, P_f, P_o, each [Hp], zero padded
    AlignedFloats weight_hr;        // LSTM projection only: [Hout, H], as given

    int64_t gate_columns(int64_t gate_count) const { return gate_count * padded_hidden; }
};

// Packs the gate-major rows of a [G*H, columns] matrix into k-major unit blocks of G*panel_width rows, H padded to
// padded_hidden with zero rows. A dense layer's [outputs, inputs] weight is the G = 1 case.
AlignedFloats pack_gate_rows(const float* rows, int64_t gate_count, int64_t hidden_size, int64_t padded_hidden,
                             int64_t columns, int64_t panel_width);

// Packs validated weights (see validate_weights) of `layer` for kernels of the given panel width.
template <class T>
PackedLayer<T> pack_layer(const ModelShape& shape, int64_t layer, const frnn_layer_weights& weights,
                          int64_t panel_width);

}  // namespace fusedrnn
