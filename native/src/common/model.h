#pragma once

#include "common/handle_registry.h"
#include "common/model_shape.h"
#include "common/weight_packing.h"

#include <fusedrnn.h>

#include <cstdint>
#include <memory>
#include <type_traits>
#include <vector>

// The object behind an frnn_model handle. Immutable after creation, so concurrent forwards may share it.
struct frnn_model {
    frnn_model_spec spec;  // as this library's struct (see read_spec), struct_size = its sizeof
    fusedrnn::ModelShape shape;
    uint64_t serial;  // unique per model ever created; ties workspaces to their model even if an address is reused
    int64_t panel_width;   // W of the kernel set the layers are packed for
    int64_t thread_count;  // spec.num_threads capped at the logical processors, 0 resolved to the physical cores
    // Index layer * num_directions + direction; only the vector of the spec's precision is filled.
    std::vector<fusedrnn::PackedLayer<float>> f32_layers;
    std::vector<fusedrnn::PackedLayer<double>> f64_layers;

    template <class T>
    const std::vector<fusedrnn::PackedLayer<T>>& layers() const {
        if constexpr (std::is_same_v<T, float>) {
            return f32_layers;
        } else {
            return f64_layers;
        }
    }
};

namespace fusedrnn {

// Validates a spec (as read_spec returns it) and weights, and packs them for kernels of the given panel width in the
// spec's precision.
std::unique_ptr<frnn_model> create_model(const frnn_model_spec& spec, const frnn_layer_weights* weights,
                                         int32_t weights_count, int64_t panel_width);

HandleRegistry<frnn_model>& model_registry();

}  // namespace fusedrnn
