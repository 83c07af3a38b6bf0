#pragma once

#include "common/model.h"
#include "common/model_shape.h"
#include "common/workspace.h"

#include <fusedrnn.h>

namespace fusedrnn::cpu {

// Runs every layer and direction over validated arguments, with the active kernel set.
void forward(const frnn_model& model, frnn_workspace& workspace, const ForwardShape& shape,
             const frnn_forward_args& args);

// The state of an frnn_model_step_slots call: batch row b's h and c live in slot slots[b] of `state`.
struct SlotState {
    uint8_t* state;
    const int32_t* slots;
};

// One time step of validated frnn_slot_step_args: forward's walk with T = 1, the state read from and written back to
// the rows' slots.
void step_slots(const frnn_model& model, frnn_workspace& workspace, const frnn_slot_step_args& args);

}  // namespace fusedrnn::cpu
