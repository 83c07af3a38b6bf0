#pragma once

#include "common/dense.h"
#include "common/workspace.h"

namespace fusedrnn::cpu {

// Runs a dense layer on validated rows and buffers, with the active kernel set, on the workspace's threads.
void dense_forward(const frnn_dense& dense, frnn_workspace& workspace, int64_t rows, const float* x, float* y);

}  // namespace fusedrnn::cpu
