#include "common/model.h"

#include "common/shape_checks.h"

#include <atomic>

namespace fusedrnn {
namespace {

std::atomic<uint64_t> next_model_serial{1};

}  // namespace

std::unique_ptr<frnn_model> create_model(const frnn_model_spec& spec, const frnn_layer_weights* weights,
                                         int32_t weights_count) {
    ModelShape shape = validate_spec(&spec);
    validate_weights(shape, weights, weights_count);

    auto model = std::make_unique<frnn_model>();
    model->spec = spec;
    model->shape = shape;
    model->serial = next_model_serial.fetch_add(1, std::memory_order_relaxed);
    model->backend = library_backend().create_model(spec, shape, weights, weights_count);
    return model;
}

HandleRegistry<frnn_model>& model_registry() {
    static HandleRegistry<frnn_model> registry("frnn_model");
    return registry;
}

}  // namespace fusedrnn
