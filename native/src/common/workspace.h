#pragma once

#include "common/backend.h"
#include "common/handle_registry.h"

#include <cstdint>
#include <memory>
#include <vector>

// The object behind an frnn_workspace handle: what the calls that bring it reuse. Validation's scratch is common;
// the rest (scratch memory, the threads a call hires) is the library's backend's. A workspace belongs to one model
// (a model is shared by callers that each bring their own workspace).
struct frnn_workspace {
    uint64_t model_serial;              // the model it was created for
    std::vector<int32_t> sorted_slots;  // scratch of validate_slot_step
    std::unique_ptr<fusedrnn::BackendWorkspace> backend;
};

namespace fusedrnn {

HandleRegistry<frnn_workspace>& workspace_registry();

}  // namespace fusedrnn
