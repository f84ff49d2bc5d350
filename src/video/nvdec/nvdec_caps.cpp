#include "video/nvdec/nvdec_caps.h"

#include "video/nvdec/nvdec_context.h"
#include "video/nvdec/nvdec_reader.h"

namespace itscam::video {

Result<cudaVideoCodec> nvdec_codec(const std::string& codec) {
    if (codec == "h264") return cudaVideoCodec_H264;
    if (codec == "hevc") return cudaVideoCodec_HEVC;
    return unsupported("codec '" + codec + "' is not decoded with NVDEC (H.264 and HEVC only)");
}

const char* nvdec_codec_name(cudaVideoCodec codec) {
    switch (codec) {
        case cudaVideoCodec_H264:
            return "h264";
        case cudaVideoCodec_HEVC:
            return "hevc";
        default:
            return "other";
    }
}

Result<CUVIDDECODECAPS> nvdec_caps(const NvdecDriver& driver, cudaVideoCodec codec) {
    CUVIDDECODECAPS caps{};
    caps.eCodecType = codec;
    caps.eChromaFormat = cudaVideoChromaFormat_420;
    caps.nBitDepthMinus8 = 0;
    ITSCAM_RETURN_IF_ERROR(driver.check(driver.cuvid->cuvidGetDecoderCaps(&caps), "cuvidGetDecoderCaps"));
    return caps;
}

Status nvdec_caps_allow(const CUVIDDECODECAPS& caps, cudaVideoCodec codec, unsigned width, unsigned height) {
    const std::string name = nvdec_codec_name(codec);
    if (!caps.bIsSupported) return unsupported("this GPU's NVDEC does not decode 8-bit 4:2:0 " + name);
    if (!(caps.nOutputFormatMask & (1u << cudaVideoSurfaceFormat_NV12)))
        return unsupported("this GPU's NVDEC has no NV12 output for " + name);
    const std::string size = std::to_string(width) + "x" + std::to_string(height);
    if (width < caps.nMinWidth || height < caps.nMinHeight || width > caps.nMaxWidth || height > caps.nMaxHeight)
        return unsupported(name + " " + size + " is outside this GPU's NVDEC range (" + std::to_string(caps.nMinWidth) +
                           "x" + std::to_string(caps.nMinHeight) + " to " + std::to_string(caps.nMaxWidth) + "x" +
                           std::to_string(caps.nMaxHeight) + ")");
    const unsigned long long mbs = (static_cast<unsigned long long>(width) + 15) / 16 * ((height + 15) / 16);
    if (mbs > caps.nMaxMBCount)
        return unsupported(name + " " + size + " has more macroblocks than this GPU's NVDEC allows (" +
                           std::to_string(mbs) + " > " + std::to_string(caps.nMaxMBCount) + ")");
    return Status::ok();
}

Result<bool> nvdec_supports(const std::string& codec, int width, int height, int cuda_device) {
    ITSCAM_ASSIGN_OR_RETURN(const NvdecDriver* driver, nvdec_driver());
    const Result<cudaVideoCodec> id = nvdec_codec(codec);
    if (!id.is_ok()) return false;
    if (width <= 0 || height <= 0) return invalid_argument("nvdec_supports: the size must be positive");
    ITSCAM_ASSIGN_OR_RETURN(auto ctx, CudaPrimaryContext::retain(*driver, cuda_device));
    CudaContextScope scope(*ctx);
    ITSCAM_RETURN_IF_ERROR(scope.status());
    ITSCAM_ASSIGN_OR_RETURN(const CUVIDDECODECAPS caps, nvdec_caps(*driver, *id));
    return nvdec_caps_allow(caps, *id, static_cast<unsigned>(width), static_cast<unsigned>(height)).is_ok();
}

Status nvdec_load_status() {
    const Result<const NvdecDriver*> d = nvdec_driver();
    return d.is_ok() ? Status::ok() : d.status();
}

}  // namespace itscam::video
