#pragma once

#include "common/model.h"
#include "common/model_shape.h"
#include "common/workspace.h"

#include <fusedrnn.h>

namespace fusedrnn::cpu {

// Runs every layer and direction over validated arguments, with the active kernel set.
void forward(const frnn_model& model, frnn_workspace& workspace, const ForwardShape& shape,
             const frnn_forward_args& args);

}  // namespace fusedrnn::cpu
