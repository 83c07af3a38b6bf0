// The seam between the C API and the backend that computes: api.cpp and common/ own the handles, the validation of
// every argument and the errors, and hand validated calls to a Backend, which keeps its own part of each model,
// workspace and dense layer (packed weights, scratch, threads). A shared library serves one backend, the one
// library_backend() returns: libfusedrnn the CPU's (cpu/cpu_backend.cpp).
#pragma once

#include "common/model_shape.h"

#include <fusedrnn.h>

#include <cstdint>
#include <memory>

struct frnn_model;
struct frnn_workspace;
struct frnn_dense;

namespace fusedrnn {

// A backend's part of a model: its weights as its kernels read them. Immutable after creation, like the model.
class BackendModel {
public:
    virtual ~BackendModel() = default;
};

// A backend's part of a workspace: what its calls reuse (scratch memory, the threads a call hires).
class BackendWorkspace {
public:
    virtual ~BackendWorkspace() = default;
};

// A backend's part of a dense layer: its weight and bias as its kernels read them.
class BackendDense {
public:
    virtual ~BackendDense() = default;
};

class Backend {
public:
    virtual ~Backend() = default;

    // What frnn_isa_name reports: the kernel set this process runs.
    virtual const char* kernel_set_name() const = 0;

    // The model's weights (validated against the spec and shape) in the backend's form; the spec's num_threads is
    // the backend's to interpret.
    virtual std::unique_ptr<BackendModel> create_model(const frnn_model_spec& spec, const ModelShape& shape,
                                                       const frnn_layer_weights* weights,
                                                       int32_t weights_count) const = 0;

    virtual std::unique_ptr<BackendWorkspace> create_workspace() const = 0;

    // A validated frnn_model_forward.
    virtual void forward(const frnn_model& model, frnn_workspace& workspace, const ForwardShape& call,
                         const frnn_forward_args& args) const = 0;

    // A validated frnn_model_step_slots.
    virtual void step_slots(const frnn_model& model, frnn_workspace& workspace,
                            const frnn_slot_step_args& args) const = 0;

    // A dense layer's validated weight [output_size, input_size] and bias (null without one).
    virtual std::unique_ptr<BackendDense> create_dense(const frnn_dense_spec& spec, const DenseShape& shape,
                                                       const float* weight, const float* bias) const = 0;

    // A validated frnn_dense_forward.
    virtual void dense_forward(const frnn_dense& dense, frnn_workspace& workspace, int64_t rows, const float* x,
                               float* y) const = 0;
};

// The backend of this library.
const Backend& library_backend();

}  // namespace fusedrnn
