// Sizes and field offsets of every struct in fusedrnn.h, as compiled here, so managed code can prove its
// declarations match (frnn_struct_size / frnn_struct_field_offset).
#pragma once

#include <cstdint>

namespace fusedrnn {

// Throw INVALID_ARGUMENT naming the unknown struct or field.
int64_t struct_size(const char* struct_name);
int64_t struct_field_offset(const char* struct_name, const char* field_name);

}  // namespace fusedrnn
