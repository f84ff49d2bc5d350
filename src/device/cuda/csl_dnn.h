// csl for cuDNN and cuBLAS (the CUDA backend's libraries): the status mapping into itscam Status codes (the same
// classes as csl::cuda_status: allocation failures are kOutOfMemory), the CHECK macros and RAII handles.
// Header-only. Thread-safety: the functions are pure; a handle is used by one thread at a time.
#pragma once

#include <cublas_v2.h>
#include <cudnn.h>

#include <string>

#include "device/cuda/csl.h"

namespace itscam::csl {

inline Status cudnn_status(cudnnStatus_t e, const char* what) {
    if (e == CUDNN_STATUS_SUCCESS) return Status::ok();
    const std::string msg = std::string(what) + ": " + cudnnGetErrorString(e);
    if (e == CUDNN_STATUS_ALLOC_FAILED) return Status(StatusCode::kOutOfMemory, msg);
    if (e == CUDNN_STATUS_NOT_SUPPORTED) return Status(StatusCode::kUnsupported, msg);
    return Status(StatusCode::kDevice, msg);
}

inline const char* cublas_name(cublasStatus_t e) {
    switch (e) {
        case CUBLAS_STATUS_NOT_INITIALIZED:
            return "CUBLAS_STATUS_NOT_INITIALIZED";
        case CUBLAS_STATUS_ALLOC_FAILED:
            return "CUBLAS_STATUS_ALLOC_FAILED";
        case CUBLAS_STATUS_INVALID_VALUE:
            return "CUBLAS_STATUS_INVALID_VALUE";
        case CUBLAS_STATUS_ARCH_MISMATCH:
            return "CUBLAS_STATUS_ARCH_MISMATCH";
        case CUBLAS_STATUS_EXECUTION_FAILED:
            return "CUBLAS_STATUS_EXECUTION_FAILED";
        case CUBLAS_STATUS_NOT_SUPPORTED:
            return "CUBLAS_STATUS_NOT_SUPPORTED";
        default:
            return "CUBLAS_STATUS_ERROR";
    }
}

inline Status cublas_status(cublasStatus_t e, const char* what) {
    if (e == CUBLAS_STATUS_SUCCESS) return Status::ok();
    const std::string msg = std::string(what) + ": " + cublas_name(e);
    if (e == CUBLAS_STATUS_ALLOC_FAILED) return Status(StatusCode::kOutOfMemory, msg);
    return Status(StatusCode::kDevice, msg);
}

#define ITSCAM_CUDNN_CHECK(expr) ITSCAM_RETURN_IF_ERROR(::itscam::csl::cudnn_status((expr), #expr))
#define ITSCAM_CUBLAS_CHECK(expr) ITSCAM_RETURN_IF_ERROR(::itscam::csl::cublas_status((expr), #expr))

struct CudnnDel {
    static void release(cudnnHandle_t h) { cudnnDestroy(h); }
};
struct CublasDel {
    static void release(cublasHandle_t h) { cublasDestroy(h); }
};
struct TensorDescDel {
    static void release(cudnnTensorDescriptor_t d) { cudnnDestroyTensorDescriptor(d); }
};
struct FilterDescDel {
    static void release(cudnnFilterDescriptor_t d) { cudnnDestroyFilterDescriptor(d); }
};
struct ConvDescDel {
    static void release(cudnnConvolutionDescriptor_t d) { cudnnDestroyConvolutionDescriptor(d); }
};

using Cudnn = Handle<cudnnHandle_t, CudnnDel>;
using Cublas = Handle<cublasHandle_t, CublasDel>;
using TensorDesc = Handle<cudnnTensorDescriptor_t, TensorDescDel>;
using FilterDesc = Handle<cudnnFilterDescriptor_t, FilterDescDel>;
using ConvDesc = Handle<cudnnConvolutionDescriptor_t, ConvDescDel>;

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

}  // namespace itscam::csl
