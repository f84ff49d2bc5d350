// Status / Result<T>: recoverable errors (bad model, I/O, device failure) travel as values, never as exceptions.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace itscam {

// kDevice: a transient device failure (retry may succeed). kOutOfMemory: the device or host ran out of memory.
// kDeviceLost: a sticky device failure (illegal address, ECC, lost context); the context must be rebuilt.
// kUnavailable: a resource is temporarily unavailable (source disconnected, circuit open).
enum class StatusCode {
    kOk = 0,
    kInvalidArgument,
    kNotFound,
    kUnsupported,
    kCorrupt,
    kIo,
    kInternal,
    kDevice,
    kOutOfMemory,
    kDeviceLost,
    kUnavailable,
    kCancelled,
};

const char* status_code_name(StatusCode code);

class [[nodiscard]] Status {
public:
    Status() = default;
    Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

    static Status ok() { return {}; }
    bool is_ok() const { return code_ == StatusCode::kOk; }
    explicit operator bool() const { return is_ok(); }
    StatusCode code() const { return code_; }
    const std::string& message() const { return message_; }
    // "Unsupported: node '/model.0/Foo' (op Foo): ..." style text for users.
    std::string to_string() const;
    // Prefixes the message with more context ("while importing x.onnx: ...").
    Status with_context(const std::string& context) const;

private:
    StatusCode code_ = StatusCode::kOk;
    std::string message_;
};

inline Status invalid_argument(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
inline Status not_found(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
inline Status unsupported(std::string m) { return {StatusCode::kUnsupported, std::move(m)}; }
inline Status corrupt(std::string m) { return {StatusCode::kCorrupt, std::move(m)}; }
inline Status io_error(std::string m) { return {StatusCode::kIo, std::move(m)}; }
inline Status internal_error(std::string m) { return {StatusCode::kInternal, std::move(m)}; }
inline Status device_error(std::string m) { return {StatusCode::kDevice, std::move(m)}; }
inline Status out_of_memory(std::string m) { return {StatusCode::kOutOfMemory, std::move(m)}; }
inline Status device_lost(std::string m) { return {StatusCode::kDeviceLost, std::move(m)}; }
inline Status unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
inline Status cancelled(std::string m) { return {StatusCode::kCancelled, std::move(m)}; }

template <typename T>
class [[nodiscard]] Result {
public:
    Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
    Result(Status status) : v_(std::move(status)) { assert(!std::get<Status>(v_).is_ok()); }  // NOLINT

    bool is_ok() const { return std::holds_alternative<T>(v_); }
    explicit operator bool() const { return is_ok(); }
    const Status& status() const {
        static const Status kOk;
        return is_ok() ? kOk : std::get<Status>(v_);
    }
    T& value() & { return std::get<T>(v_); }
    const T& value() const& { return std::get<T>(v_); }
    T&& value() && { return std::get<T>(std::move(v_)); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }
    T&& operator*() && { return std::move(*this).value(); }

private:
    std::variant<T, Status> v_;
};

#define ITSCAM_CONCAT_INNER(a, b) a##b
#define ITSCAM_CONCAT(a, b) ITSCAM_CONCAT_INNER(a, b)

// Returns the Status from the enclosing function when `expr` fails.
#define ITSCAM_RETURN_IF_ERROR(expr)                 \
    do {                                             \
        ::itscam::Status _st = (expr);               \
        if (!_st.is_ok()) return _st;                \
    } while (0)

#define ITSCAM_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
    auto tmp = (expr);                               \
    if (!tmp.is_ok()) return tmp.status();           \
    lhs = std::move(tmp).value()

// `ITSCAM_ASSIGN_OR_RETURN(auto x, make_x());`
#define ITSCAM_ASSIGN_OR_RETURN(lhs, expr) \
    ITSCAM_ASSIGN_OR_RETURN_IMPL(ITSCAM_CONCAT(_res_, __LINE__), lhs, expr)

// Invariant checks: a failure is a bug in itscam, not bad input.
[[noreturn]] void check_failed(const char* expr, const char* file, int line, const std::string& msg);
#define ITSCAM_CHECK(cond, ...) \
    do {                        \
        if (!(cond)) ::itscam::check_failed(#cond, __FILE__, __LINE__, std::string(__VA_ARGS__)); \
    } while (0)

}  // namespace itscam
