#include "device/cuda/cuda_device.h"

#include <cstring>

#include "device/host_device.h"
#include "device/registry.h"

namespace itscam::device {

namespace {

cudaStream_t cuda(void* s) {
    return static_cast<cudaStream_t>(s);
}

cudaEvent_t event(void* e) {
    return static_cast<cudaEvent_t>(e);
}

// cuda_status for a failed call, clearing the runtime's last-error state (the failure is reported here).
Status failed(cudaError_t e, const std::string& what) {
    if (e != cudaSuccess) (void)cudaGetLastError();
    return csl::cuda_status(e, what.c_str());
}

}  // namespace

CudaDevice::CudaDevice(int ordinal)
    : Device("cuda:" + std::to_string(ordinal), [](void* e) { (void)cudaEventDestroy(event(e)); }), ordinal_(ordinal) {}

void CudaDevice::configure(const DeviceSettings& s) {
    Device::configure(s);
    set_budget(s.gpu_memory_budget);
}

Status CudaDevice::available() {
    csl::DeviceScope scope(ordinal_);
    return csl::cuda_status(scope.error(), ("cudaSetDevice(" + std::to_string(ordinal_) + ")").c_str());
}

Result<MemoryKind> CudaDevice::memory_kind(MemoryKind want) {
    if (want == MemoryKind::kHost) return want;
    const Status ok = available();
    if (ok) return want;
    if (want == MemoryKind::kDevice) return ok.with_context(name() + " has no usable device memory");
    return MemoryKind::kHost;  // no usable GPU: pinned/mapped fall back to plain host memory
}

Result<void*> CudaDevice::memory_alloc(MemoryKind kind, size_t bytes, bool zero) {
    if (kind == MemoryKind::kHost) return host_memory_alloc(bytes, zero);
    bytes = std::max<size_t>(bytes, 1);
    csl::DeviceScope scope(ordinal_);
    if (scope.error() != cudaSuccess) return failed(scope.error(), "cudaSetDevice(" + std::to_string(ordinal_) + ")");
    void* p = nullptr;
    if (kind == MemoryKind::kDevice) {
        cudaError_t e = cudaMalloc(&p, bytes);
        if (e != cudaSuccess) return failed(e, "cudaMalloc(" + std::to_string(bytes) + ") on " + name());
        if (zero) {
            e = cudaMemset(p, 0, bytes);
            if (e == cudaSuccess) e = cudaDeviceSynchronize();
            if (e != cudaSuccess) {
                (void)cudaFree(p);
                return failed(e, "zeroing device memory on " + name());
            }
        }
        return p;
    }
    // Mapped memory is portable (every context may map it); pinned memory is plain page-locked memory.
    const unsigned flags =
        kind == MemoryKind::kMapped ? (cudaHostAllocMapped | cudaHostAllocPortable) : cudaHostAllocDefault;
    const cudaError_t e = cudaHostAlloc(&p, bytes, flags);
    if (e != cudaSuccess)
        return failed(e, std::string("cudaHostAlloc(") + std::to_string(bytes) + ", " + memory_kind_name(kind) + ")");
    if (zero) std::memset(p, 0, bytes);
    return p;
}

void CudaDevice::memory_free(MemoryKind kind, void* p) {
    if (!p) return;
    if (kind == MemoryKind::kHost) return host_memory_free(p);
    csl::DeviceScope scope(ordinal_);
    if (kind == MemoryKind::kDevice) {
        (void)cudaFree(p);
    } else {
        (void)cudaFreeHost(p);
    }
}

Result<void*> CudaDevice::native_stream_create() {
    csl::DeviceScope scope(ordinal_);
    if (scope.error() != cudaSuccess) return failed(scope.error(), "cudaSetDevice(" + std::to_string(ordinal_) + ")");
    cudaStream_t s = nullptr;
    ITSCAM_CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
    return static_cast<void*>(s);
}

Status CudaDevice::native_stream_synchronize(void* stream) {
    return csl::cuda_status(cudaStreamSynchronize(cuda(stream)), "cudaStreamSynchronize");
}

Status CudaDevice::native_memset(void* stream, void* dst, int value, size_t bytes) {
    csl::DeviceScope scope(ordinal_);
    return csl::cuda_status(cudaMemsetAsync(dst, value, bytes, cuda(stream)), "cudaMemsetAsync");
}

Result<void*> CudaDevice::native_event_create(bool timing) {
    csl::DeviceScope scope(ordinal_);
    if (scope.error() != cudaSuccess) return failed(scope.error(), "cudaSetDevice(" + std::to_string(ordinal_) + ")");
    ITSCAM_ASSIGN_OR_RETURN(csl::Event e, csl::make_event(timing));
    return static_cast<void*>(e.release());  // owned by the device::Event from here
}

Status CudaDevice::native_event_record(void* e, void* stream) {
    csl::DeviceScope scope(ordinal_);
    return csl::cuda_status(cudaEventRecord(event(e), cuda(stream)), "cudaEventRecord");
}

Result<bool> CudaDevice::native_event_done(void* e) {
    const cudaError_t r = cudaEventQuery(event(e));
    if (r == cudaSuccess) return true;
    if (r == cudaErrorNotReady) return false;
    return csl::cuda_status(r, "cudaEventQuery");
}

Status CudaDevice::native_event_synchronize(void* e) {
    return csl::cuda_status(cudaEventSynchronize(event(e)), "cudaEventSynchronize");
}

Status CudaDevice::native_stream_wait(void* stream, void* e) {
    csl::DeviceScope scope(ordinal_);
    return csl::cuda_status(cudaStreamWaitEvent(cuda(stream), event(e), 0), "cudaStreamWaitEvent");
}

Result<double> CudaDevice::native_event_elapsed_ms(void* start, void* end) {
    float ms = 0.f;
    ITSCAM_CUDA_CHECK(cudaEventElapsedTime(&ms, event(start), event(end)));
    return static_cast<double>(ms);
}

CudaDevice& cuda_device(int ordinal) {
    auto d = device_get("cuda:" + std::to_string(ordinal));
    ITSCAM_CHECK(d.is_ok(), "no CUDA device " + std::to_string(ordinal) + ": " + d.status().to_string());
    return static_cast<CudaDevice&>(**d);
}

}  // namespace itscam::device

namespace itscam::csl {

Result<StreamLease> stream_acquire(int device) {
    ITSCAM_ASSIGN_OR_RETURN(device::StreamLease l, device::cuda_device(device).stream_acquire());
    return StreamLease(std::move(l));
}

Result<cudaStream_t> stream_of(const device::StreamLease& s) {
    if (!s || !dynamic_cast<device::CudaDevice*>(s.device()))
        return invalid_argument("not a CUDA stream" +
                                (s ? " (a stream of " + s.device()->name() + ")" : std::string()));
    return static_cast<cudaStream_t>(s.native());
}

Status memory_reserve(int device, size_t bytes, const std::string& what) {
    return device::cuda_device(device).memory_reserve(bytes, what);
}

void memory_unreserve(int device, size_t bytes) {
    device::cuda_device(device).memory_unreserve(bytes);
}

}  // namespace itscam::csl
