// nvdec_annexb_check: feeds an Annex-B H.264/HEVC elementary stream straight into NvdecDecoder (no FFmpeg), for
// checking the decoder on a GPU machine that has no FFmpeg libraries.
//
//   nvdec_annexb_check STREAM CODEC [OUT.nv12] [THREADS]
//
// First THREADS decoders (default 1) each decode the whole stream at once, pictures dropped: frames and decode fps
// (the copy into the frame buffer included). Then one decoder decodes it again and writes every picture, tightly
// packed (Y rows then UV rows), to OUT.nv12, for per-frame hashes against a software decode of the same stream.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "video/nvdec/nvdec_decoder.h"

using namespace itscam;
using namespace itscam::video;

namespace {

// Decodes `bytes` in 1 MiB chunks (the parser finds the pictures); calls `sink` for every picture.
template <typename Sink>
Status decode_stream(const std::string& codec, const std::vector<uint8_t>& bytes, unsigned delay, Sink&& sink,
                     int64_t& frames) {
    NvdecDecoderOptions o;
    o.codec = codec;
    o.display_delay = delay;
    o.name = "stream";
    ITSCAM_ASSIGN_OR_RETURN(auto dec, NvdecDecoder::create(o));
    constexpr size_t kChunk = 1 << 20;
    NvdecPicture pic;
    for (size_t off = 0; off < bytes.size(); off += kChunk) {
        const size_t n = std::min(kChunk, bytes.size() - off);
        ITSCAM_RETURN_IF_ERROR(dec->decode(bytes.data() + off, n, nullptr, false));
        while (dec->pop(pic)) {
            ITSCAM_RETURN_IF_ERROR(sink(*dec, pic));
            ++frames;
        }
    }
    ITSCAM_RETURN_IF_ERROR(dec->flush());
    while (dec->pop(pic)) {
        ITSCAM_RETURN_IF_ERROR(sink(*dec, pic));
        ++frames;
    }
    return Status::ok();
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: %s STREAM CODEC [OUT.nv12] [THREADS]\n", argv[0]);
        return 2;
    }
    std::ifstream in(argv[1], std::ios::binary);
    const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const std::string codec = argv[2];
    const std::string out_path = argc > 3 ? argv[3] : "";
    const int threads = argc > 4 ? std::max(1, std::atoi(argv[4])) : 1;
    if (bytes.empty()) {
        std::fprintf(stderr, "%s: empty or unreadable\n", argv[1]);
        return 1;
    }
    const Result<const NvdecDriver*> drv = nvdec_driver();
    if (!drv.is_ok()) {
        std::fprintf(stderr, "%s\n", drv.status().to_string().c_str());
        return 1;
    }

    // Speed: `threads` streams at once, each on its own decoder.
    std::vector<int64_t> counts(threads, 0);
    std::vector<Status> results(threads);
    const auto t0 = std::chrono::steady_clock::now();
    {
        std::vector<std::thread> pool;
        for (int i = 0; i < threads; ++i)
            pool.emplace_back([&, i] {
                results[i] = decode_stream(codec, bytes, 4, [](NvdecDecoder&, NvdecPicture&) { return Status::ok(); },
                                           counts[i]);
            });
        for (auto& t : pool) t.join();
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    int64_t total = 0;
    for (int i = 0; i < threads; ++i) {
        if (!results[i].is_ok()) {
            std::fprintf(stderr, "decode failed: %s\n", results[i].to_string().c_str());
            return 1;
        }
        total += counts[i];
    }
    std::printf("%s: %d stream(s), %lld frames in %.3f s: %.0f fps\n", argv[1], threads,
                static_cast<long long>(total), secs, total / secs);
    if (out_path.empty()) return 0;

    // Pixels: every picture copied down, packed, in display order.
    std::ofstream out(out_path, std::ios::binary);
    int64_t frames = 0;
    int w = 0, h = 0;
    std::vector<uint8_t> host;
    const Status st = decode_stream(
        codec, bytes, 0,
        [&](NvdecDecoder& dec, NvdecPicture& pic) -> Status {
            const NvdecDriver& d = dec.context()->driver();
            CudaContextScope scope(*dec.context());
            ITSCAM_RETURN_IF_ERROR(scope.status());
            w = pic.width;
            h = pic.height;
            host.resize(static_cast<size_t>(w) * h * 3 / 2);
            CUDA_MEMCPY2D c{};
            c.srcMemoryType = CU_MEMORYTYPE_DEVICE;
            c.srcDevice = static_cast<CUdeviceptr>(reinterpret_cast<uintptr_t>(pic.data.get()));
            c.srcPitch = pic.stride;
            c.dstMemoryType = CU_MEMORYTYPE_HOST;
            c.dstHost = host.data();
            c.dstPitch = static_cast<size_t>(w);
            c.WidthInBytes = static_cast<size_t>(w);
            c.Height = static_cast<size_t>(h) * 3 / 2;  // Y rows then UV rows, both `stride` apart
            ITSCAM_RETURN_IF_ERROR(d.check(d.cu->cuMemcpy2D(&c), "cuMemcpy2D"));
            out.write(reinterpret_cast<const char*>(host.data()), static_cast<std::streamsize>(host.size()));
            return Status::ok();
        },
        frames);
    if (!st.is_ok()) {
        std::fprintf(stderr, "decode failed: %s\n", st.to_string().c_str());
        return 1;
    }
    std::printf("%s: wrote %lld frames of %dx%d to %s\n", argv[1], static_cast<long long>(frames), w, h,
                out_path.c_str());
    return out.good() ? 0 : 1;
}
