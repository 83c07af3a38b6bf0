#pragma once

#include "common/backend.h"
#include "common/handle_registry.h"
#include "common/model_shape.h"

#include <fusedrnn.h>

#include <memory>

// The object behind an frnn_dense handle. Immutable after creation.
struct frnn_dense {
    frnn_dense_spec spec;  // as this library's struct, struct_size = its sizeof
    fusedrnn::DenseShape shape;
    std::unique_ptr<fusedrnn::BackendDense> backend;  // the weight and bias as the library's backend keeps them
};

namespace fusedrnn {

// Validates a spec (as read_dense_spec returns it) and the weights, and hands them to the library's backend.
std::unique_ptr<frnn_dense> create_dense(const frnn_dense_spec& spec, const float* weight, int64_t weight_count,
                                         const float* bias, int64_t bias_count);

HandleRegistry<frnn_dense>& dense_registry();

}  // namespace fusedrnn
