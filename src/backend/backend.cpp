#include "backend/backend.h"

#include "backend/ref/ref_backend.h"

namespace itscam {

#ifdef ITSCAM_HAVE_ONEDNN
std::unique_ptr<Backend> make_cpu_backend();
#endif

const char* precision_name(Precision p) {
    switch (p) {
        case Precision::kF32: return "fp32";
        case Precision::kBF16: return "bf16";
        case Precision::kF16: return "fp16";
        case Precision::kInt8: return "int8";
    }
    return "?";
}

Result<Precision> parse_precision(const std::string& s) {
    if (s == "fp32" || s == "f32" || s == "float32") return Precision::kF32;
    if (s == "bf16" || s == "bfloat16") return Precision::kBF16;
    if (s == "fp16" || s == "f16" || s == "float16") return Precision::kF16;
    if (s == "int8") return Precision::kInt8;
    return invalid_argument("unknown precision '" + s + "' (use fp32, bf16, fp16 or int8)");
}

std::vector<std::string> backend_names() {
    std::vector<std::string> v{"ref"};
#ifdef ITSCAM_HAVE_ONEDNN
    v.push_back("cpu");
#endif
    return v;
}

Result<std::unique_ptr<Backend>> backend_create(const std::string& name) {
    if (name == "ref") return make_ref_backend();
#ifdef ITSCAM_HAVE_ONEDNN
    if (name == "cpu") return make_cpu_backend();
#endif
    if (name.rfind("cuda", 0) == 0)
        return unsupported("device '" + name + "': this build has no CUDA backend (configure with -DITSCAM_WITH_CUDA=ON)");
    std::string known;
    for (const auto& b : backend_names()) known += (known.empty() ? "" : ", ") + b;
    return invalid_argument("unknown device '" + name + "' (available: " + known + ")");
}

}  // namespace itscam
