#include "common/error.h"

#include <cstdio>

namespace fusedrnn {
namespace {

// A fixed buffer rather than std::string: recording an out-of-memory failure must not need memory.
thread_local char last_error[1024] = "";

}  // namespace

void set_last_error(const char* function_name, const char* message) noexcept {
    std::snprintf(last_error, sizeof last_error, "%s: %s", function_name, message);
}

const char* last_error_message() noexcept { return last_error; }

}  // namespace fusedrnn
