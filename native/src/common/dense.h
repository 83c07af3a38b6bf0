#pragma once

#include "common/aligned_buffer.h"
#include "common/handle_registry.h"
#include "common/model_shape.h"

#include <fusedrnn.h>

#include <cstdint>
#include <memory>
#include <type_traits>

// The object behind an frnn_dense handle: a dense layer's weight in the input projection's layout (the G = 1 case of
// weight_packing.h: blocks of W outputs, k-major), so the same GEMM kernels run it. Immutable after creation.
struct frnn_dense {
    frnn_dense_spec spec;  // as this library's struct, struct_size = its sizeof
    fusedrnn::DenseShape shape;
    int64_t panel_width;     // W of the kernel set the weight is packed for
    int64_t padded_outputs;  // output_size rounded up to a multiple of W
    int64_t thread_count;    // as frnn_model's
    fusedrnn::AlignedFloats weight;  // [padded_outputs / W][input_size][W], zero in the padding
    // b in the arithmetic type, zero without a bias and in the padding; only the spec's precision is filled.
    fusedrnn::AlignedArray<float> f32_bias;
    fusedrnn::AlignedArray<double> f64_bias;

    template <class T>
    const T* bias() const {
        if constexpr (std::is_same_v<T, float>) {
            return f32_bias.data();
        } else {
            return f64_bias.data();
        }
    }
};

namespace fusedrnn {

// Validates a spec (as read_dense_spec returns it) and the weights, and packs them for kernels of the panel width.
std::unique_ptr<frnn_dense> create_dense(const frnn_dense_spec& spec, const float* weight, int64_t weight_count,
                                         const float* bias, int64_t bias_count, int64_t panel_width);

HandleRegistry<frnn_dense>& dense_registry();

}  // namespace fusedrnn
