#include "common/workspace.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <mutex>

namespace fusedrnn {

HandleRegistry<frnn_workspace>& workspace_registry() {
    static HandleRegistry<frnn_workspace> registry("frnn_workspace");
    return registry;
}

int64_t chunk_budget_bytes() {
    // Enough that the shared benchmark workloads (the largest needs 66 MB) run in one chunk, as they did before
    // chunking existed; small next to the memory of any machine that would run a call that needs more.
    constexpr int64_t default_budget = int64_t{64} << 20;
    const char* text = std::getenv("FUSEDRNN_CHUNK_BYTES");
    if (text == nullptr || text[0] == '\0') {
        return default_budget;
    }
    char* end = nullptr;
    errno = 0;
    const long long value = std::strtoll(text, &end, 10);
    if (errno == 0 && *end == '\0' && value > 0) {
        return value;
    }
    static std::once_flag warned;
    std::call_once(warned, [&] {
        std::fprintf(stderr,
                     "fusedrnn: warning: FUSEDRNN_CHUNK_BYTES=%s is not a positive number of bytes; using %lld\n", text,
                     static_cast<long long>(default_budget));
    });
    return default_budget;
}

}  // namespace fusedrnn
