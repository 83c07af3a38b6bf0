#pragma once

#include "common/backend.h"
#include "common/handle_registry.h"
#include "common/model_shape.h"

#include <fusedrnn.h>

#include <cstdint>
#include <memory>

// The object behind an frnn_model handle. Immutable after creation, so concurrent forwards may share it.
struct frnn_model {
    frnn_model_spec spec;  // as this library's struct (see read_spec), struct_size = its sizeof
    fusedrnn::ModelShape shape;
    uint64_t serial;  // unique per model ever created; ties workspaces to their model even if an address is reused
    std::unique_ptr<fusedrnn::BackendModel> backend;  // the weights as the library's backend keeps them
};

namespace fusedrnn {

// Validates a spec (as read_spec returns it) and weights, and hands them to the library's backend.
std::unique_ptr<frnn_model> create_model(const frnn_model_spec& spec, const frnn_layer_weights* weights,
                                         int32_t weights_count);

HandleRegistry<frnn_model>& model_registry();

}  // namespace fusedrnn
