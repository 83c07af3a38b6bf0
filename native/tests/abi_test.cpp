// The ABI self-report: version, struct layouts as the managed side will check them, the kernel ISA.
#include "cpu/cpu_features.h"
#include "test_support.h"

#include <cstddef>
#include <cstring>
#include <utility>

namespace fusedrnn::test {
namespace {

TEST(Abi, VersionMatchesTheHeader) { EXPECT_EQ(frnn_abi_version(), static_cast<uint32_t>(FRNN_ABI_VERSION)); }

TEST(Abi, StatusAndCellKindValuesAreFixed) {
    EXPECT_EQ(FRNN_STATUS_OK, 0);
    EXPECT_EQ(FRNN_STATUS_INVALID_ARGUMENT, 1);
    EXPECT_EQ(FRNN_STATUS_NULL_POINTER, 2);
    EXPECT_EQ(FRNN_STATUS_SHAPE_MISMATCH, 3);
    EXPECT_EQ(FRNN_STATUS_INVALID_HANDLE, 4);
    EXPECT_EQ(FRNN_STATUS_OUT_OF_MEMORY, 5);
    EXPECT_EQ(FRNN_STATUS_UNSUPPORTED, 6);
    EXPECT_EQ(FRNN_STATUS_INTERNAL, 7);
    EXPECT_EQ(FRNN_CELL_LSTM, 0);
    EXPECT_EQ(FRNN_CELL_GRU, 1);
    EXPECT_EQ(FRNN_CELL_RNN_TANH, 2);
    EXPECT_EQ(FRNN_CELL_RNN_RELU, 3);
}

int64_t reported_size(const char* struct_name) {
    int64_t size = -1;
    EXPECT_EQ(frnn_struct_size(struct_name, &size), FRNN_STATUS_OK) << frnn_last_error();
    return size;
}

int64_t reported_offset(const char* struct_name, const char* field_name) {
    int64_t offset = -1;
    EXPECT_EQ(frnn_struct_field_offset(struct_name, field_name, &offset), FRNN_STATUS_OK) << frnn_last_error();
    return offset;
}

#define EXPECT_FIELD(type, field) \
    EXPECT_EQ(reported_offset(#type, #field), static_cast<int64_t>(offsetof(type, field))) << #type "." #field

TEST(Abi, StructLayoutReportMatchesThisCompiler) {
    EXPECT_EQ(reported_size("frnn_model_spec"), static_cast<int64_t>(sizeof(frnn_model_spec)));
    EXPECT_FIELD(frnn_model_spec, struct_size);
    EXPECT_FIELD(frnn_model_spec, cell_kind);
    EXPECT_FIELD(frnn_model_spec, input_size);
    EXPECT_FIELD(frnn_model_spec, hidden_size);
    EXPECT_FIELD(frnn_model_spec, num_layers);
    EXPECT_FIELD(frnn_model_spec, num_directions);
    EXPECT_FIELD(frnn_model_spec, proj_size);
    EXPECT_FIELD(frnn_model_spec, num_threads);
    EXPECT_FIELD(frnn_model_spec, precision);
    EXPECT_FIELD(frnn_model_spec, has_bias);
    EXPECT_FIELD(frnn_model_spec, has_peepholes);
    EXPECT_FIELD(frnn_model_spec, coupled_input_forget);
    EXPECT_FIELD(frnn_model_spec, reset_before_product);
    EXPECT_FIELD(frnn_model_spec, clip);
    EXPECT_FIELD(frnn_model_spec, forward_activations);
    EXPECT_FIELD(frnn_model_spec, reverse_activations);
    EXPECT_FIELD(frnn_model_spec, reserved);

    EXPECT_EQ(reported_size("frnn_layer_weights"), static_cast<int64_t>(sizeof(frnn_layer_weights)));
    EXPECT_FIELD(frnn_layer_weights, weight_ih);
    EXPECT_FIELD(frnn_layer_weights, weight_ih_count);
    EXPECT_FIELD(frnn_layer_weights, weight_hh);
    EXPECT_FIELD(frnn_layer_weights, weight_hh_count);
    EXPECT_FIELD(frnn_layer_weights, bias_ih);
    EXPECT_FIELD(frnn_layer_weights, bias_ih_count);
    EXPECT_FIELD(frnn_layer_weights, bias_hh);
    EXPECT_FIELD(frnn_layer_weights, bias_hh_count);
    EXPECT_FIELD(frnn_layer_weights, weight_hr);
    EXPECT_FIELD(frnn_layer_weights, weight_hr_count);
    EXPECT_FIELD(frnn_layer_weights, weight_p);
    EXPECT_FIELD(frnn_layer_weights, weight_p_count);

    EXPECT_EQ(reported_size("frnn_activation"), static_cast<int64_t>(sizeof(frnn_activation)));
    EXPECT_FIELD(frnn_activation, kind);
    EXPECT_FIELD(frnn_activation, alpha);
    EXPECT_FIELD(frnn_activation, beta);
    EXPECT_EQ(reported_size("frnn_cell_activations"), static_cast<int64_t>(sizeof(frnn_cell_activations)));
    EXPECT_FIELD(frnn_cell_activations, gates);
    EXPECT_FIELD(frnn_cell_activations, candidate);
    EXPECT_FIELD(frnn_cell_activations, output);

    EXPECT_EQ(reported_size("frnn_forward_args"), static_cast<int64_t>(sizeof(frnn_forward_args)));
    EXPECT_FIELD(frnn_forward_args, seq_len);
    EXPECT_FIELD(frnn_forward_args, batch);
    EXPECT_FIELD(frnn_forward_args, batch_first);
    EXPECT_FIELD(frnn_forward_args, reserved);
    EXPECT_FIELD(frnn_forward_args, x);
    EXPECT_FIELD(frnn_forward_args, x_count);
    EXPECT_FIELD(frnn_forward_args, h0);
    EXPECT_FIELD(frnn_forward_args, h0_count);
    EXPECT_FIELD(frnn_forward_args, c0);
    EXPECT_FIELD(frnn_forward_args, c0_count);
    EXPECT_FIELD(frnn_forward_args, lengths);
    EXPECT_FIELD(frnn_forward_args, lengths_count);
    EXPECT_FIELD(frnn_forward_args, y);
    EXPECT_FIELD(frnn_forward_args, y_count);
    EXPECT_FIELD(frnn_forward_args, hn);
    EXPECT_FIELD(frnn_forward_args, hn_count);
    EXPECT_FIELD(frnn_forward_args, cn);
    EXPECT_FIELD(frnn_forward_args, cn_count);

    EXPECT_EQ(reported_size("frnn_slot_step_args"), static_cast<int64_t>(sizeof(frnn_slot_step_args)));
    EXPECT_FIELD(frnn_slot_step_args, batch);
    EXPECT_FIELD(frnn_slot_step_args, slot_count);
    EXPECT_FIELD(frnn_slot_step_args, slots);
    EXPECT_FIELD(frnn_slot_step_args, slots_count);
    EXPECT_FIELD(frnn_slot_step_args, state);
    EXPECT_FIELD(frnn_slot_step_args, state_bytes);
    EXPECT_FIELD(frnn_slot_step_args, x);
    EXPECT_FIELD(frnn_slot_step_args, x_count);
    EXPECT_FIELD(frnn_slot_step_args, y);
    EXPECT_FIELD(frnn_slot_step_args, y_count);

    EXPECT_EQ(reported_size("frnn_dense_spec"), static_cast<int64_t>(sizeof(frnn_dense_spec)));
    EXPECT_FIELD(frnn_dense_spec, struct_size);
    EXPECT_FIELD(frnn_dense_spec, input_size);
    EXPECT_FIELD(frnn_dense_spec, output_size);
    EXPECT_FIELD(frnn_dense_spec, activation);
    EXPECT_FIELD(frnn_dense_spec, num_threads);
    EXPECT_FIELD(frnn_dense_spec, precision);
    EXPECT_FIELD(frnn_dense_spec, has_bias);
    EXPECT_FIELD(frnn_dense_spec, reserved);
}

// The sizes the managed declarations are written against (LP64 / LLP64 with 8-byte pointers).
TEST(Abi, StructSizesHaveNoHiddenPadding) {
    static_assert(sizeof(void*) == 8, "the ABI is defined for 64-bit targets");
    EXPECT_EQ(sizeof(frnn_activation), 12u);
    EXPECT_EQ(sizeof(frnn_cell_activations), 36u);
    EXPECT_EQ(sizeof(frnn_model_spec), 120u);
    EXPECT_EQ(sizeof(frnn_layer_weights), 96u);
    EXPECT_EQ(sizeof(frnn_forward_args), 128u);
    EXPECT_EQ(offsetof(frnn_forward_args, x), 16u);
    EXPECT_EQ(sizeof(frnn_slot_step_args), 72u);
    EXPECT_EQ(sizeof(frnn_dense_spec), 32u);
}

TEST(Abi, LayoutReportRejectsUnknownNamesAndNulls) {
    int64_t value = 0;
    EXPECT_EQ(frnn_struct_size("frnn_no_such_struct", &value), FRNN_STATUS_INVALID_ARGUMENT);
    EXPECT_THAT(std::string(frnn_last_error()), ::testing::HasSubstr("unknown struct 'frnn_no_such_struct'"));
    EXPECT_EQ(frnn_struct_field_offset("frnn_model_spec", "no_such_field", &value), FRNN_STATUS_INVALID_ARGUMENT);
    EXPECT_THAT(std::string(frnn_last_error()),
                ::testing::HasSubstr("struct 'frnn_model_spec' has no field 'no_such_field'"));
    EXPECT_EQ(frnn_struct_field_offset("frnn_nope", "x", &value), FRNN_STATUS_INVALID_ARGUMENT);
    EXPECT_EQ(frnn_struct_size(nullptr, &value), FRNN_STATUS_NULL_POINTER);
    EXPECT_EQ(frnn_struct_size("frnn_model_spec", nullptr), FRNN_STATUS_NULL_POINTER);
    EXPECT_THAT(std::string(frnn_last_error()), ::testing::HasSubstr("out_size is NULL"));
    EXPECT_EQ(frnn_struct_field_offset("frnn_model_spec", nullptr, &value), FRNN_STATUS_NULL_POINTER);
    EXPECT_EQ(frnn_struct_field_offset("frnn_model_spec", "has_bias", nullptr), FRNN_STATUS_NULL_POINTER);
}

TEST(Abi, IsaNameIsReported) {
    const char* name = nullptr;
    ASSERT_EQ(frnn_isa_name(&name), FRNN_STATUS_OK);
    ASSERT_NE(name, nullptr);
    // The best set this CPU supports, or the one FUSEDRNN_ISA asks for if it can run here, else the next lower;
    // an unknown name asks for nothing.
    const std::pair<std::string, bool> sets[] = {
        {"avx512", cpu_has_avx512()}, {"avx2", cpu_has_avx2_fma()}, {"reference", true}};
    const std::string requested = requested_isa();
    bool at_or_below_requested = requested.empty();
    std::string expected;
    for (const auto& [set, supported] : sets) {
        at_or_below_requested = at_or_below_requested || set == requested;
        if (at_or_below_requested && supported && expected.empty()) {
            expected = set;
        }
    }
    EXPECT_EQ(std::string(name), expected);
    EXPECT_EQ(frnn_isa_name(nullptr), FRNN_STATUS_NULL_POINTER);
}

}  // namespace
}  // namespace fusedrnn::test
