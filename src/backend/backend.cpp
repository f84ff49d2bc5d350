#include "backend/backend.h"

#include "backend/ref/ref_backend.h"

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
#ifdef ITSCAM_HAVE_CUDA
    v.push_back("cuda");
#endif
    return v;
}

Result<std::pair<std::string, int>> parse_device(const std::string& device) {
    const size_t colon = device.find(':');
    if (colon == std::string::npos) return std::make_pair(device, 0);
    const std::string name = device.substr(0, colon), id = device.substr(colon + 1);
    if (name.empty() || id.empty() || id.size() > 4 || id.find_first_not_of("0123456789") != std::string::npos)
        return invalid_argument("bad device '" + device + "' (use cpu, ref, cuda or cuda:N)");
    return std::make_pair(name, std::stoi(id));
}

Result<std::unique_ptr<Backend>> backend_create(const std::string& device) {
    ITSCAM_ASSIGN_OR_RETURN(auto parsed, parse_device(device));
    const std::string& name = parsed.first;
    if (name != "cuda" && device.find(':') != std::string::npos)
        return invalid_argument("device '" + device + "': only GPU devices take an ordinal (cuda:N)");
    if (name == "ref") return make_ref_backend();
#ifdef ITSCAM_HAVE_ONEDNN
    if (name == "cpu") return make_cpu_backend();
#endif
#ifdef ITSCAM_HAVE_CUDA
    if (name == "cuda") return make_cuda_backend(parsed.second);
#endif
    if (name == "cuda")
        return unsupported("device '" + device + "': this build has no CUDA backend (configure with -DITSCAM_WITH_CUDA=ON)");
    std::string known;
    for (const auto& b : backend_names()) known += (known.empty() ? "" : ", ") + b;
    return invalid_argument("unknown device '" + name + "' (available: " + known + ")");
}

}  // namespace itscam
