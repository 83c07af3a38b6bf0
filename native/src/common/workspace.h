#pragma once

#include "common/aligned_buffer.h"
#include "common/handle_registry.h"

#include <cstddef>
#include <cstdint>

// The object behind an frnn_workspace handle: one growable aligned arena the backend carves per call.
struct frnn_workspace {
    uint64_t model_serial;  // the model it was created for
    fusedrnn::AlignedFloats arena;

    // At least `count` floats; reallocates only when the arena is smaller, so steady-state calls don't allocate.
    float* reserve(std::size_t count) {
        if (arena.size() < count) {
            arena = fusedrnn::AlignedFloats();  // free first: old and new never coexist
            arena = fusedrnn::AlignedFloats(count);
        }
        return arena.data();
    }
};

namespace fusedrnn {

HandleRegistry<frnn_workspace>& workspace_registry();

}  // namespace fusedrnn
