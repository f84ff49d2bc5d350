// GPU letterbox and GPU decode + NMS (vision/cuda/gpu_vision.h) against their CPU references. Every test skips when
// no CUDA device is present. The shared data folder is ITSCAM_SHARED_DIR (the environment variable overrides the
// compile-time path) and the golden outputs are read from ITSCAM_GOLDEN_DIR if set, else <shared>/golden; tests that
// need a missing file skip.
#include "vision/cuda/gpu_vision.h"

#include "cuda_test_util.h"
#include "device/cuda/cuda_device.h"
#include "device/registry.h"

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "vision/letterbox.h"
#include "vision/npy.h"
#include "vision/postprocess.h"
#include "vision/yuv.h"

#if defined(ITSCAM_HAVE_OPENCV) && ITSCAM_HAVE_OPENCV
#include <opencv2/imgcodecs.hpp>
#endif

namespace itscam::vision::gpu {
namespace {

std::string shared_path(const std::string& rel) {
    const char* env = std::getenv("ITSCAM_SHARED_DIR");
    return std::string(env != nullptr && *env != '\0' ? env : ITSCAM_SHARED_DIR) + "/" + rel;
}

// The golden .npy outputs: ITSCAM_GOLDEN_DIR (as for cuda_backend_test), else <shared>/golden.
std::string golden_path(const std::string& name) {
    const char* env = std::getenv("ITSCAM_GOLDEN_DIR");
    return (env != nullptr && *env != '\0' ? std::string(env) : shared_path("golden")) + "/" + name;
}

#define ASSERT_CUDA(expr) ASSERT_EQ((expr), cudaSuccess) << #expr

// Owning device / pinned buffers for the tests.
struct DevBuf {
    void* p = nullptr;
    explicit DevBuf(size_t bytes) { EXPECT_EQ(cudaMalloc(&p, bytes), cudaSuccess); }
    ~DevBuf() { cudaFree(p); }
    DevBuf(const DevBuf&) = delete;
    DevBuf& operator=(const DevBuf&) = delete;
    template <typename T>
    T* as() const {
        return static_cast<T*>(p);
    }
};

struct PinnedBuf {
    void* p = nullptr;
    // mapped: cudaHostAllocMapped (the letterbox reads it in place), else copied by DMA.
    explicit PinnedBuf(size_t bytes, bool mapped = false) {
        EXPECT_EQ(cudaHostAlloc(&p, bytes, mapped ? cudaHostAllocMapped : cudaHostAllocDefault), cudaSuccess);
    }
    ~PinnedBuf() { cudaFreeHost(p); }
    PinnedBuf(const PinnedBuf&) = delete;
    PinnedBuf& operator=(const PinnedBuf&) = delete;
};

// A stream of GPU 0's pool (the GPU API takes device-layer leases); `s` is its cudaStream_t for the tests' own copies.
struct StreamHolder {
    device::StreamLease lease;
    cudaStream_t s = nullptr;
    StreamHolder() {
        auto l = device::cuda_device(0).stream_acquire();
        EXPECT_TRUE(l.is_ok()) << l.status().to_string();
        if (!l) return;
        lease = std::move(*l);
        s = static_cast<cudaStream_t>(lease.native());
    }
};

// ---------------------------------------------------------------------------------------------------------------------
// Letterbox

struct HostImage {
    int w, h;
    size_t stride;
    std::vector<uint8_t> px;
};

// Gradients plus noise, so that interpolation errors show; stride padding filled with garbage.
HostImage make_image(int w, int h, size_t extra_stride, uint32_t seed) {
    HostImage im{w, h, static_cast<size_t>(w) * 3 + extra_stride, {}};
    im.px.resize(im.stride * h);
    std::mt19937 rng(seed);
    for (int y = 0; y < h; ++y) {
        for (size_t x = 0; x < im.stride; ++x) {
            im.px[y * im.stride + x] = static_cast<uint8_t>((x * 7 + y * 3 + rng() % 64) & 0xFF);
        }
    }
    return im;
}

struct Diff {
    double max_abs = 0;
    size_t differing = 0;
    size_t total = 0;
};

Diff compare(const float* got, const float* want, size_t n) {
    Diff d;
    d.total = n;
    for (size_t i = 0; i < n; ++i) {
        const double a = std::fabs(static_cast<double>(got[i]) - want[i]);
        if (!(a <= d.max_abs)) d.max_abs = a;  // NaN propagates
        d.differing += got[i] != want[i];
    }
    return d;
}

// Runs the GPU letterbox on `frames` (host pointers as given) and compares every image with the CPU letterbox.
void check_letterbox(GpuLetterbox& lb, const std::vector<FrameRef>& frames, const std::vector<HostImage*>& host,
                     const StreamHolder& stream, const char* what) {
    const int dw = lb.dst_w(), dh = lb.dst_h();
    const size_t per = static_cast<size_t>(3) * dw * dh;
    DevBuf dst(per * frames.size() * sizeof(float));
    ASSERT_CUDA(cudaMemsetAsync(dst.p, 0xFF, per * frames.size() * sizeof(float), stream.s));  // NaN
    std::vector<LetterboxInfo> infos;
    const Status st = lb.run(frames, dst.as<float>(), stream.lease, infos);
    ASSERT_TRUE(st.is_ok()) << st.to_string();
    ASSERT_EQ(infos.size(), frames.size());
    std::vector<float> got(per * frames.size());
    ASSERT_CUDA(cudaMemcpyAsync(got.data(), dst.p, got.size() * sizeof(float), cudaMemcpyDeviceToHost, stream.s));
    ASSERT_CUDA(cudaStreamSynchronize(stream.s));
    std::vector<float> want(per);
    for (size_t i = 0; i < frames.size(); ++i) {
        const HostImage& im = *host[i];
        const LetterboxInfo li = letterbox_info(im.w, im.h, dw, dh);
        EXPECT_EQ(infos[i].new_w, li.new_w);
        EXPECT_EQ(infos[i].new_h, li.new_h);
        EXPECT_EQ(infos[i].pad_x, li.pad_x);
        EXPECT_EQ(infos[i].pad_y, li.pad_y);
        EXPECT_EQ(infos[i].scale, li.scale);
        letterbox_bgr_u8_to_rgb_f32(im.px.data(), im.w, im.h, im.stride, dw, dh, want.data());
        const Diff d = compare(got.data() + i * per, want.data(), per);
        std::printf("[ gpu letterbox ] %-10s %4dx%-4d -> %4dx%-4d: %zu of %zu values differ, max |d| %.3g\n", what,
                    im.w, im.h, dw, dh, d.differing, d.total, d.max_abs);
        EXPECT_LE(d.max_abs, 1.0 / 255 + 1e-7) << what << " frame " << i << " " << im.w << "x" << im.h;
        EXPECT_EQ(d.differing, 0u) << what << " frame " << i << " " << im.w << "x" << im.h;
    }
}

// Sizes covering every path: exact 2x (INTER_AREA shortcut), same size (copy), upscale, odd sizes, slivers.
const std::vector<std::pair<int, int>> kSizes = {{1280, 720},  {640, 640}, {320, 160}, {810, 1080}, {637, 641},
                                                 {1920, 1080}, {333, 777}, {100, 37},  {1279, 719}, {1, 1280},
                                                 {1280, 1},    {2, 2},     {641, 640}, {1282, 1282}};

TEST(GpuLetterbox, MatchesCpuOnSyntheticFramesOfManySizes) {
    SKIP_WITHOUT_GPU();
    StreamHolder stream;
    for (auto [dw, dh] : {std::pair{640, 640}, {320, 320}, {640, 384}, {1, 1}}) {
        auto lb = GpuLetterbox::create(dw, dh, 4, 1280, 720);  // smaller than some frames: exercises growth
        ASSERT_TRUE(lb.is_ok()) << lb.status().to_string();
        std::vector<HostImage> imgs;
        for (size_t i = 0; i < kSizes.size(); ++i) {
            imgs.push_back(make_image(kSizes[i].first, kSizes[i].second, i % 3 == 0 ? 13 : 0, 100 + i));
        }
        std::vector<FrameRef> frames;
        std::vector<HostImage*> host;
        for (HostImage& im : imgs) {
            frames.push_back({im.px.data(), im.w, im.h, im.stride});
            host.push_back(&im);
        }
        check_letterbox(**lb, frames, host, stream, "pageable");
        // Again in batches of 3 (reuse of the grown scratch).
        for (size_t i = 0; i < frames.size(); i += 3) {
            const size_t e = std::min(frames.size(), i + 3);
            const std::vector<FrameRef> part(frames.begin() + i, frames.begin() + e);
            const std::vector<HostImage*> part_host(host.begin() + i, host.begin() + e);
            check_letterbox(**lb, part, part_host, stream, "pageable3");
        }
    }
}

TEST(GpuLetterbox, PinnedAndDeviceFramesInOneBatch) {
    SKIP_WITHOUT_GPU();
    StreamHolder stream;
    auto lb = GpuLetterbox::create(640, 640, 6, 1920, 1080);
    ASSERT_TRUE(lb.is_ok()) << lb.status().to_string();
    std::vector<HostImage> imgs = {make_image(1920, 1080, 0, 1), make_image(810, 1080, 7, 2),
                                   make_image(1280, 720, 0, 3),  make_image(333, 201, 5, 4),
                                   make_image(640, 640, 0, 5),   make_image(500, 499, 0, 6)};
    // Frame 0, 3: pinned; 1, 4: device; 2, 5: pageable.
    std::vector<std::unique_ptr<PinnedBuf>> pinned;
    std::vector<std::unique_ptr<DevBuf>> device;
    std::vector<FrameRef> frames;
    std::vector<HostImage*> host;
    for (size_t i = 0; i < imgs.size(); ++i) {
        HostImage& im = imgs[i];
        const uint8_t* p = im.px.data();
        if (i % 3 == 0) {
            pinned.push_back(std::make_unique<PinnedBuf>(im.px.size()));
            std::memcpy(pinned.back()->p, im.px.data(), im.px.size());
            p = static_cast<const uint8_t*>(pinned.back()->p);
        } else if (i % 3 == 1) {
            device.push_back(std::make_unique<DevBuf>(im.px.size()));
            ASSERT_CUDA(cudaMemcpy(device.back()->p, im.px.data(), im.px.size(), cudaMemcpyHostToDevice));
            p = device.back()->as<const uint8_t>();
        }
        frames.push_back({p, im.w, im.h, im.stride});
        host.push_back(&im);
    }
    check_letterbox(**lb, frames, host, stream, "mixed");
    // A second stream reusing the same scratch right away.
    StreamHolder other;
    check_letterbox(**lb, frames, host, other, "mixed2");
}

// NV12 frames in a batch with a BGR frame: each gives exactly the CPU letterbox of nv12_to_bgr(frame), for both
// matrices and ranges, every resize path (copy, exact 2x, bilinear) and every memory kind: device (NVDEC pictures),
// pinned, mapped and pageable host memory (CPU-decoded frames), with padded strides.
TEST(GpuLetterbox, Nv12FramesMatchTheCpuConversion) {
    SKIP_WITHOUT_GPU();
    StreamHolder stream;
    auto lb = GpuLetterbox::create(640, 640, 8, 1920, 1080);  // 25 frames: grows once
    ASSERT_TRUE(lb.is_ok()) << lb.status().to_string();
    struct Case {
        int w, h;
        size_t stride;
        bool bt709, full;
    };
    const std::vector<Case> cases = {{1920, 1080, 1920, true, false}, {1280, 720, 1344, false, false},
                                     {640, 640, 640, false, true},    {1280, 1280, 1280, true, true},
                                     {640, 480, 704, false, false},   {358, 202, 384, true, false}};
    std::vector<HostImage> bgr;  // the CPU conversion of each NV12 frame
    std::vector<std::unique_ptr<DevBuf>> device;
    std::vector<std::unique_ptr<PinnedBuf>> pinned;
    std::vector<std::vector<uint8_t>> pageable;
    std::vector<FrameRef> frames;
    std::mt19937 rng(42);
    for (size_t ci = 0; ci < cases.size() * 4; ++ci) {
        const Case& c = cases[ci % cases.size()];
        const int kind = static_cast<int>(ci % 4);  // 0 device, 1 pinned, 2 mapped, 3 pageable
        std::vector<uint8_t> nv12(c.stride * c.h * 3 / 2);
        for (int y = 0; y < c.h * 3 / 2; ++y)
            for (size_t x = 0; x < c.stride; ++x)
                nv12[y * c.stride + x] = static_cast<uint8_t>((x * 5 + y * 3 + rng() % 48) & 0xFF);
        HostImage im{c.w, c.h, static_cast<size_t>(c.w) * 3, {}};
        im.px.resize(im.stride * c.h);
        nv12_to_bgr(nv12.data(), nv12.data() + c.stride * c.h, c.stride, c.w, c.h, c.bt709, c.full, im.px.data(),
                    im.stride);
        bgr.push_back(std::move(im));
        const uint8_t* y = nullptr;
        if (kind == 0) {
            device.push_back(std::make_unique<DevBuf>(nv12.size()));
            ASSERT_CUDA(cudaMemcpy(device.back()->p, nv12.data(), nv12.size(), cudaMemcpyHostToDevice));
            y = device.back()->as<const uint8_t>();
        } else if (kind < 3) {
            pinned.push_back(std::make_unique<PinnedBuf>(nv12.size(), kind == 2));
            std::memcpy(pinned.back()->p, nv12.data(), nv12.size());
            y = static_cast<const uint8_t*>(pinned.back()->p);
        } else {
            pageable.push_back(std::move(nv12));
            y = pageable.back().data();
        }
        frames.push_back({y, c.w, c.h, c.stride, y + c.stride * c.h, c.bt709, c.full});
    }
    // Plus one pageable BGR frame in the same batch.
    bgr.push_back(make_image(1280, 720, 0, 77));
    frames.push_back({bgr.back().px.data(), 1280, 720, bgr.back().stride});
    std::vector<HostImage*> host;
    for (HostImage& im : bgr) host.push_back(&im);
    check_letterbox(**lb, frames, host, stream, "nv12");

    // In batches of 5 too: every kind next to every other, the scratch reused.
    for (size_t i = 0; i < frames.size(); i += 5) {
        const size_t e = std::min(frames.size(), i + 5);
        check_letterbox(**lb, std::vector<FrameRef>(frames.begin() + i, frames.begin() + e),
                        std::vector<HostImage*>(host.begin() + i, host.begin() + e), stream, "nv12x5");
    }

    // NV12 with odd sizes is refused.
    std::vector<LetterboxInfo> infos;
    DevBuf dst(3 * 640 * 640 * sizeof(float));
    const auto* y = device[0]->as<const uint8_t>();
    const Status st = (*lb)->run({{y, 63, 64, 1920, y + 1920 * 64}}, dst.as<float>(), stream.lease, infos);
    EXPECT_FALSE(st.is_ok());
}

TEST(GpuLetterbox, Fp16OutputIsTheRoundedFloat) {
    SKIP_WITHOUT_GPU();
    StreamHolder stream;
    auto lb = GpuLetterbox::create(640, 640, 3, 1280, 720);
    ASSERT_TRUE(lb.is_ok()) << lb.status().to_string();
    std::vector<HostImage> imgs = {make_image(1280, 720, 0, 9), make_image(811, 1079, 3, 10),
                                   make_image(300, 200, 0, 11)};
    std::vector<FrameRef> frames;
    for (HostImage& im : imgs) frames.push_back({im.px.data(), im.w, im.h, im.stride});
    const size_t per = 3 * 640 * 640;
    DevBuf dst(per * imgs.size() * sizeof(__half));
    std::vector<LetterboxInfo> infos;
    const Status st = (*lb)->run_f16(frames, reinterpret_cast<uint16_t*>(dst.as<__half>()), stream.lease, infos);
    ASSERT_TRUE(st.is_ok()) << st.to_string();
    std::vector<__half> got(per * imgs.size());
    ASSERT_CUDA(cudaMemcpyAsync(got.data(), dst.p, got.size() * sizeof(__half), cudaMemcpyDeviceToHost, stream.s));
    ASSERT_CUDA(cudaStreamSynchronize(stream.s));
    std::vector<float> want(per);
    for (size_t i = 0; i < imgs.size(); ++i) {
        letterbox_bgr_u8_to_rgb_f32(imgs[i].px.data(), imgs[i].w, imgs[i].h, imgs[i].stride, 640, 640, want.data());
        size_t differing = 0;
        for (size_t k = 0; k < per; ++k) {
            const __half h = __float2half_rn(want[k]);
            uint16_t a, b;
            std::memcpy(&a, &got[i * per + k], 2);
            std::memcpy(&b, &h, 2);
            differing += a != b;
        }
        EXPECT_EQ(differing, 0u) << "frame " << i;
    }
}

// The NHWC fp16 output (the CUDA backend's convolution input, written directly): the fp16 NCHW values, pixel by pixel,
// R, G, B then ld - 3 zero channels; ld 3 has no padding; ld < 3 is refused.
TEST(GpuLetterbox, NhwcFp16IsTheNchwFp16Transposed) {
    SKIP_WITHOUT_GPU();
    StreamHolder stream;
    auto lb = GpuLetterbox::create(320, 256, 3, 1280, 720);
    ASSERT_TRUE(lb.is_ok()) << lb.status().to_string();
    std::vector<HostImage> imgs = {make_image(1280, 720, 0, 21), make_image(811, 1079, 3, 22),
                                   make_image(300, 200, 0, 23)};
    std::vector<FrameRef> frames;
    for (HostImage& im : imgs) frames.push_back({im.px.data(), im.w, im.h, im.stride});
    const size_t pixels = 320 * 256, per = 3 * pixels;
    DevBuf nchw(per * imgs.size() * sizeof(__half));
    std::vector<LetterboxInfo> infos;
    ASSERT_TRUE((*lb)->run_f16(frames, reinterpret_cast<uint16_t*>(nchw.as<__half>()), stream.lease, infos).is_ok());
    std::vector<uint16_t> want(per * imgs.size());
    ASSERT_CUDA(cudaMemcpyAsync(want.data(), nchw.p, want.size() * 2, cudaMemcpyDeviceToHost, stream.s));
    for (int ld : {8, 3}) {
        DevBuf nhwc(pixels * ld * imgs.size() * 2);
        ASSERT_CUDA(cudaMemsetAsync(nhwc.p, 0xAB, pixels * ld * imgs.size() * 2, stream.s));
        const Status st =
            (*lb)->run_nhwc_f16(frames, reinterpret_cast<uint16_t*>(nhwc.as<__half>()), ld, stream.lease, infos);
        ASSERT_TRUE(st.is_ok()) << st.to_string();
        std::vector<uint16_t> got(pixels * ld * imgs.size());
        ASSERT_CUDA(cudaMemcpyAsync(got.data(), nhwc.p, got.size() * 2, cudaMemcpyDeviceToHost, stream.s));
        ASSERT_CUDA(cudaStreamSynchronize(stream.s));
        size_t differing = 0, nonzero_pad = 0;
        for (size_t i = 0; i < imgs.size(); ++i)
            for (size_t p = 0; p < pixels; ++p) {
                const uint16_t* px = &got[(i * pixels + p) * ld];
                for (int c = 0; c < 3; ++c) differing += px[c] != want[i * per + c * pixels + p];
                for (int c = 3; c < ld; ++c) nonzero_pad += px[c] != 0;
            }
        EXPECT_EQ(differing, 0u) << "ld " << ld;
        EXPECT_EQ(nonzero_pad, 0u) << "ld " << ld;
    }
    DevBuf small(pixels * 2 * 2);
    EXPECT_EQ((*lb)->run_nhwc_f16(frames, reinterpret_cast<uint16_t*>(small.as<__half>()), 2, stream.lease, infos).code(),
              StatusCode::kInvalidArgument);
}

TEST(GpuLetterbox, RejectsBadFrames) {
    SKIP_WITHOUT_GPU();
    StreamHolder stream;
    auto lb = GpuLetterbox::create(64, 64, 1, 16, 16);
    ASSERT_TRUE(lb.is_ok()) << lb.status().to_string();
    DevBuf dst(3 * 64 * 64 * sizeof(float));
    std::vector<LetterboxInfo> infos;
    std::vector<uint8_t> px(16 * 16 * 3);
    EXPECT_FALSE((*lb)->run({{px.data(), 16, 16, 10}}, dst.as<float>(), stream.lease, infos).is_ok());  // stride < 3w
    EXPECT_FALSE((*lb)->run({{nullptr, 16, 16, 48}}, dst.as<float>(), stream.lease, infos).is_ok());
    EXPECT_FALSE((*lb)->run({{px.data(), 0, 16, 48}}, dst.as<float>(), stream.lease, infos).is_ok());
    EXPECT_FALSE((*lb)->run({{px.data(), 16, 16, 48}}, nullptr, stream.lease, infos).is_ok());
    EXPECT_TRUE((*lb)->run({}, dst.as<float>(), stream.lease, infos).is_ok());
    EXPECT_TRUE(infos.empty());
    EXPECT_FALSE(GpuLetterbox::create(0, 64, 1, 16, 16).is_ok());
    // Work goes on a CUDA device's stream only.
    auto host = device::device_host().stream_acquire();
    ASSERT_TRUE(host.is_ok());
    EXPECT_EQ((*lb)->run({{px.data(), 16, 16, 48}}, dst.as<float>(), *host, infos).code(), StatusCode::kInvalidArgument);
    EXPECT_EQ((*lb)->run({{px.data(), 16, 16, 48}}, dst.as<float>(), device::StreamLease(), infos).code(),
              StatusCode::kInvalidArgument);
}

#if defined(ITSCAM_HAVE_OPENCV) && ITSCAM_HAVE_OPENCV
TEST(GpuLetterbox, MatchesCpuOnRealImages) {
    SKIP_WITHOUT_GPU();
    StreamHolder stream;
    std::vector<HostImage> imgs;
    for (const char* name :
         {"bus.jpg", "zidane.jpg", "highway_trucks.jpg", "highway_trucks_720p_t10.png", "urban_360p_t5.png"}) {
        const std::string path = shared_path(std::string("data/images/") + name);
        if (!std::filesystem::exists(path)) continue;
        const cv::Mat m = cv::imread(path, cv::IMREAD_COLOR);
        ASSERT_FALSE(m.empty()) << path;
        HostImage im{m.cols, m.rows, m.step[0], {}};
        im.px.assign(m.data, m.data + m.step[0] * m.rows);
        imgs.push_back(std::move(im));
    }
    if (imgs.empty()) GTEST_SKIP() << "no images under " << shared_path("data/images");
    std::vector<FrameRef> frames;
    std::vector<HostImage*> host;
    for (HostImage& im : imgs) {
        frames.push_back({im.px.data(), im.w, im.h, im.stride});
        host.push_back(&im);
    }
    for (int size : {640, 320, 1280}) {
        auto lb = GpuLetterbox::create(size, size, static_cast<int>(imgs.size()), 1920, 1080);
        ASSERT_TRUE(lb.is_ok()) << lb.status().to_string();
        check_letterbox(**lb, frames, host, stream, "real");
    }
}
#endif

// ---------------------------------------------------------------------------------------------------------------------
// Decode + NMS

// Compares GPU results with yolo_decode_nms on each image of a [batch, channels, anchors] host tensor.
void check_decode(GpuDecodeNms& dec, const std::vector<float>& raw, int batch, int channels, int anchors,
                  const NmsOptions& opt, const StreamHolder& stream, const std::string& what) {
    const size_t per = static_cast<size_t>(channels) * anchors;
    ASSERT_EQ(raw.size(), per * batch);
    DevBuf d(raw.size() * sizeof(float));
    ASSERT_CUDA(cudaMemcpyAsync(d.p, raw.data(), raw.size() * sizeof(float), cudaMemcpyHostToDevice, stream.s));
    std::vector<std::vector<Detection>> got;
    const Status st = dec.run(d.as<const float>(), batch, channels, anchors, opt, stream.lease, got);
    ASSERT_TRUE(st.is_ok()) << st.to_string();
    ASSERT_EQ(got.size(), static_cast<size_t>(batch));
    size_t total = 0, inexact = 0;
    for (int b = 0; b < batch; ++b) {
        const std::vector<Detection> want = yolo_decode_nms(raw.data() + b * per, channels, anchors, opt);
        const std::vector<Detection>& g = got[b];
        ASSERT_EQ(g.size(), want.size()) << what << " image " << b;
        for (size_t k = 0; k < want.size(); ++k) {
            EXPECT_EQ(g[k].class_id, want[k].class_id) << what << " image " << b << " det " << k;
            EXPECT_EQ(g[k].score, want[k].score) << what << " image " << b << " det " << k;
            EXPECT_NEAR(g[k].x1, want[k].x1, 1e-3) << what << " image " << b << " det " << k;
            EXPECT_NEAR(g[k].y1, want[k].y1, 1e-3) << what << " image " << b << " det " << k;
            EXPECT_NEAR(g[k].x2, want[k].x2, 1e-3) << what << " image " << b << " det " << k;
            EXPECT_NEAR(g[k].y2, want[k].y2, 1e-3) << what << " image " << b << " det " << k;
            inexact += g[k].x1 != want[k].x1 || g[k].y1 != want[k].y1 || g[k].x2 != want[k].x2 || g[k].y2 != want[k].y2;
        }
        total += want.size();
    }
    std::printf("[ gpu nms ] %-28s batch %d: %zu detections, %zu boxes not bit-identical\n", what.c_str(), batch, total,
                inexact);
}

std::vector<float> load_golden(const std::string& name, int& channels, int& anchors) {
    std::vector<float> data;
    std::vector<int64_t> shape;
    std::string err;
    if (!npy_load_f32(golden_path(name), data, shape, &err)) return {};
    if (shape.size() != 3 || shape[0] != 1) return {};
    channels = static_cast<int>(shape[1]);
    anchors = static_cast<int>(shape[2]);
    return data;
}

TEST(GpuDecodeNms, MatchesCpuOnGoldenOutputs) {
    SKIP_WITHOUT_GPU();
    int c0 = 0, a0 = 0, c1 = 0, a1 = 0;
    const std::vector<float> bus = load_golden("bus_640.output.npy", c0, a0);
    const std::vector<float> zidane = load_golden("zidane_640.output.npy", c1, a1);
    if (bus.empty() || zidane.empty())
        GTEST_SKIP() << "golden outputs not found: " << golden_path("bus_640.output.npy");
    ASSERT_EQ(c0, c1);
    ASSERT_EQ(a0, a1);
    StreamHolder stream;
    auto dec = GpuDecodeNms::create(2, a0);
    ASSERT_TRUE(dec.is_ok()) << dec.status().to_string();
    check_decode(**dec, bus, 1, c0, a0, {}, stream, "bus");
    check_decode(**dec, zidane, 1, c0, a0, {}, stream, "zidane");
    std::vector<float> both = bus;
    both.insert(both.end(), zidane.begin(), zidane.end());
    both.insert(both.end(), bus.begin(), bus.end());  // batch 3: grows the scratch
    check_decode(**dec, both, 3, c0, a0, {}, stream, "bus+zidane+bus");
    NmsOptions low;
    low.conf = 0.001f;  // mAP settings: thousands of candidates (global-memory path)
    check_decode(**dec, both, 3, c0, a0, low, stream, "conf 0.001");
    NmsOptions agn;
    agn.agnostic = true;
    agn.iou = 0.45f;
    check_decode(**dec, both, 3, c0, a0, agn, stream, "agnostic iou 0.45");
    NmsOptions cls;
    cls.classes = {0, 5};
    cls.max_det = 3;
    check_decode(**dec, both, 3, c0, a0, cls, stream, "classes {0,5} max_det 3");
}

// Random head output: boxes clustered around a few centres (heavy overlap), quantized scores (many exact ties),
// a sprinkling of NaN scores and boxes.
std::vector<float> make_raw(int batch, int nc, int anchors, uint32_t seed, bool with_nan) {
    const int channels = 4 + nc;
    std::vector<float> raw(static_cast<size_t>(batch) * channels * anchors, 0.f);
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(0.f, 1.f);
    for (int b = 0; b < batch; ++b) {
        float* o = raw.data() + static_cast<size_t>(b) * channels * anchors;
        const int centres = 3 + b * 2;
        std::vector<float> cx(centres), cy(centres), sz(centres);
        for (int k = 0; k < centres; ++k) {
            cx[k] = 40 + u(rng) * 560;
            cy[k] = 40 + u(rng) * 560;
            sz[k] = 10 + u(rng) * 150;
        }
        for (int a = 0; a < anchors; ++a) {
            const int k = static_cast<int>(rng() % centres);
            o[0 * anchors + a] = cx[k] + (u(rng) - 0.5f) * sz[k] * 0.3f;
            o[1 * anchors + a] = cy[k] + (u(rng) - 0.5f) * sz[k] * 0.3f;
            o[2 * anchors + a] = sz[k] * (0.6f + 0.8f * u(rng));
            o[3 * anchors + a] = sz[k] * (0.6f + 0.8f * u(rng));
            for (int c = 0; c < nc; ++c) {
                // Mostly low scores; a third of anchors get a dominant class. Multiples of 1/64: many exact ties.
                float s = std::floor(u(rng) * 16.f) / 64.f;
                if (rng() % 3 == 0 && c == static_cast<int>((k + a) % nc)) s = std::floor(u(rng) * 64.f) / 64.f;
                o[static_cast<size_t>(4 + c) * anchors + a] = s;
            }
            if (with_nan && rng() % 97 == 0) {
                o[static_cast<size_t>(4 + rng() % nc) * anchors + a] = std::numeric_limits<float>::quiet_NaN();
            }
            if (with_nan && rng() % 101 == 0) o[2 * anchors + a] = std::numeric_limits<float>::quiet_NaN();
        }
    }
    return raw;
}

TEST(GpuDecodeNms, MatchesCpuOnRandomOverlappingBoxes) {
    SKIP_WITHOUT_GPU();
    StreamHolder stream;
    auto dec = GpuDecodeNms::create(2, 64, 10);  // deliberately small: grows on the first bigger call
    ASSERT_TRUE(dec.is_ok()) << dec.status().to_string();
    struct Case {
        int batch, nc, anchors;
        bool nan;
    };
    const Case cases[] = {{5, 80, 8400, false}, {4, 3, 2100, true},  {3, 7, 50, true},
                          {2, 1, 33600, false}, {6, 20, 4096, true}, {1, 2, 1, false}};
    for (const Case& c : cases) {
        const std::vector<float> raw = make_raw(c.batch, c.nc, c.anchors, 1000 + c.anchors, c.nan);
        const std::string tag =
            std::to_string(c.batch) + "x" + std::to_string(4 + c.nc) + "x" + std::to_string(c.anchors);
        std::vector<std::pair<std::string, NmsOptions>> opts;
        opts.push_back({"default", {}});
        NmsOptions o;
        o.conf = 0.1f;
        opts.push_back({"conf 0.1", o});
        o = {};
        o.conf = 0.f;  // every anchor with a non-zero best score
        o.iou = 0.5f;
        opts.push_back({"conf 0 iou 0.5", o});
        o = {};
        o.conf = -1.f;  // every anchor: > 4096 candidates on the large cases
        o.max_nms = 5000;
        opts.push_back({"conf -1 max_nms 5000", o});
        o = {};
        o.agnostic = true;
        opts.push_back({"agnostic", o});
        o = {};
        o.classes = {0, 2, 5, 100};
        o.max_det = 7;
        opts.push_back({"classes max_det 7", o});
        o = {};
        o.max_nms = 100;
        o.conf = 0.05f;
        opts.push_back({"max_nms 100", o});
        o = {};
        o.max_nms = 0;
        opts.push_back({"max_nms 0", o});
        o = {};
        o.max_det = 1000;
        o.conf = 0.01f;
        o.iou = 0.9f;
        opts.push_back({"max_det 1000 iou 0.9", o});
        o = {};
        o.max_det = 33;  // one kept box past a 32-candidate NMS tile
        o.conf = 0.05f;
        opts.push_back({"max_det 33", o});
        o = {};
        o.max_wh = 0.f;  // class offsets off: classes interact
        opts.push_back({"max_wh 0", o});
        for (const auto& [name, opt] : opts) {
            check_decode(**dec, raw, c.batch, 4 + c.nc, c.anchors, opt, stream, tag + " " + name);
        }
    }
}

TEST(GpuDecodeNms, InvalidArgumentsAndEmptyResults) {
    SKIP_WITHOUT_GPU();
    StreamHolder stream;
    auto dec = GpuDecodeNms::create(1, 16);
    ASSERT_TRUE(dec.is_ok()) << dec.status().to_string();
    DevBuf d(5 * 16 * sizeof(float));
    ASSERT_CUDA(cudaMemset(d.p, 0, 5 * 16 * sizeof(float)));
    std::vector<std::vector<Detection>> out;
    EXPECT_EQ((*dec)->run(d.as<const float>(), 1, 4, 16, {}, stream.lease, out).code(), StatusCode::kInvalidArgument);
    EXPECT_EQ((*dec)->run(d.as<const float>(), 1, 5, 0, {}, stream.lease, out).code(), StatusCode::kInvalidArgument);
    EXPECT_EQ((*dec)->run(nullptr, 1, 5, 16, {}, stream.lease, out).code(), StatusCode::kInvalidArgument);
    auto host = device::device_host().stream_acquire();
    ASSERT_TRUE(host.is_ok());
    EXPECT_EQ((*dec)->run(d.as<const float>(), 1, 5, 16, {}, *host, out).code(), StatusCode::kInvalidArgument);
    EXPECT_TRUE((*dec)->run(d.as<const float>(), 0, 5, 16, {}, stream.lease, out).is_ok());
    EXPECT_TRUE(out.empty());
    NmsOptions none;
    none.max_det = 0;
    ASSERT_TRUE((*dec)->run(d.as<const float>(), 1, 5, 16, none, stream.lease, out).is_ok());
    ASSERT_EQ(out.size(), 1u);
    EXPECT_TRUE(out[0].empty());
    ASSERT_TRUE((*dec)->run(d.as<const float>(), 1, 5, 16, {}, stream.lease, out).is_ok());  // all scores 0
    ASSERT_EQ(out.size(), 1u);
    EXPECT_TRUE(out[0].empty());
}

// Prints the latency of both stages for a batch of 8 (no assertion: a reference for the pipeline's budget).
TEST(GpuVisionTiming, PrintsBatchLatency) {
    SKIP_WITHOUT_GPU();
    using clock = std::chrono::steady_clock;
    StreamHolder stream;
    const int batch = 8, iters = 20;
    auto lb = GpuLetterbox::create(640, 640, batch, 1920, 1080);
    ASSERT_TRUE(lb.is_ok()) << lb.status().to_string();
    const HostImage im = make_image(1920, 1080, 0, 7);
    PinnedBuf pinned(im.px.size());
    std::memcpy(pinned.p, im.px.data(), im.px.size());
    DevBuf dst(static_cast<size_t>(batch) * 3 * 640 * 640 * sizeof(float));
    std::vector<LetterboxInfo> infos;
    for (const bool use_pinned : {true, false}) {
        const uint8_t* p = use_pinned ? static_cast<const uint8_t*>(pinned.p) : im.px.data();
        const std::vector<FrameRef> frames(batch, FrameRef{p, im.w, im.h, im.stride});
        ASSERT_TRUE((*lb)->run(frames, dst.as<float>(), stream.lease, infos).is_ok());  // warm-up
        ASSERT_CUDA(cudaStreamSynchronize(stream.s));
        const auto t0 = clock::now();
        for (int i = 0; i < iters; ++i) ASSERT_TRUE((*lb)->run(frames, dst.as<float>(), stream.lease, infos).is_ok());
        ASSERT_CUDA(cudaStreamSynchronize(stream.s));
        const double us = std::chrono::duration<double, std::micro>(clock::now() - t0).count() / iters;
        std::printf("[ timing ] letterbox 8 x 1920x1080 -> 640x640, %s frames (copy + kernel): %.1f us/batch\n",
                    use_pinned ? "pinned" : "pageable", us);
    }

    auto dec = GpuDecodeNms::create(batch, 8400);
    ASSERT_TRUE(dec.is_ok()) << dec.status().to_string();
    std::vector<std::vector<Detection>> out;
    // Real outputs (bus, zidane alternating) when the golden files are there, then random ones with heavy overlap.
    int channels = 0, anchors = 0;
    const std::vector<float> bus = load_golden("bus_640.output.npy", channels, anchors);
    const std::vector<float> zidane = load_golden("zidane_640.output.npy", channels, anchors);
    if (!bus.empty() && !zidane.empty() && channels == 84 && anchors == 8400) {
        std::vector<float> real;
        for (int b = 0; b < batch; ++b) {
            const std::vector<float>& one = b % 2 ? zidane : bus;
            real.insert(real.end(), one.begin(), one.end());
        }
        DevBuf d(real.size() * sizeof(float));
        ASSERT_CUDA(cudaMemcpy(d.p, real.data(), real.size() * sizeof(float), cudaMemcpyHostToDevice));
        for (const float conf : {0.25f, 0.001f}) {
            NmsOptions opt;
            opt.conf = conf;
            ASSERT_TRUE((*dec)->run(d.as<const float>(), batch, 84, 8400, opt, stream.lease, out).is_ok());
            const auto t0 = clock::now();
            for (int i = 0; i < iters; ++i) {
                ASSERT_TRUE((*dec)->run(d.as<const float>(), batch, 84, 8400, opt, stream.lease, out).is_ok());
            }
            const double us = std::chrono::duration<double, std::micro>(clock::now() - t0).count() / iters;
            size_t n = 0;
            for (const auto& v : out) n += v.size();
            std::printf(
                "[ timing ] decode+nms 8 x 84x8400 golden, conf %g (%zu detections): %.1f us/batch incl. sync\n", conf,
                n, us);
        }
    }
    const std::vector<float> raw = make_raw(batch, 80, 8400, 5, false);
    DevBuf d(raw.size() * sizeof(float));
    ASSERT_CUDA(cudaMemcpy(d.p, raw.data(), raw.size() * sizeof(float), cudaMemcpyHostToDevice));
    for (const float conf : {0.25f, 0.001f}) {
        NmsOptions opt;
        opt.conf = conf;
        ASSERT_TRUE((*dec)->run(d.as<const float>(), batch, 84, 8400, opt, stream.lease, out).is_ok());  // warm-up
        const auto t0 = clock::now();
        for (int i = 0; i < iters; ++i) {
            ASSERT_TRUE((*dec)->run(d.as<const float>(), batch, 84, 8400, opt, stream.lease, out).is_ok());
        }
        const double us = std::chrono::duration<double, std::micro>(clock::now() - t0).count() / iters;
        size_t n = 0;
        for (const auto& v : out) n += v.size();
        std::printf("[ timing ] decode+nms 8 x 84x8400 random, conf %g (%zu detections): %.1f us/batch incl. sync\n",
                    conf, n, us);
    }
}

}  // namespace
}  // namespace itscam::vision::gpu
