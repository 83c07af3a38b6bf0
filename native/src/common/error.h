// Errors inside the library are C++ exceptions; guard_api_call turns them into an frnn_status and the
// thread-local message at the C boundary, so no exception ever crosses it.
#pragma once

#include <fusedrnn.h>

#include <new>
#include <stdexcept>
#include <string>

namespace fusedrnn {

// A failure the caller can act on: a status and a message naming the argument at fault.
class ApiError : public std::runtime_error {
public:
    ApiError(frnn_status status, const std::string& message) : std::runtime_error(message), status_(status) {}
    frnn_status status() const noexcept { return status_; }

private:
    frnn_status status_;
};

[[noreturn]] inline void fail(frnn_status status, const std::string& message) { throw ApiError(status, message); }

template <class T>
void require_not_null(const T* pointer, const char* name) {
    if (pointer == nullptr) {
        fail(FRNN_STATUS_NULL_POINTER, std::string(name) + " is NULL");
    }
}

// Stores "<function>: <message>" as this thread's last error; never allocates or throws.
void set_last_error(const char* function_name, const char* message) noexcept;
const char* last_error_message() noexcept;

// Runs body (a callable returning void) and maps what it throws to a status; every exported function that
// returns frnn_status is one call of this.
template <class Body>
frnn_status guard_api_call(const char* function_name, Body&& body) noexcept {
    try {
        body();
        return FRNN_STATUS_OK;
    } catch (const ApiError& error) {
        set_last_error(function_name, error.what());
        return error.status();
    } catch (const std::bad_alloc&) {
        set_last_error(function_name, "out of memory");
        return FRNN_STATUS_OUT_OF_MEMORY;
    } catch (const std::exception& error) {
        set_last_error(function_name, error.what());
        return FRNN_STATUS_INTERNAL;
    } catch (...) {
        set_last_error(function_name, "unknown internal error");
        return FRNN_STATUS_INTERNAL;
    }
}

}  // namespace fusedrnn
