#pragma once

#include "common/aligned_buffer.h"
#include "common/handle_registry.h"
#include "common/worker_team.h"

#include <cstddef>
#include <cstdint>
#include <memory>

// The object behind an frnn_workspace handle: one growable aligned arena the backend carves per call, and the
// worker threads of a multi-threaded model. The arena holds doubles: the state, gate pre-activations and layer
// outputs are computed and kept in float64 (see "Precision" in native/README.md). Threads belong here, not to
// the model, because a model is shared by callers that each bring their own workspace.
struct frnn_workspace {
    uint64_t model_serial;  // the model it was created for
    int64_t chunk_budget_bytes;  // bound on a call's chunk buffers (cpu/forward.cpp), from chunk_budget_bytes()
    fusedrnn::AlignedDoubles arena;
    std::unique_ptr<fusedrnn::WorkerTeam> team;  // created by the first forward that uses threads

    // At least `count` doubles; reallocates only when the arena is smaller, so steady-state calls don't allocate.
    double* reserve(std::size_t count) {
        if (arena.size() < count) {
            arena = fusedrnn::AlignedDoubles();  // free first: old and new never coexist
            arena = fusedrnn::AlignedDoubles(count);
        }
        return arena.data();
    }
};

namespace fusedrnn {

HandleRegistry<frnn_workspace>& workspace_registry();

// What the chunk buffers of one forward call (a chunk of steps' widened x and input projection) may take, about:
// 64 MiB, or the bytes FUSEDRNN_CHUNK_BYTES names (a positive decimal integer) when the workspace is created; the
// tests set it small to make small calls run in many chunks. Another value prints one warning line on stderr (once
// per process) and keeps the default.
int64_t chunk_budget_bytes();

}  // namespace fusedrnn
