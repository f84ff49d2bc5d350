#include "vision/letterbox.h"

#include <omp.h>

#include <algorithm>
#include <array>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <vector>

namespace itscam::vision {

namespace {

// OpenCV's fixed-point bilinear resize: weights are 11-bit (sum 2048), so a horizontally interpolated value is
// pixel * 2048 and the vertical pass scales back by about 2^-22 (see vblend).
constexpr int kCoefBits = 11;
constexpr int kCoefScale = 1 << kCoefBits;

// cvRound / saturate_cast<short>(float): round half to even under the default FP environment.
inline int round_half_even(float v) {
    return static_cast<int>(std::nearbyint(v));
}

inline short saturate_short(float v) {
    const int i = round_half_even(v);
    return static_cast<short>(std::clamp(i, -32768, 32767));
}

inline uint8_t saturate_u8(int v) {
    return static_cast<uint8_t>(std::clamp(v, 0, 255));
}

// cvFloor(float).
inline int floor_to_int(float v) {
    const int i = static_cast<int>(v);
    return i - (static_cast<float>(i) > v ? 1 : 0);
}

// Source index and 11-bit weights for one output coordinate, as in cv::hal::resize's table setup:
// f = (d + 0.5) * scale - 0.5 computed in double then narrowed to float, s = floor(f), weights (1 - frac, frac).
struct Tap {
    int s;
    short w0;
    short w1;
};

Tap make_tap(int d, double scale) {
    float f = static_cast<float>((d + 0.5) * scale - 0.5);
    const int s = floor_to_int(f);
    f -= static_cast<float>(s);
    return {s, saturate_short((1.f - f) * kCoefScale), saturate_short(f * kCoefScale)};
}

// Exact 2x downscale: OpenCV turns INTER_LINEAR into its fast INTER_AREA path, which averages each 2x2 block with
// (a + b + c + d + 2) >> 2 for 1, 3 and 4 channels; for 2 channels it takes the generic path, sum * 0.25f rounded
// half-to-even.
void resize_area_2x(const uint8_t* src, size_t src_stride, int channels, uint8_t* dst, int dst_w, int dst_h,
                    size_t dst_stride) {
    const bool fast_mode = channels != 2;
    for (int dy = 0; dy < dst_h; ++dy) {
        const uint8_t* s0 = src + static_cast<size_t>(2 * dy) * src_stride;
        const uint8_t* s1 = s0 + src_stride;
        uint8_t* d = dst + static_cast<size_t>(dy) * dst_stride;
        for (int dx = 0; dx < dst_w; ++dx) {
            for (int c = 0; c < channels; ++c) {
                const int i0 = 2 * dx * channels + c;
                const int i1 = i0 + channels;
                const int sum = s0[i0] + s0[i1] + s1[i0] + s1[i1];
                d[dx * channels + c] = fast_mode ? static_cast<uint8_t>((sum + 2) >> 2)
                                                 : saturate_u8(round_half_even(static_cast<float>(sum) * 0.25f));
            }
        }
    }
}

// Horizontal pass for one source row: value * 2048 blended between two neighbours (exact integer arithmetic, so
// OpenCV's SIMD and scalar code agree here). off1 is the byte offset of the second tap; border taps have w1 == 0 and
// off1 pointing at the first tap, so they never read past the row.
template <int CN>
void hresize_row(const uint8_t* s, const std::vector<Tap>& xtaps, const std::vector<int>& off1, int dst_w, int channels,
                 int32_t* out) {
    const int cn = CN > 0 ? CN : channels;
    for (int dx = 0; dx < dst_w; ++dx) {
        const Tap& t = xtaps[dx];
        const uint8_t* p0 = s + t.s * cn;
        const uint8_t* p1 = s + off1[dx];
        for (int c = 0; c < cn; ++c) out[dx * cn + c] = p0[c] * t.w0 + p1[c] * t.w1;
    }
}

void hresize_row_any(const uint8_t* s, const std::vector<Tap>& xtaps, const std::vector<int>& off1, int dst_w,
                     int channels, int32_t* out) {
    switch (channels) {
        case 1:
            return hresize_row<1>(s, xtaps, off1, dst_w, channels, out);
        case 3:
            return hresize_row<3>(s, xtaps, off1, dst_w, channels, out);
        case 4:
            return hresize_row<4>(s, xtaps, off1, dst_w, channels, out);
        default:
            return hresize_row<0>(s, xtaps, off1, dst_w, channels, out);
    }
}

// Vertical blend of two horizontally resized rows (values pixel * 2048). OpenCV 4.6 does not divide the exact sum by
// 2^22; both its SIMD path and its specialised scalar tail (VResizeLinear<uchar, int, short, ...>) first drop 4 bits,
// take the high 16 bits of each 16x16-bit product, and round the 2 remaining bits:
//   out = (((h0 >> 4) * b0 >> 16) + ((h1 >> 4) * b1 >> 16) + 2) >> 2
// This truncates differently from (h0 * b0 + h1 * b1 + 2^21) >> 22 (off by one on ~0.2% of values), so the exact
// form matters. h >> 4 <= 255 * 2048 / 16 = 32640 fits int16 and the result never exceeds 255.
inline uint8_t vblend(int32_t h0, int32_t h1, int b0, int b1) {
    return static_cast<uint8_t>(((((h0 >> 4) * b0) >> 16) + (((h1 >> 4) * b1) >> 16) + 2) >> 2);
}

void vresize_row(const int32_t* h0, const int32_t* h1, short b0, short b1, int width, uint8_t* out) {
    for (int x = 0; x < width; ++x) out[x] = vblend(h0[x], h1[x], b0, b1);
}

const std::array<float, 256>& unit_lut() {
    // numpy's uint8 -> float32 / 255.0 is a true float division, which differs from * (1 / 255.f) in the last ulp.
    static const std::array<float, 256> lut = [] {
        std::array<float, 256> t{};
        for (int i = 0; i < 256; ++i) t[i] = static_cast<float>(i) / 255.0f;
        return t;
    }();
    return lut;
}

}  // namespace

LetterboxInfo letterbox_info(int src_w, int src_h, int dst_w, int dst_h) {
    LetterboxInfo info{};
    info.src_w = src_w;
    info.src_h = src_h;
    info.dst_w = dst_w;
    info.dst_h = dst_h;
    if (src_w <= 0 || src_h <= 0 || dst_w <= 0 || dst_h <= 0) return info;
    // Python computes r and the products in double; round() there is half-to-even, which nearbyint matches.
    const double r = std::min(static_cast<double>(dst_h) / src_h, static_cast<double>(dst_w) / src_w);
    info.scale = static_cast<float>(r);
    // A sliver (e.g. 1x1280 into 640) would round to 0 and make cv2.resize fail in the reference; keep one pixel.
    info.new_w = std::max(static_cast<int>(std::nearbyint(src_w * r)), 1);
    info.new_h = std::max(static_cast<int>(std::nearbyint(src_h * r)), 1);
    const double dw = (dst_w - info.new_w) / 2.0;
    const double dh = (dst_h - info.new_h) / 2.0;
    // The -0.1 puts the odd pixel of padding on the right/bottom side.
    info.pad_x = static_cast<int>(std::nearbyint(dw - 0.1));
    info.pad_y = static_cast<int>(std::nearbyint(dh - 0.1));
    return info;
}

bool resize_linear_u8(const uint8_t* src, int src_w, int src_h, size_t src_stride_bytes, int channels, uint8_t* dst,
                      int dst_w, int dst_h, size_t dst_stride_bytes) {
    if (src == nullptr || dst == nullptr || src_w <= 0 || src_h <= 0 || dst_w <= 0 || dst_h <= 0) return false;
    if (channels < 1 || channels > 4) return false;
    if (src_stride_bytes < static_cast<size_t>(src_w) * channels) return false;
    if (dst_stride_bytes < static_cast<size_t>(dst_w) * channels) return false;

    if (src_w == dst_w && src_h == dst_h) {
        for (int y = 0; y < src_h; ++y) {
            std::memcpy(dst + y * dst_stride_bytes, src + y * src_stride_bytes, static_cast<size_t>(src_w) * channels);
        }
        return true;
    }

    // cv::resize derives the scale as 1 / (dst / src), not src / dst; the two can differ in the last bit.
    const double scale_x = 1.0 / (static_cast<double>(dst_w) / src_w);
    const double scale_y = 1.0 / (static_cast<double>(dst_h) / src_h);
    const bool exact_2x = std::abs(scale_x - 2.0) < DBL_EPSILON && std::abs(scale_y - 2.0) < DBL_EPSILON;
    if (exact_2x) {
        resize_area_2x(src, src_stride_bytes, channels, dst, dst_w, dst_h, dst_stride_bytes);
        return true;
    }

    std::vector<Tap> xtaps(dst_w);
    for (int dx = 0; dx < dst_w; ++dx) {
        Tap t = make_tap(dx, scale_x);
        // Out-of-range taps collapse onto the border pixel with weights (2048, 0); rows are clamped later instead,
        // keeping their computed weights.
        if (t.s < 0) t = {0, static_cast<short>(kCoefScale), 0};
        if (t.s >= src_w - 1) t = {src_w - 1, static_cast<short>(kCoefScale), 0};
        xtaps[dx] = t;
    }
    std::vector<int> off1(dst_w);
    for (int dx = 0; dx < dst_w; ++dx) off1[dx] = (xtaps[dx].w1 != 0 ? xtaps[dx].s + 1 : xtaps[dx].s) * channels;

    const int width = dst_w * channels;
    // Rows are split into one contiguous band per thread; each band keeps its own two-row cache of horizontal
    // passes, so the output is the same bit for bit whatever the thread count.
#pragma omp parallel if (static_cast<int64_t>(width) * dst_h > (int64_t{1} << 16))
    {
        const int nt = omp_get_num_threads(), tid = omp_get_thread_num();
        const int y_begin = static_cast<int>(static_cast<int64_t>(dst_h) * tid / nt);
        const int y_end = static_cast<int>(static_cast<int64_t>(dst_h) * (tid + 1) / nt);
        std::vector<int32_t> rows(2 * static_cast<size_t>(width));
        int32_t* buf[2] = {rows.data(), rows.data() + width};
        int buf_row[2] = {-1, -1};
        for (int dy = y_begin; dy < y_end; ++dy) {
            const Tap t = make_tap(dy, scale_y);
            const int sy[2] = {std::clamp(t.s, 0, src_h - 1), std::clamp(t.s + 1, 0, src_h - 1)};
            // Consecutive output rows mostly share source rows; reuse the horizontal pass when possible.
            auto cached = [&](int row) { return buf_row[0] == row ? 0 : (buf_row[1] == row ? 1 : -1); };
            int slot0 = cached(sy[0]);
            if (slot0 < 0) {
                slot0 = buf_row[0] == sy[1] ? 1 : 0;  // keep the row the second tap will need
                hresize_row_any(src + static_cast<size_t>(sy[0]) * src_stride_bytes, xtaps, off1, dst_w, channels,
                                buf[slot0]);
                buf_row[slot0] = sy[0];
            }
            int slot1 = cached(sy[1]);
            if (slot1 < 0) {
                slot1 = 1 - slot0;
                hresize_row_any(src + static_cast<size_t>(sy[1]) * src_stride_bytes, xtaps, off1, dst_w, channels,
                                buf[slot1]);
                buf_row[slot1] = sy[1];
            }
            vresize_row(buf[slot0], buf[slot1], t.w0, t.w1, width, dst + static_cast<size_t>(dy) * dst_stride_bytes);
        }
    }
    return true;
}

void letterbox_bgr_u8_to_rgb_f32(const uint8_t* bgr, int src_w, int src_h, size_t src_stride_bytes, int dst_w,
                                 int dst_h, float* out_chw) {
    if (bgr == nullptr || out_chw == nullptr) return;
    const LetterboxInfo info = letterbox_info(src_w, src_h, dst_w, dst_h);
    if (info.new_w <= 0 || info.new_h <= 0) return;

    const uint8_t* img = bgr;
    size_t img_stride = src_stride_bytes;
    std::vector<uint8_t> resized;
    if (info.new_w != src_w || info.new_h != src_h) {
        img_stride = static_cast<size_t>(info.new_w) * 3;
        resized.resize(img_stride * info.new_h);
        if (!resize_linear_u8(bgr, src_w, src_h, src_stride_bytes, 3, resized.data(), info.new_w, info.new_h,
                              img_stride)) {
            return;
        }
        img = resized.data();
    }

    const auto& lut = unit_lut();
    const float pad = lut[kLetterboxPadValue];
    const size_t plane = static_cast<size_t>(dst_w) * dst_h;
    float* planes[3] = {out_chw, out_chw + plane, out_chw + 2 * plane};  // R, G, B
#pragma omp parallel for schedule(static) if (plane > (size_t{1} << 16))
    for (int y = 0; y < dst_h; ++y) {
        const size_t row = static_cast<size_t>(y) * dst_w;
        const int iy = y - info.pad_y;
        if (iy < 0 || iy >= info.new_h) {
            for (float* p : planes) std::fill(p + row, p + row + dst_w, pad);
            continue;
        }
        for (float* p : planes) {
            std::fill(p + row, p + row + info.pad_x, pad);
            std::fill(p + row + info.pad_x + info.new_w, p + row + dst_w, pad);
        }
        // One pass over the interleaved row, scattering BGR into the R, G, B planes.
        const uint8_t* s = img + static_cast<size_t>(iy) * img_stride;
        float* r = planes[0] + row + info.pad_x;
        float* g = planes[1] + row + info.pad_x;
        float* b = planes[2] + row + info.pad_x;
        for (int x = 0; x < info.new_w; ++x) {
            b[x] = lut[s[3 * x + 0]];
            g[x] = lut[s[3 * x + 1]];
            r[x] = lut[s[3 * x + 2]];
        }
    }
}

#if defined(ITSCAM_HAVE_OPENCV) && ITSCAM_HAVE_OPENCV
LetterboxInfo letterbox(const cv::Mat& bgr, int dst_w, int dst_h, float* out_chw) {
    if (bgr.empty() || bgr.type() != CV_8UC3) {
        LetterboxInfo info = letterbox_info(0, 0, dst_w, dst_h);
        return info;
    }
    letterbox_bgr_u8_to_rgb_f32(bgr.data, bgr.cols, bgr.rows, bgr.step[0], dst_w, dst_h, out_chw);
    return letterbox_info(bgr.cols, bgr.rows, dst_w, dst_h);
}
#endif

}  // namespace itscam::vision
