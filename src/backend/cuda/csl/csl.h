// csl: small RAII wrappers over the CUDA runtime, cuDNN and cuBLAS handles, and the macros that turn their error
// codes into itscam Status values. Header-only; used by the CUDA backend (.cpp files compiled by the host compiler).
//
// Every wrapper is move-only and releases its handle in the destructor; release errors are ignored (a destructor
// must not throw, and a failed free means the context is already lost, which the next call reports).
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <string>
#include <utility>

#include "core/status.h"

namespace itscam::csl {

// CUDA runtime errors: out-of-memory, sticky (context lost) and the rest, mapped so the circuit breaker can tell them
// apart (kOutOfMemory opens the circuit after a few; kDeviceLost at once).
inline Status cuda_status(cudaError_t e, const char* what) {
    if (e == cudaSuccess) return Status::ok();
    const std::string msg = std::string(what) + ": " + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")";
    switch (e) {
        case cudaErrorMemoryAllocation: return Status(StatusCode::kOutOfMemory, msg);
        case cudaErrorIllegalAddress:
        case cudaErrorLaunchFailure:
        case cudaErrorHardwareStackError:
        case cudaErrorIllegalInstruction:
        case cudaErrorMisalignedAddress:
        case cudaErrorInvalidAddressSpace:
        case cudaErrorInvalidPc:
        case cudaErrorECCUncorrectable:
        case cudaErrorDevicesUnavailable:
        case cudaErrorNoDevice:
        case cudaErrorInsufficientDriver:
            return Status(StatusCode::kDeviceLost, msg);
        default: return Status(StatusCode::kDevice, msg);
    }
}

inline Status cudnn_status(cudnnStatus_t e, const char* what) {
    if (e == CUDNN_STATUS_SUCCESS) return Status::ok();
    const std::string msg = std::string(what) + ": " + cudnnGetErrorString(e);
    if (e == CUDNN_STATUS_ALLOC_FAILED) return Status(StatusCode::kOutOfMemory, msg);
    if (e == CUDNN_STATUS_NOT_SUPPORTED) return Status(StatusCode::kUnsupported, msg);
    return Status(StatusCode::kDevice, msg);
}

inline const char* cublas_name(cublasStatus_t e) {
    switch (e) {
        case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
        case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
        case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
        case CUBLAS_STATUS_ARCH_MISMATCH: return "CUBLAS_STATUS_ARCH_MISMATCH";
        case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
        case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
        default: return "CUBLAS_STATUS_ERROR";
    }
}

inline Status cublas_status(cublasStatus_t e, const char* what) {
    if (e == CUBLAS_STATUS_SUCCESS) return Status::ok();
    const std::string msg = std::string(what) + ": " + cublas_name(e);
    if (e == CUBLAS_STATUS_ALLOC_FAILED) return Status(StatusCode::kOutOfMemory, msg);
    return Status(StatusCode::kDevice, msg);
}

#define ITSCAM_CUDA_CHECK(expr) ITSCAM_RETURN_IF_ERROR(::itscam::csl::cuda_status((expr), #expr))
#define ITSCAM_CUDNN_CHECK(expr) ITSCAM_RETURN_IF_ERROR(::itscam::csl::cudnn_status((expr), #expr))
#define ITSCAM_CUBLAS_CHECK(expr) ITSCAM_RETURN_IF_ERROR(::itscam::csl::cublas_status((expr), #expr))

// A unique owner of one handle, released by Deleter::release(handle).
template <typename H, typename Deleter>
class Handle {
public:
    Handle() = default;
    explicit Handle(H h) : h_(h) {}
    ~Handle() { reset(); }
    Handle(Handle&& o) noexcept : h_(std::exchange(o.h_, H{})) {}
    Handle& operator=(Handle&& o) noexcept {
        if (this != &o) {
            reset();
            h_ = std::exchange(o.h_, H{});
        }
        return *this;
    }
    Handle(const Handle&) = delete;
    Handle& operator=(const Handle&) = delete;
    H get() const { return h_; }
    explicit operator bool() const { return h_ != H{}; }
    void reset() {
        if (h_ != H{}) Deleter::release(h_);
        h_ = H{};
    }

private:
    H h_{};
};

struct StreamDel { static void release(cudaStream_t s) { cudaStreamDestroy(s); } };
struct EventDel { static void release(cudaEvent_t e) { cudaEventDestroy(e); } };
struct GraphDel { static void release(cudaGraph_t g) { cudaGraphDestroy(g); } };
struct GraphExecDel { static void release(cudaGraphExec_t g) { cudaGraphExecDestroy(g); } };
struct DeviceMemDel { static void release(void* p) { cudaFree(p); } };
struct HostMemDel { static void release(void* p) { cudaFreeHost(p); } };
struct CudnnDel { static void release(cudnnHandle_t h) { cudnnDestroy(h); } };
struct CublasDel { static void release(cublasHandle_t h) { cublasDestroy(h); } };
struct TensorDescDel { static void release(cudnnTensorDescriptor_t d) { cudnnDestroyTensorDescriptor(d); } };
struct FilterDescDel { static void release(cudnnFilterDescriptor_t d) { cudnnDestroyFilterDescriptor(d); } };
struct ConvDescDel { static void release(cudnnConvolutionDescriptor_t d) { cudnnDestroyConvolutionDescriptor(d); } };

using Stream = Handle<cudaStream_t, StreamDel>;
using Event = Handle<cudaEvent_t, EventDel>;
using Graph = Handle<cudaGraph_t, GraphDel>;
using GraphExec = Handle<cudaGraphExec_t, GraphExecDel>;
using DeviceMem = Handle<void*, DeviceMemDel>;
using HostMem = Handle<void*, HostMemDel>;
using Cudnn = Handle<cudnnHandle_t, CudnnDel>;
using Cublas = Handle<cublasHandle_t, CublasDel>;
using TensorDesc = Handle<cudnnTensorDescriptor_t, TensorDescDel>;
using FilterDesc = Handle<cudnnFilterDescriptor_t, FilterDescDel>;
using ConvDesc = Handle<cudnnConvolutionDescriptor_t, ConvDescDel>;

inline Result<DeviceMem> device_alloc(size_t bytes) {
    void* p = nullptr;
    if (bytes == 0) bytes = 256;
    ITSCAM_CUDA_CHECK(cudaMalloc(&p, bytes));
    return DeviceMem(p);
}

inline Result<HostMem> pinned_alloc(size_t bytes) {
    void* p = nullptr;
    if (bytes == 0) bytes = 256;
    ITSCAM_CUDA_CHECK(cudaHostAlloc(&p, bytes, cudaHostAllocDefault));
    return HostMem(p);
}

inline Result<Event> make_event(bool timing) {
    cudaEvent_t e = nullptr;
    ITSCAM_CUDA_CHECK(cudaEventCreateWithFlags(&e, timing ? cudaEventDefault : cudaEventDisableTiming));
    return Event(e);
}

inline Result<TensorDesc> make_tensor_desc() {
    cudnnTensorDescriptor_t d = nullptr;
    ITSCAM_CUDNN_CHECK(cudnnCreateTensorDescriptor(&d));
    return TensorDesc(d);
}

inline Result<FilterDesc> make_filter_desc() {
    cudnnFilterDescriptor_t d = nullptr;
    ITSCAM_CUDNN_CHECK(cudnnCreateFilterDescriptor(&d));
    return FilterDesc(d);
}

inline Result<ConvDesc> make_conv_desc() {
    cudnnConvolutionDescriptor_t d = nullptr;
    ITSCAM_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&d));
    return ConvDesc(d);
}

// Makes `device` current for the calling thread (every public entry point of the backend does this first).
inline Status set_device(int device) { return cuda_status(cudaSetDevice(device), "cudaSetDevice"); }

}  // namespace itscam::csl
