#include "video/synthetic_reader.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstring>
#include <string_view>
#include <vector>

namespace itscam::video {

namespace {

constexpr std::string_view kScheme = "synthetic://";
constexpr int kMaxDim = 16384;

bool parse_int(std::string_view s, int64_t& out) {
    if (s.empty()) return false;
    const char* end = s.data() + s.size();
    auto [p, ec] = std::from_chars(s.data(), end, out);
    return ec == std::errc() && p == end;
}

bool parse_double(std::string_view s, double& out) {
    if (s.empty()) return false;
    const char* end = s.data() + s.size();
    auto [p, ec] = std::from_chars(s.data(), end, out);
    return ec == std::errc() && p == end && std::isfinite(out);
}

// Position of a box moving at `speed` px/frame and bouncing between 0 and `range`: a triangle wave.
int bounce(int64_t start, int64_t speed, int64_t i, int range) {
    if (range <= 0) return 0;
    const int64_t period = 2 * static_cast<int64_t>(range);
    int64_t p = (start + speed * i) % period;
    if (p < 0) p += period;
    return static_cast<int>(p <= range ? p : period - p);
}

struct Box {
    int x0_num, y0_num;  // start position, in 1/16 of the free range
    int vx, vy;          // px per frame, scaled by the image size below
    uint8_t b, g, r;
    int w_div, h_div;  // box size: width / w_div, height / h_div
};

constexpr Box kBoxes[] = {
    {1, 3, 7, 5, 0, 0, 255, 6, 5},         // red
    {9, 1, -5, 3, 0, 255, 0, 8, 6},        // green
    {4, 12, 3, -6, 255, 64, 0, 5, 8},      // blue
    {14, 8, -4, -4, 0, 255, 255, 10, 10},  // yellow
};

// BT.601 limited range, fixed point (same coefficients as libswscale's default).
inline uint8_t rgb_to_y(int r, int g, int b) {
    return static_cast<uint8_t>((66 * r + 129 * g + 25 * b + 128) / 256 + 16);
}
inline uint8_t rgb_to_u(int r, int g, int b) {
    return static_cast<uint8_t>(std::clamp(((-38 * r - 74 * g + 112 * b + 128) >> 8) + 128, 0, 255));
}
inline uint8_t rgb_to_v(int r, int g, int b) {
    return static_cast<uint8_t>(std::clamp(((112 * r - 94 * g - 18 * b + 128) >> 8) + 128, 0, 255));
}

}  // namespace

Result<SyntheticSpec> parse_synthetic_url(const std::string& url) {
    const std::string usage = " (expected synthetic://WIDTHxHEIGHT@FPS[?frames=N], e.g. synthetic://1280x720@30)";
    std::string_view s(url);
    if (s.substr(0, kScheme.size()) != kScheme) return invalid_argument(url + ": not a synthetic:// URL" + usage);
    s.remove_prefix(kScheme.size());
    std::string_view query;
    if (const size_t q = s.find('?'); q != std::string_view::npos) {
        query = s.substr(q + 1);
        s = s.substr(0, q);
    }
    const size_t x = s.find('x');
    const size_t at = s.find('@');
    if (x == std::string_view::npos || at == std::string_view::npos || at < x)
        return invalid_argument(url + ": malformed synthetic URL" + usage);
    int64_t w = 0, h = 0;
    double fps = 0;
    if (!parse_int(s.substr(0, x), w) || !parse_int(s.substr(x + 1, at - x - 1), h))
        return invalid_argument(url + ": width and height must be whole numbers" + usage);
    if (w <= 0 || h <= 0 || w > kMaxDim || h > kMaxDim)
        return invalid_argument(url + ": frame size " + std::to_string(w) + "x" + std::to_string(h) +
                                " is out of range (1.." + std::to_string(kMaxDim) + ")");
    if (!parse_double(s.substr(at + 1), fps)) return invalid_argument(url + ": frame rate is not a number" + usage);
    if (fps <= 0 || fps > 1000) return invalid_argument(url + ": frame rate must be in (0, 1000]");
    SyntheticSpec spec;
    spec.width = static_cast<int>(w);
    spec.height = static_cast<int>(h);
    spec.fps = fps;
    while (!query.empty()) {
        const size_t amp = query.find('&');
        const std::string_view kv = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
        const size_t eq = kv.find('=');
        const std::string_view key = kv.substr(0, eq);
        const std::string_view val = eq == std::string_view::npos ? std::string_view() : kv.substr(eq + 1);
        if (key == "frames") {
            int64_t n = 0;
            if (!parse_int(val, n) || n < 0)
                return invalid_argument(url + ": frames must be a non-negative whole number");
            spec.frames = n;
        } else {
            return invalid_argument(url + ": unknown option '" + std::string(key) + "' (known: frames)");
        }
    }
    return spec;
}

SyntheticReader::SyntheticReader(std::string url, SyntheticSpec spec, ReaderOptions opt)
    : url_(std::move(url)), spec_(spec), opt_(std::move(opt)) {
    if (!opt_.allocator) opt_.allocator = heap_allocator();
}

Status SyntheticReader::open() {
    if (interrupted_) return cancelled(url_ + ": interrupted");
    if (opt_.format == PixelFormat::kNV12 && (spec_.width % 2 != 0 || spec_.height % 2 != 0))
        return invalid_argument(url_ + ": NV12 output needs an even width and height");
    opened_ = true;
    next_ = 0;
    return Status::ok();
}

void SyntheticReader::render_bgr(const SyntheticSpec& spec, int64_t i, uint8_t* dst, size_t stride) {
    const int w = spec.width, h = spec.height;
    // Gradient: blue grows to the right, green downwards, red drifts slowly with time.
    const int red = static_cast<int>((i * 2) % 256);
    for (int y = 0; y < h; ++y) {
        uint8_t* row = dst + stride * static_cast<size_t>(y);
        const int g = h > 1 ? y * 255 / (h - 1) : 0;
        for (int x = 0; x < w; ++x) {
            row[3 * x + 0] = static_cast<uint8_t>(w > 1 ? x * 255 / (w - 1) : 0);
            row[3 * x + 1] = static_cast<uint8_t>(g);
            row[3 * x + 2] = static_cast<uint8_t>(red / 4);
        }
    }
    for (const Box& b : kBoxes) {
        const int bw = std::max(1, w / b.w_div), bh = std::max(1, h / b.h_div);
        const int rx = w - bw, ry = h - bh;
        // Speeds scale with the frame size so that motion looks alike at every resolution.
        const int64_t vx = b.vx * std::max(1, w / 320), vy = b.vy * std::max(1, h / 240);
        const int x0 = bounce(static_cast<int64_t>(rx) * b.x0_num / 16, vx, i, rx);
        const int y0 = bounce(static_cast<int64_t>(ry) * b.y0_num / 16, vy, i, ry);
        for (int y = y0; y < y0 + bh; ++y) {
            uint8_t* row = dst + stride * static_cast<size_t>(y);
            for (int x = x0; x < x0 + bw; ++x) {
                row[3 * x + 0] = b.b;
                row[3 * x + 1] = b.g;
                row[3 * x + 2] = b.r;
            }
        }
    }
}

Result<bool> SyntheticReader::read(Frame& out) {
    if (interrupted_) return cancelled(url_ + ": interrupted");
    if (!opened_) return internal_error(url_ + ": read() before open()");
    if (spec_.frames >= 0 && next_ >= spec_.frames) return false;
    const auto t0 = std::chrono::steady_clock::now();
    const int w = spec_.width, h = spec_.height;
    Frame f;
    f.format = opt_.format;
    f.width = w;
    f.height = h;
    if (opt_.format == PixelFormat::kBGR24) {
        f.stride = default_stride(PixelFormat::kBGR24, w);
        f.data = opt_.allocator(f.bytes());
        if (!f.data) return out_of_memory(url_ + ": frame allocator returned no buffer");
        render_bgr(spec_, next_, f.data.get(), f.stride);
    } else {
        f.stride = default_stride(PixelFormat::kNV12, w);
        f.data = opt_.allocator(f.bytes());
        if (!f.data) return out_of_memory(url_ + ": frame allocator returned no buffer");
        const size_t bgr_stride = static_cast<size_t>(w) * 3;
        std::vector<uint8_t> bgr(bgr_stride * static_cast<size_t>(h));
        render_bgr(spec_, next_, bgr.data(), bgr_stride);
        uint8_t* yp = f.data.get();
        uint8_t* uv = yp + f.stride * static_cast<size_t>(h);
        for (int y = 0; y < h; ++y) {
            const uint8_t* src = bgr.data() + bgr_stride * static_cast<size_t>(y);
            uint8_t* dy = yp + f.stride * static_cast<size_t>(y);
            for (int x = 0; x < w; ++x) dy[x] = rgb_to_y(src[3 * x + 2], src[3 * x + 1], src[3 * x]);
        }
        for (int y = 0; y < h; y += 2) {
            const uint8_t* s0 = bgr.data() + bgr_stride * static_cast<size_t>(y);
            const uint8_t* s1 = s0 + bgr_stride;
            uint8_t* d = uv + f.stride * static_cast<size_t>(y / 2);
            for (int x = 0; x < w; x += 2) {
                int b = 0, g = 0, r = 0;
                for (const uint8_t* p : {s0 + 3 * x, s0 + 3 * x + 3, s1 + 3 * x, s1 + 3 * x + 3}) {
                    b += p[0];
                    g += p[1];
                    r += p[2];
                }
                d[x] = rgb_to_u((r + 2) / 4, (g + 2) / 4, (b + 2) / 4);
                d[x + 1] = rgb_to_v((r + 2) / 4, (g + 2) / 4, (b + 2) / 4);
            }
        }
    }
    const auto t1 = std::chrono::steady_clock::now();
    f.index = next_;
    f.pts = static_cast<double>(next_) / spec_.fps;
    f.capture_time = t1;
    f.wall_time_us =
        std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count();
    f.decode_ms = std::chrono::duration<double, std::milli>(t1 - t0).count();
    ++next_;
    out = std::move(f);
    return true;
}

StreamInfo SyntheticReader::info() const {
    StreamInfo i;
    i.codec = "synthetic";
    i.width = spec_.width;
    i.height = spec_.height;
    i.fps = spec_.fps;
    i.live = false;
    return i;
}

Result<std::unique_ptr<VideoReader>> make_synthetic_reader(const std::string& url, const ReaderOptions& opt) {
    ITSCAM_ASSIGN_OR_RETURN(SyntheticSpec spec, parse_synthetic_url(url));
    return std::unique_ptr<VideoReader>(std::make_unique<SyntheticReader>(url, spec, opt));
}

}  // namespace itscam::video
