#include "common/dense.h"

#include "common/shape_checks.h"

namespace fusedrnn {

std::unique_ptr<frnn_dense> create_dense(const frnn_dense_spec& spec, const float* weight, int64_t weight_count,
                                         const float* bias, int64_t bias_count) {
    const DenseShape shape = validate_dense(spec, weight, weight_count, bias, bias_count);
    auto dense = std::make_unique<frnn_dense>();
    dense->spec = spec;
    dense->shape = shape;
    dense->backend = library_backend().create_dense(spec, shape, weight, bias);
    return dense;
}

HandleRegistry<frnn_dense>& dense_registry() {
    static HandleRegistry<frnn_dense> registry("frnn_dense");
    return registry;
}

}  // namespace fusedrnn
