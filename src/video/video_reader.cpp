#include "video/video_reader.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <string_view>

#include "video/synthetic_reader.h"

#if defined(ITSCAM_HAVE_FFMPEG) && ITSCAM_HAVE_FFMPEG
#include "video/ffmpeg_reader.h"
#endif
#if defined(ITSCAM_HAVE_NVDEC) && ITSCAM_HAVE_NVDEC
#include "video/nvdec/nvdec_reader.h"
#endif

namespace itscam::video {

std::string url_scheme(const std::string& url) {
    const size_t p = url.find("://");
    if (p == std::string::npos || p == 0) return {};
    std::string s = url.substr(0, p);
    for (char c : s) {
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '-' && c != '.') return {};
    }
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

Status check_reader_options(const std::string& url, const ReaderOptions& opt) {
    if (url.empty()) return invalid_argument("empty video URL");
    if (opt.rtsp_transport != "tcp" && opt.rtsp_transport != "udp")
        return invalid_argument(url + ": rtsp_transport must be \"tcp\" or \"udp\", not \"" + opt.rtsp_transport +
                                "\"");
    if (opt.decode_threads < 0) return invalid_argument(url + ": decode_threads must be >= 0");
    return Status::ok();
}

bool is_live_url(const std::string& url) {
    static constexpr std::array<std::string_view, 15> kLive = {"rtsp", "rtsps", "rtmp", "rtmps", "rtmpt",
                                                               "http", "https", "udp",  "tcp",   "rtp",
                                                               "srt",  "mms",   "mmsh", "mmst",  "hls"};
    const std::string s = url_scheme(url);
    return std::find(kLive.begin(), kLive.end(), s) != kLive.end();
}

bool ffmpeg_available() {
#if defined(ITSCAM_HAVE_FFMPEG) && ITSCAM_HAVE_FFMPEG
    return true;
#else
    return false;
#endif
}

const char* decoder_name(Decoder d) {
    switch (d) {
        case Decoder::kCpu:
            return "cpu";
        case Decoder::kNvdec:
            return "nvdec";
        case Decoder::kAuto:
            return "auto";
    }
    return "?";
}

Result<Decoder> decoder_from_name(const std::string& name) {
    for (Decoder d : {Decoder::kAuto, Decoder::kCpu, Decoder::kNvdec})
        if (name == decoder_name(d)) return d;
    return invalid_argument("decode: expected auto, cpu or nvdec, got '" + name + "'");
}

#if !(defined(ITSCAM_HAVE_NVDEC) && ITSCAM_HAVE_NVDEC)
bool nvdec_available(std::string* why) {
    if (why) *why = "this build has no NVDEC decoder (built without FFmpeg or without ffnvcodec headers)";
    return false;
}

Result<Frame> download_frame(const Frame& f) {
    if (!f.on_device()) return f;
    return unsupported("a frame in device memory, but this build has no NVDEC decoder to copy it with");
}
#endif

Result<std::unique_ptr<VideoReader>> make_reader(const std::string& url, const ReaderOptions& opt) {
    ITSCAM_RETURN_IF_ERROR(check_reader_options(url, opt));
    ReaderOptions o = opt;
    if (!o.allocator) o.allocator = heap_allocator();
    const std::string scheme = url_scheme(url);
    if (scheme == "synthetic") return make_synthetic_reader(url, o);
#if defined(ITSCAM_HAVE_FFMPEG) && ITSCAM_HAVE_FFMPEG
    if (!scheme.empty() && scheme != "file" && !ffmpeg_protocol_supported(scheme))
        return unsupported(url + ": unknown or unsupported URL scheme '" + scheme + "://'");
    if (o.decoder != Decoder::kCpu) {
        std::string why;
#if defined(ITSCAM_HAVE_NVDEC) && ITSCAM_HAVE_NVDEC
        if (nvdec_available(&why)) return make_nvdec_reader(url, std::move(o));
#else
        (void)nvdec_available(&why);
#endif
        if (o.decoder == Decoder::kNvdec) return unavailable(url + ": decode: nvdec, but " + why);
    }
    return std::unique_ptr<VideoReader>(std::make_unique<FfmpegReader>(url, std::move(o)));
#else
    return unsupported(url +
                       ": this build has no FFmpeg (built with ITSCAM_WITH_FFMPEG=OFF); only synthetic:// "
                       "sources are available");
#endif
}

}  // namespace itscam::video
