#include "backend/backend.h"

#include <algorithm>
#include <cmath>

#include "backend/ref/ref_backend.h"
#include "device/device_name.h"

namespace itscam {

#ifdef ITSCAM_HAVE_ONEDNN
std::unique_ptr<Backend> make_cpu_backend();
#endif
#ifdef ITSCAM_HAVE_CUDA
Result<std::unique_ptr<Backend>> make_cuda_backend(int device_id);
#endif

const char* precision_name(Precision p) {
    switch (p) {
        case Precision::kF32: return "fp32";
        case Precision::kBF16: return "bf16";
        case Precision::kF16: return "fp16";
        case Precision::kInt8: return "int8";
        case Precision::kFp8:
            return "fp8";
    }
    return "?";
}

void merge_range(ActivationRanges& ranges, const std::string& name, const Tensor& t) {
    float lo = INFINITY, hi = -INFINITY;
    const float* p = t.data<float>();
    for (int64_t i = 0; i < t.numel(); ++i) lo = std::min(lo, p[i]), hi = std::max(hi, p[i]);
    auto [it, fresh] = ranges.try_emplace(name, ValueRange{lo, hi});
    if (!fresh) it->second = {std::min(it->second.min, lo), std::max(it->second.max, hi)};
}

Result<Precision> parse_precision(const std::string& s) {
    if (s == "fp32" || s == "f32" || s == "float32") return Precision::kF32;
    if (s == "bf16" || s == "bfloat16") return Precision::kBF16;
    if (s == "fp16" || s == "f16" || s == "float16") return Precision::kF16;
    if (s == "int8") return Precision::kInt8;
    if (s == "fp8") return Precision::kFp8;
    return invalid_argument("unknown precision '" + s + "' (use fp32, bf16, fp16, int8 or fp8)");
}

Result<std::pair<std::string, int>> parse_device(const std::string& device) {
    ITSCAM_ASSIGN_OR_RETURN(device::DeviceName n, device::device_name_parse(device));
    return std::make_pair(n.kind, n.ordinal);
}

namespace {

// The backends built into this binary, by device kind; each makes the backend for one device ordinal.
struct BackendEntry {
    const char* kind;
    Result<std::unique_ptr<Backend>> (*make)(int ordinal);
};

const std::vector<BackendEntry>& backend_table() {
    static const std::vector<BackendEntry> table = {
        {"ref", [](int) -> Result<std::unique_ptr<Backend>> { return make_ref_backend(); }},
#ifdef ITSCAM_HAVE_ONEDNN
        {"cpu", [](int) -> Result<std::unique_ptr<Backend>> { return make_cpu_backend(); }},
#endif
#ifdef ITSCAM_HAVE_CUDA
        {"cuda", [](int ordinal) { return make_cuda_backend(ordinal); }},
#endif
    };
    return table;
}

}  // namespace

std::vector<std::string> backend_names() {
    std::vector<std::string> v;
    for (const auto& e : backend_table()) v.push_back(e.kind);
    return v;
}

Result<std::unique_ptr<Backend>> backend_create(const std::string& device) {
    ITSCAM_ASSIGN_OR_RETURN(device::DeviceName n, device::device_name_parse(device));
    for (const auto& e : backend_table())
        if (n.kind == e.kind) {
            ITSCAM_RETURN_IF_ERROR(device::device_name_check(n));
            return e.make(n.ordinal);
        }
    // Not built in: a known device whose backend this build lacks, or an unknown name.
    ITSCAM_RETURN_IF_ERROR(device::device_name_check(n));
    std::string known;
    for (const auto& b : backend_names()) known += (known.empty() ? "" : ", ") + b;
    return unsupported("device '" + device + "': this build has no " + n.kind + " backend (built in: " + known +
                       "; the CMake options ITSCAM_WITH_ONEDNN and ITSCAM_WITH_CUDA add cpu and cuda)");
}

}  // namespace itscam
