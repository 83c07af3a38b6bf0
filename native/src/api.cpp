// The exported C functions: each one is a guard_api_call around C++ that validates its arguments first and hands the
// validated call to the library's backend (common/backend.h).
#include <fusedrnn.h>

#include "common/backend.h"
#include "common/checked_math.h"
#include "common/dense.h"
#include "common/error.h"
#include "common/model.h"
#include "common/shape_checks.h"
#include "common/struct_layout.h"
#include "common/workspace.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>

using namespace fusedrnn;

const char* frnn_last_error(void) { return last_error_message(); }

uint32_t frnn_abi_version(void) { return FRNN_ABI_VERSION; }

frnn_status frnn_struct_size(const char* struct_name, int64_t* out_size) {
    return guard_api_call("frnn_struct_size", [&] {
        require_not_null(out_size, "out_size");
        *out_size = struct_size(struct_name);
    });
}

frnn_status frnn_struct_field_offset(const char* struct_name, const char* field_name, int64_t* out_offset) {
    return guard_api_call("frnn_struct_field_offset", [&] {
        require_not_null(out_offset, "out_offset");
        *out_offset = struct_field_offset(struct_name, field_name);
    });
}

frnn_status frnn_isa_name(const char** out_name) {
    return guard_api_call("frnn_isa_name", [&] {
        require_not_null(out_name, "out_name");
        *out_name = library_backend().kernel_set_name();
    });
}

frnn_status frnn_model_create(const frnn_model_spec* spec, const frnn_layer_weights* weights, int32_t weights_count,
                              frnn_model** out_model) {
    return guard_api_call("frnn_model_create", [&] {
        require_not_null(out_model, "out_model");
        *out_model = nullptr;
        const frnn_model_spec known_spec = read_spec(spec);
        *out_model = model_registry().adopt(create_model(known_spec, weights, weights_count));
    });
}

frnn_status frnn_model_destroy(frnn_model* model) {
    return guard_api_call("frnn_model_destroy", [&] {
        if (model != nullptr) {
            model_registry().destroy(model, "model");
        }
    });
}

frnn_status frnn_model_get_spec(const frnn_model* model, frnn_model_spec* out_spec) {
    return guard_api_call("frnn_model_get_spec", [&] {
        require_not_null(out_spec, "out_spec");
        const frnn_model_spec& spec = model_registry().require_live(model, "model").spec;
        uint32_t caller_size = 0;
        std::memcpy(&caller_size, out_spec, sizeof caller_size);
        if (caller_size < first_model_spec_size) {
            fail(FRNN_STATUS_INVALID_ARGUMENT, "out_spec->struct_size is " + std::to_string(caller_size) +
                                                   "; set it to sizeof(frnn_model_spec) before the call");
        }
        const uint32_t copied = std::min<uint32_t>(caller_size, sizeof spec);
        std::memcpy(out_spec, &spec, copied);
        std::memcpy(out_spec, &copied, sizeof copied);
    });
}

frnn_status frnn_workspace_create(const frnn_model* model, frnn_workspace** out_workspace) {
    return guard_api_call("frnn_workspace_create", [&] {
        require_not_null(out_workspace, "out_workspace");
        *out_workspace = nullptr;
        auto workspace = std::make_unique<frnn_workspace>();
        workspace->model_serial = model_registry().require_live(model, "model").serial;
        workspace->backend = library_backend().create_workspace();
        *out_workspace = workspace_registry().adopt(std::move(workspace));
    });
}

frnn_status frnn_workspace_destroy(frnn_workspace* workspace) {
    return guard_api_call("frnn_workspace_destroy", [&] {
        if (workspace != nullptr) {
            workspace_registry().destroy(workspace, "workspace");
        }
    });
}

frnn_status frnn_model_forward(const frnn_model* model, frnn_workspace* workspace, const frnn_forward_args* args) {
    return guard_api_call("frnn_model_forward", [&] {
        const frnn_model& live_model = model_registry().require_live(model, "model");
        frnn_workspace& live_workspace = workspace_registry().require_live(workspace, "workspace");
        if (live_workspace.model_serial != live_model.serial) {
            fail(FRNN_STATUS_INVALID_ARGUMENT, "workspace was created for another model; create one per model");
        }
        const ForwardShape call = validate_forward_args(live_model.shape, args);
        library_backend().forward(live_model, live_workspace, call, *args);
    });
}

frnn_status frnn_model_slot_bytes(const frnn_model* model, int64_t* out_bytes) {
    return guard_api_call("frnn_model_slot_bytes", [&] {
        require_not_null(out_bytes, "out_bytes");
        const ModelShape& shape = model_registry().require_live(model, "model").shape;
        *out_bytes = checked_product({slot_values(shape), shape.precision == FRNN_PRECISION_FLOAT64 ? 8 : 4},
                                     "a stream's state slot");
    });
}

frnn_status frnn_model_step_slots(const frnn_model* model, frnn_workspace* workspace,
                                  const frnn_slot_step_args* args) {
    return guard_api_call("frnn_model_step_slots", [&] {
        const frnn_model& live_model = model_registry().require_live(model, "model");
        frnn_workspace& live_workspace = workspace_registry().require_live(workspace, "workspace");
        if (live_workspace.model_serial != live_model.serial) {
            fail(FRNN_STATUS_INVALID_ARGUMENT, "workspace was created for another model; create one per model");
        }
        validate_slot_step(live_model.shape, args, live_workspace.sorted_slots);
        library_backend().step_slots(live_model, live_workspace, *args);
    });
}

frnn_status frnn_dense_create(const frnn_dense_spec* spec, const float* weight, int64_t weight_count,
                              const float* bias, int64_t bias_count, frnn_dense** out_dense) {
    return guard_api_call("frnn_dense_create", [&] {
        require_not_null(out_dense, "out_dense");
        *out_dense = nullptr;
        const frnn_dense_spec known_spec = read_dense_spec(spec);
        *out_dense = dense_registry().adopt(create_dense(known_spec, weight, weight_count, bias, bias_count));
    });
}

frnn_status frnn_dense_destroy(frnn_dense* dense) {
    return guard_api_call("frnn_dense_destroy", [&] {
        if (dense != nullptr) {
            dense_registry().destroy(dense, "dense");
        }
    });
}

frnn_status frnn_dense_forward(const frnn_dense* dense, frnn_workspace* workspace, int64_t rows, const float* x,
                               int64_t x_count, float* y, int64_t y_count) {
    return guard_api_call("frnn_dense_forward", [&] {
        const frnn_dense& live_dense = dense_registry().require_live(dense, "dense");
        frnn_workspace& live_workspace = workspace_registry().require_live(workspace, "workspace");
        validate_dense_forward(live_dense.shape, rows, x, x_count, y, y_count);
        library_backend().dense_forward(live_dense, live_workspace, rows, x, y);
    });
}
