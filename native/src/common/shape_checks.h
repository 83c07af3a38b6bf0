// Validation of everything the caller describes: the spec, each weight tensor, each forward buffer.
// Failures throw ApiError with a message naming the argument, its value and what was expected.
#pragma once

#include "common/model_shape.h"

#include <fusedrnn.h>

#include <cstdint>

namespace fusedrnn {

// sizeof(frnn_model_spec) in ABI 2, the first with struct_size: no caller's spec is shorter.
constexpr uint32_t first_model_spec_size = 120;
static_assert(sizeof(frnn_model_spec) >= first_model_spec_size, "frnn_model_spec only grows");

// The caller's spec as this library's struct: the first spec->struct_size bytes, fields past them at their defaults
// (zero). Fails if struct_size is not a size some version of frnn_model_spec has, or if the caller's struct is
// longer and sets a byte past this library's fields.
frnn_model_spec read_spec(const frnn_model_spec* caller_spec);

// Validates a spec read by read_spec.
ModelShape validate_spec(const frnn_model_spec* spec);

void validate_weights(const ModelShape& shape, const frnn_layer_weights* weights, int32_t weights_count);

ForwardShape validate_forward_args(const ModelShape& shape, const frnn_forward_args* args);

}  // namespace fusedrnn
