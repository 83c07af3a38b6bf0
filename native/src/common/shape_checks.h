// Validation of everything the caller describes: the spec, each weight tensor, each forward buffer.
// Failures throw ApiError with a message naming the argument, its value and what was expected.
#pragma once

#include "common/model_shape.h"

#include <fusedrnn.h>

#include <cstdint>
#include <vector>

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

// sizeof(frnn_dense_spec) in the first ABI that has it.
constexpr uint32_t first_dense_spec_size = 32;
static_assert(sizeof(frnn_dense_spec) >= first_dense_spec_size, "frnn_dense_spec only grows");

// As read_spec, for a dense layer's spec.
frnn_dense_spec read_dense_spec(const frnn_dense_spec* caller_spec);

// Validates a dense spec read by read_dense_spec and its weights.
DenseShape validate_dense(const frnn_dense_spec& spec, const float* weight, int64_t weight_count, const float* bias,
                          int64_t bias_count);

// Validates one frnn_dense_forward call's rows and buffers.
void validate_dense_forward(const DenseShape& shape, int64_t rows, const float* x, int64_t x_count, const float* y,
                            int64_t y_count);

void validate_weights(const ModelShape& shape, const frnn_layer_weights* weights, int32_t weights_count);

ForwardShape validate_forward_args(const ModelShape& shape, const frnn_forward_args* args);

// Values (of the model's arithmetic type) in one stream's state slot: L*Hout of h, then L*H of c for an LSTM. Fails
// for a bidirectional model, which cannot be stepped one time step at a time.
int64_t slot_values(const ModelShape& shape);

// Validates one frnn_model_step_slots call. `sorted_slots` is scratch the check of distinct slots sorts a copy of
// args->slots into (grown to the batch, so steady-state calls do not allocate).
void validate_slot_step(const ModelShape& shape, const frnn_slot_step_args* args, std::vector<int32_t>& sorted_slots);

}  // namespace fusedrnn
