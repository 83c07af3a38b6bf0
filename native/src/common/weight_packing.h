// Weights of one layer and direction in the layout the CPU kernels stream: gate rows interleaved per hidden
// unit (row j*G + g holds PyTorch's row g*H + j), so the input projection of one unit's G gates is contiguous
// and one fused pass per unit reads its recurrent rows back to back. Weight matrices stay float32 (the kernels
// widen them as they load them); biases are float64 because b_ih + b_hh is folded once here, and rounding that
// sum to float32 would already cost up to half an ulp that the recurrence then amplifies.
#pragma once

#include "common/aligned_buffer.h"
#include "common/model_shape.h"

#include <fusedrnn.h>

namespace fusedrnn {

struct PackedLayer {
    int64_t input_size = 0;
    AlignedFloats weight_ih;       // [H*G, input_size], unit-interleaved
    AlignedFloats weight_hh;       // [H*G, Hout], unit-interleaved
    // Added once to the input projection: b_ih + b_hh, except GRU's n gate which only gets b_ih because b_hn
    // sits inside the reset product. Zero without biases. [H*G], unit-interleaved.
    AlignedDoubles input_bias;
    AlignedDoubles new_gate_bias;  // GRU only: b_hn [H]; zero without biases
    AlignedFloats weight_hr;       // LSTM projection only: [Hout, H], as given
};

// Packs validated weights (see validate_weights) of `layer`.
PackedLayer pack_layer(const ModelShape& shape, int64_t layer, const frnn_layer_weights& weights);

}  // namespace fusedrnn
