#include "video/nvdec/nvdec_decoder.h"

#include <algorithm>
#include <cstdint>
#include <new>
#include <utility>

#include "video/nvdec/nvdec_caps.h"
#include "video/nvdec/nvdec_sessions.h"

namespace itscam::video {

namespace {

const char* chroma_name(cudaVideoChromaFormat f) {
    switch (f) {
        case cudaVideoChromaFormat_Monochrome:
            return "4:0:0";
        case cudaVideoChromaFormat_420:
            return "4:2:0";
        case cudaVideoChromaFormat_422:
            return "4:2:2";
        case cudaVideoChromaFormat_444:
            return "4:4:4";
    }
    return "unknown chroma";
}

// Free frame buffers kept for reuse (without a caller's allocator): the display queue plus a few in flight.
constexpr size_t kKeptBuffers = 8;

CUdeviceptr device_ptr(const uint8_t* p) {
    return static_cast<CUdeviceptr>(reinterpret_cast<uintptr_t>(p));
}

}  // namespace

NvdecDecoder::NvdecDecoder(NvdecDecoderOptions opt, const NvdecDriver& driver, std::shared_ptr<CudaPrimaryContext> ctx,
                           cudaVideoCodec codec)
    : opt_(std::move(opt)), drv_(driver), ctx_(std::move(ctx)), codec_(codec) {}

Result<std::unique_ptr<NvdecDecoder>> NvdecDecoder::create(NvdecDecoderOptions opt) {
    ITSCAM_ASSIGN_OR_RETURN(const NvdecDriver* driver, nvdec_driver());
    const Result<cudaVideoCodec> codec = nvdec_codec(opt.codec);
    if (!codec.is_ok()) return codec.status().with_context(opt.name);
    ITSCAM_ASSIGN_OR_RETURN(auto ctx, CudaPrimaryContext::retain(*driver, opt.device));
    std::unique_ptr<NvdecDecoder> d(new NvdecDecoder(std::move(opt), *driver, std::move(ctx), *codec));

    CudaContextScope scope(*d->ctx_);
    ITSCAM_RETURN_IF_ERROR(scope.status());
    // Its own stream, so that the copies never wait on (or stall) the engine's work in the same context.
    ITSCAM_RETURN_IF_ERROR(
        driver->check(driver->cu->cuStreamCreate(&d->stream_, CU_STREAM_NON_BLOCKING), "cuStreamCreate"));
    // The wait for each picture's copy sleeps instead of spinning: hundreds of camera threads wait at once, and a
    // spinning wait would take the cores the other cameras' demuxing and the inference workers need.
    ITSCAM_RETURN_IF_ERROR(driver->check(
        driver->cu->cuEventCreate(&d->copied_, CU_EVENT_BLOCKING_SYNC | CU_EVENT_DISABLE_TIMING), "cuEventCreate"));
    CUVIDPARSERPARAMS p{};
    p.CodecType = d->codec_;
    p.ulMaxNumDecodeSurfaces = 1;  // the sequence callback returns the real number
    p.ulClockRate = d->opt_.clock_rate;
    p.ulErrorThreshold = 100;  // decode damaged pictures too (as a software decoder conceals), never drop them
    p.ulMaxDisplayDelay = d->opt_.display_delay;
    p.pUserData = d.get();
    p.pfnSequenceCallback = &NvdecDecoder::sequence_cb;
    p.pfnDecodePicture = &NvdecDecoder::decode_cb;
    p.pfnDisplayPicture = &NvdecDecoder::display_cb;
    ITSCAM_RETURN_IF_ERROR(driver->check(driver->cuvid->cuvidCreateVideoParser(&d->parser_, &p),
                                         d->opt_.name + ": cuvidCreateVideoParser"));
    return d;
}

NvdecDecoder::~NvdecDecoder() {
    CudaContextScope scope(*ctx_);
    if (parser_) drv_.cuvid->cuvidDestroyVideoParser(parser_);
    destroy_decoder();
    if (copied_) drv_.cu->cuEventDestroy(copied_);
    if (stream_) drv_.cu->cuStreamDestroy(stream_);
}

void NvdecDecoder::destroy_decoder() {
    if (decoder_) {
        drv_.cuvid->cuvidDestroyDecoder(decoder_);
        NvdecSessions::of_device(opt_.device).closed();
    }
    decoder_ = nullptr;
    coded_w_ = coded_h_ = surfaces_ = 0;
}

int CUDAAPI NvdecDecoder::sequence_cb(void* self, CUVIDEOFORMAT* fmt) {
    return static_cast<NvdecDecoder*>(self)->on_sequence(fmt);
}
int CUDAAPI NvdecDecoder::decode_cb(void* self, CUVIDPICPARAMS* pic) {
    return static_cast<NvdecDecoder*>(self)->on_decode(pic);
}
int CUDAAPI NvdecDecoder::display_cb(void* self, CUVIDPARSERDISPINFO* disp) {
    return static_cast<NvdecDecoder*>(self)->on_display(disp);
}

Status NvdecDecoder::parse(CUVIDSOURCEDATAPACKET& pkt) {
    if (!failed_.is_ok()) return failed_;
    CudaContextScope scope(*ctx_);
    ITSCAM_RETURN_IF_ERROR(scope.status());
    const CUresult r = drv_.cuvid->cuvidParseVideoData(parser_, &pkt);
    if (!failed_.is_ok()) return failed_;  // a callback's own error says more than the parser's
    return drv_.check(r, opt_.name + ": cuvidParseVideoData");
}

Status NvdecDecoder::decode(const uint8_t* data, size_t size, const int64_t* timestamp, bool whole_picture) {
    if (size == 0) return Status::ok();  // an empty payload would read as the end of the stream
    CUVIDSOURCEDATAPACKET pkt{};
    pkt.payload = data;
    pkt.payload_size = static_cast<tcu_ulong>(size);
    if (timestamp) {
        pkt.flags |= CUVID_PKT_TIMESTAMP;
        pkt.timestamp = *timestamp;
    }
    if (whole_picture) pkt.flags |= CUVID_PKT_ENDOFPICTURE;
    return parse(pkt);
}

Status NvdecDecoder::flush() {
    CUVIDSOURCEDATAPACKET pkt{};
    pkt.flags = CUVID_PKT_ENDOFSTREAM;
    return parse(pkt);
}

bool NvdecDecoder::pop(NvdecPicture& out) {
    if (ready_.empty()) return false;
    out = std::move(ready_.front());
    ready_.pop_front();
    return true;
}

int NvdecDecoder::on_sequence(CUVIDEOFORMAT* fmt) {
    const std::string name = nvdec_codec_name(fmt->codec);
    if (fmt->chroma_format != cudaVideoChromaFormat_420 || fmt->bit_depth_luma_minus8 != 0 ||
        fmt->bit_depth_chroma_minus8 != 0) {
        failed_ = unsupported(opt_.name + ": NVDEC decodes 8-bit 4:2:0 only; this " + name + " stream is " +
                              std::to_string(8 + fmt->bit_depth_luma_minus8) + "-bit " +
                              chroma_name(fmt->chroma_format));
        return 0;
    }
    const Result<CUVIDDECODECAPS> caps = nvdec_caps(drv_, fmt->codec);
    if (!caps.is_ok()) {
        failed_ = caps.status().with_context(opt_.name);
        return 0;
    }
    const Status allowed = nvdec_caps_allow(*caps, fmt->codec, fmt->coded_width, fmt->coded_height);
    if (!allowed.is_ok()) {
        failed_ = allowed.with_context(opt_.name);
        return 0;
    }
    const unsigned surfaces = std::max<unsigned>(fmt->min_num_decode_surfaces, 1) + opt_.display_delay;
    // The display rectangle (e.g. 1920x1080 of 1920x1088 coded), cut to even sizes as NV12 needs.
    int left = std::max(fmt->display_area.left, 0), top = std::max(fmt->display_area.top, 0);
    int w = std::min(fmt->display_area.right, static_cast<int>(fmt->coded_width)) - left;
    int h = std::min(fmt->display_area.bottom, static_cast<int>(fmt->coded_height)) - top;
    if (w <= 0 || h <= 0) {
        left = top = 0;
        w = static_cast<int>(fmt->coded_width);
        h = static_cast<int>(fmt->coded_height);
    }
    w &= ~1;
    h &= ~1;
    if (w <= 0 || h <= 0) {
        failed_ = corrupt(opt_.name + ": sequence header with an empty picture");
        return 0;
    }
    if (decoder_ && fmt->coded_width == coded_w_ && fmt->coded_height == coded_h_ && surfaces <= surfaces_ &&
        left == crop_left_ && top == crop_top_ && w == out_w_ && h == out_h_)
        return static_cast<int>(surfaces_);  // the same sequence again
    crop_left_ = left;
    crop_top_ = top;
    out_w_ = w;
    out_h_ = h;
    destroy_decoder();  // a new size mid-stream: a new decoder
    const Status st = create_decoder(*fmt, surfaces);
    if (!st.is_ok()) {
        failed_ = st;
        return 0;
    }
    return static_cast<int>(surfaces_);
}

Status NvdecDecoder::create_decoder(const CUVIDEOFORMAT& fmt, unsigned surfaces) {
    CUVIDDECODECREATEINFO ci{};
    ci.ulWidth = fmt.coded_width;
    ci.ulHeight = fmt.coded_height;
    ci.ulNumDecodeSurfaces = surfaces;
    ci.CodecType = fmt.codec;
    ci.ChromaFormat = cudaVideoChromaFormat_420;
    ci.ulCreationFlags = cudaVideoCreate_PreferCUVID;
    ci.bitDepthMinus8 = 0;
    ci.ulMaxWidth = fmt.coded_width;
    ci.ulMaxHeight = fmt.coded_height;
    ci.display_area.left = static_cast<short>(crop_left_);
    ci.display_area.top = static_cast<short>(crop_top_);
    ci.display_area.right = static_cast<short>(crop_left_ + out_w_);
    ci.display_area.bottom = static_cast<short>(crop_top_ + out_h_);
    ci.OutputFormat = cudaVideoSurfaceFormat_NV12;
    // Fields of interlaced streams are output woven, as a software decoder gives them: no filtering.
    ci.DeinterlaceMode = cudaVideoDeinterlaceMode_Weave;
    ci.ulTargetWidth = static_cast<tcu_ulong>(out_w_);  // = the display rectangle: cropped, never scaled
    ci.ulTargetHeight = static_cast<tcu_ulong>(out_h_);
    ci.ulNumOutputSurfaces = 2;
    // Past the driver's session cap, this process learnt it from an earlier refusal: not another slow create.
    NvdecSessions& sessions = NvdecSessions::of_device(opt_.device);
    ITSCAM_RETURN_IF_ERROR(sessions.admit(opt_.name));
    const Status created = drv_.check(drv_.cuvid->cuvidCreateDecoder(&decoder_, &ci),
                                      opt_.name + ": cuvidCreateDecoder(" + nvdec_codec_name(fmt.codec) + " " +
                                          std::to_string(fmt.coded_width) + "x" + std::to_string(fmt.coded_height) +
                                          ")");
    if (!created.is_ok()) {
        decoder_ = nullptr;
        if (created.code() == StatusCode::kOutOfMemory) sessions.refused();
        return created;
    }
    sessions.opened();
    coded_w_ = fmt.coded_width;
    coded_h_ = fmt.coded_height;
    surfaces_ = surfaces;
    return Status::ok();
}

int NvdecDecoder::on_decode(CUVIDPICPARAMS* pic) {
    if (!decoder_) {
        failed_ = corrupt(opt_.name + ": picture data before any sequence header");
        return 0;
    }
    const Status st = drv_.check(drv_.cuvid->cuvidDecodePicture(decoder_, pic), opt_.name + ": cuvidDecodePicture");
    if (!st.is_ok()) {
        failed_ = st;
        return 0;
    }
    return 1;
}

Result<std::shared_ptr<uint8_t>> NvdecDecoder::allocate(size_t bytes) {
    if (opt_.device_allocator) {
        std::shared_ptr<uint8_t> p;
        try {
            p = opt_.device_allocator(bytes);
        } catch (const std::bad_alloc&) {
        }
        if (!p) return out_of_memory(opt_.name + ": the device frame allocator returned no buffer");
        return p;
    }
    if (!buffers_) buffers_ = std::make_shared<DeviceBufferPool>(ctx_, kKeptBuffers);
    Result<std::shared_ptr<uint8_t>> p = buffers_->get(bytes);
    if (!p.is_ok()) return p.status().with_context(opt_.name);
    return p;
}

int NvdecDecoder::on_display(CUVIDPARSERDISPINFO* disp) {
    if (disp == nullptr) return 1;  // end-of-stream notice
    if (!decoder_) return 0;
    CUVIDPROCPARAMS pp{};
    pp.progressive_frame = disp->progressive_frame;
    pp.top_field_first = disp->top_field_first;
    pp.unpaired_field = disp->repeat_first_field < 0 ? 1 : 0;
    pp.output_stream = stream_;
    unsigned long long src = 0;
    unsigned int pitch = 0;
    Status st = drv_.check(drv_.cuvid->cuvidMapVideoFrame(decoder_, disp->picture_index, &src, &pitch, &pp),
                           opt_.name + ": cuvidMapVideoFrame");
    if (!st.is_ok()) {
        failed_ = st;
        return 0;
    }
    NvdecPicture pic;
    pic.width = out_w_;
    pic.height = out_h_;
    pic.stride = default_stride(PixelFormat::kNV12, out_w_);
    pic.timestamp = disp->timestamp;
    const size_t plane = pic.stride * static_cast<size_t>(out_h_);
    Result<std::shared_ptr<uint8_t>> buf = allocate(plane * 3 / 2);
    if (buf.is_ok()) {
        pic.data = std::move(buf).value();
        // The output surface holds the target rectangle: its luma rows, then its chroma rows right after them.
        for (int p = 0; p < 2 && st.is_ok(); ++p) {
            CUDA_MEMCPY2D c{};
            c.srcMemoryType = CU_MEMORYTYPE_DEVICE;
            c.srcDevice = static_cast<CUdeviceptr>(src) +
                          (p == 0 ? 0 : static_cast<CUdeviceptr>(pitch) * static_cast<CUdeviceptr>(out_h_));
            c.srcPitch = pitch;
            c.dstMemoryType = CU_MEMORYTYPE_DEVICE;
            c.dstDevice = device_ptr(pic.data.get()) + (p == 0 ? 0 : plane);
            c.dstPitch = pic.stride;
            c.WidthInBytes = static_cast<size_t>(out_w_);
            c.Height = static_cast<size_t>(p == 0 ? out_h_ : out_h_ / 2);
            st = drv_.check(drv_.cu->cuMemcpy2DAsync(&c, stream_), opt_.name + ": cuMemcpy2DAsync");
        }
        if (st.is_ok()) st = drv_.check(drv_.cu->cuEventRecord(copied_, stream_), opt_.name + ": cuEventRecord");
        if (st.is_ok()) st = drv_.check(drv_.cu->cuEventSynchronize(copied_), opt_.name + ": cuEventSynchronize");
    } else {
        st = buf.status();
    }
    const Status unmapped =
        drv_.check(drv_.cuvid->cuvidUnmapVideoFrame(decoder_, src), opt_.name + ": cuvidUnmapVideoFrame");
    if (st.is_ok()) st = unmapped;
    if (!st.is_ok()) {
        failed_ = st;
        return 0;
    }
    ready_.push_back(std::move(pic));
    return 1;
}

}  // namespace itscam::video
