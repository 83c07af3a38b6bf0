#include "common/struct_layout.h"

#include "common/error.h"

#include <fusedrnn.h>

#include <cstddef>
#include <cstring>
#include <string>

namespace fusedrnn {
namespace {

struct FieldLayout {
    const char* name;
    std::size_t offset;
};

struct StructLayout {
    const char* name;
    std::size_t size;
    const FieldLayout* fields;
    std::size_t field_count;
};

#define FRNN_FIELD(type, field) FieldLayout{#field, offsetof(type, field)}

const FieldLayout model_spec_fields[] = {
    FRNN_FIELD(frnn_model_spec, struct_size), FRNN_FIELD(frnn_model_spec, cell_kind),
    FRNN_FIELD(frnn_model_spec, input_size),  FRNN_FIELD(frnn_model_spec, hidden_size),
    FRNN_FIELD(frnn_model_spec, num_layers),  FRNN_FIELD(frnn_model_spec, num_directions),
    FRNN_FIELD(frnn_model_spec, proj_size),   FRNN_FIELD(frnn_model_spec, num_threads),
    FRNN_FIELD(frnn_model_spec, precision),   FRNN_FIELD(frnn_model_spec, has_bias),
    FRNN_FIELD(frnn_model_spec, has_peepholes), FRNN_FIELD(frnn_model_spec, coupled_input_forget),
    FRNN_FIELD(frnn_model_spec, reset_before_product), FRNN_FIELD(frnn_model_spec, clip),
    FRNN_FIELD(frnn_model_spec, forward_activations), FRNN_FIELD(frnn_model_spec, reverse_activations),
    FRNN_FIELD(frnn_model_spec, reserved),
};

const FieldLayout activation_fields[] = {
    FRNN_FIELD(frnn_activation, kind),
    FRNN_FIELD(frnn_activation, alpha),
    FRNN_FIELD(frnn_activation, beta),
};

const FieldLayout cell_activations_fields[] = {
    FRNN_FIELD(frnn_cell_activations, gates),
    FRNN_FIELD(frnn_cell_activations, candidate),
    FRNN_FIELD(frnn_cell_activations, output),
};

const FieldLayout layer_weights_fields[] = {
    FRNN_FIELD(frnn_layer_weights, weight_ih), FRNN_FIELD(frnn_layer_weights, weight_ih_count),
    FRNN_FIELD(frnn_layer_weights, weight_hh), FRNN_FIELD(frnn_layer_weights, weight_hh_count),
    FRNN_FIELD(frnn_layer_weights, bias_ih),   FRNN_FIELD(frnn_layer_weights, bias_ih_count),
    FRNN_FIELD(frnn_layer_weights, bias_hh),   FRNN_FIELD(frnn_layer_weights, bias_hh_count),
    FRNN_FIELD(frnn_layer_weights, weight_hr), FRNN_FIELD(frnn_layer_weights, weight_hr_count),
    FRNN_FIELD(frnn_layer_weights, weight_p),  FRNN_FIELD(frnn_layer_weights, weight_p_count),
};

const FieldLayout forward_args_fields[] = {
    FRNN_FIELD(frnn_forward_args, seq_len),  FRNN_FIELD(frnn_forward_args, batch),
    FRNN_FIELD(frnn_forward_args, batch_first), FRNN_FIELD(frnn_forward_args, reserved),
    FRNN_FIELD(frnn_forward_args, x),        FRNN_FIELD(frnn_forward_args, x_count),
    FRNN_FIELD(frnn_forward_args, h0),       FRNN_FIELD(frnn_forward_args, h0_count),
    FRNN_FIELD(frnn_forward_args, c0),       FRNN_FIELD(frnn_forward_args, c0_count),
    FRNN_FIELD(frnn_forward_args, lengths),  FRNN_FIELD(frnn_forward_args, lengths_count),
    FRNN_FIELD(frnn_forward_args, y),        FRNN_FIELD(frnn_forward_args, y_count),
    FRNN_FIELD(frnn_forward_args, hn),       FRNN_FIELD(frnn_forward_args, hn_count),
    FRNN_FIELD(frnn_forward_args, cn),       FRNN_FIELD(frnn_forward_args, cn_count),
};

const FieldLayout slot_step_args_fields[] = {
    FRNN_FIELD(frnn_slot_step_args, batch),       FRNN_FIELD(frnn_slot_step_args, slot_count),
    FRNN_FIELD(frnn_slot_step_args, slots),       FRNN_FIELD(frnn_slot_step_args, slots_count),
    FRNN_FIELD(frnn_slot_step_args, state),       FRNN_FIELD(frnn_slot_step_args, state_bytes),
    FRNN_FIELD(frnn_slot_step_args, x),           FRNN_FIELD(frnn_slot_step_args, x_count),
    FRNN_FIELD(frnn_slot_step_args, y),           FRNN_FIELD(frnn_slot_step_args, y_count),
};

const FieldLayout dense_spec_fields[] = {
    FRNN_FIELD(frnn_dense_spec, struct_size), FRNN_FIELD(frnn_dense_spec, input_size),
    FRNN_FIELD(frnn_dense_spec, output_size), FRNN_FIELD(frnn_dense_spec, activation),
    FRNN_FIELD(frnn_dense_spec, num_threads), FRNN_FIELD(frnn_dense_spec, precision),
    FRNN_FIELD(frnn_dense_spec, has_bias),    FRNN_FIELD(frnn_dense_spec, reserved),
};

#undef FRNN_FIELD

template <std::size_t N>
constexpr StructLayout describe(const char* name, std::size_t size, const FieldLayout (&fields)[N]) {
    return {name, size, fields, N};
}

const StructLayout struct_layouts[] = {
    describe("frnn_activation", sizeof(frnn_activation), activation_fields),
    describe("frnn_cell_activations", sizeof(frnn_cell_activations), cell_activations_fields),
    describe("frnn_model_spec", sizeof(frnn_model_spec), model_spec_fields),
    describe("frnn_layer_weights", sizeof(frnn_layer_weights), layer_weights_fields),
    describe("frnn_forward_args", sizeof(frnn_forward_args), forward_args_fields),
    describe("frnn_slot_step_args", sizeof(frnn_slot_step_args), slot_step_args_fields),
    describe("frnn_dense_spec", sizeof(frnn_dense_spec), dense_spec_fields),
};

const StructLayout& find_struct(const char* struct_name) {
    require_not_null(struct_name, "struct_name");
    for (const StructLayout& layout : struct_layouts) {
        if (std::strcmp(layout.name, struct_name) == 0) {
            return layout;
        }
    }
    fail(FRNN_STATUS_INVALID_ARGUMENT, std::string("unknown struct '") + struct_name +
                                           "'; known: frnn_activation, frnn_cell_activations, frnn_model_spec, frnn_layer_weights, "
                                           "frnn_forward_args, frnn_slot_step_args, frnn_dense_spec");
}

}  // namespace

int64_t struct_size(const char* struct_name) { return static_cast<int64_t>(find_struct(struct_name).size); }

int64_t struct_field_offset(const char* struct_name, const char* field_name) {
    const StructLayout& layout = find_struct(struct_name);
    require_not_null(field_name, "field_name");
    for (std::size_t index = 0; index < layout.field_count; ++index) {
        if (std::strcmp(layout.fields[index].name, field_name) == 0) {
            return static_cast<int64_t>(layout.fields[index].offset);
        }
    }
    fail(FRNN_STATUS_INVALID_ARGUMENT, std::string("struct '") + struct_name + "' has no field '" + field_name + "'");
}

}  // namespace fusedrnn
