// Validation of everything the caller describes: the spec, each weight tensor, each forward buffer.
// Failures throw ApiError with a message naming the argument, its value and what was expected.
#pragma once

#include "common/model_shape.h"

#include <fusedrnn.h>

#include <cstdint>

namespace fusedrnn {

ModelShape validate_spec(const frnn_model_spec* spec);

void validate_weights(const ModelShape& shape, const frnn_layer_weights* weights, int32_t weights_count);

ForwardShape validate_forward_args(const ModelShape& shape, const frnn_forward_args* args);

}  // namespace fusedrnn
