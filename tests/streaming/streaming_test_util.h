// Helpers shared by the streaming tests: synthetic frames with moving textured boxes, and ffprobe on a byte string.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "video/frame.h"
#include "vision/detection.h"

namespace itscam::streaming_test {

// A BGR frame: a gradient background with mild fixed texture and `boxes` moving boxes (frame index i).
inline video::Frame make_frame(int w, int h, int64_t i, int boxes = 3) {
    video::Frame f;
    f.width = w;
    f.height = h;
    f.stride = size_t(w) * 3;
    f.format = video::PixelFormat::kBGR24;
    f.data = std::shared_ptr<uint8_t>(new uint8_t[f.stride * h], std::default_delete<uint8_t[]>());
    uint8_t* p = f.data.get();
    for (int y = 0; y < h; ++y) {
        for (int x = 0; x < w; ++x) {
            const uint32_t n = (uint32_t(x) * 2654435761u) ^ (uint32_t(y) * 40503u);
            uint8_t* px = p + size_t(y) * f.stride + size_t(x) * 3;
            px[0] = uint8_t(60 + (x * 80) / w + (n >> 29));
            px[1] = uint8_t(70 + (y * 80) / h + ((n >> 27) & 3));
            px[2] = uint8_t(90 + ((n >> 25) & 7));
        }
    }
    for (int b = 0; b < boxes; ++b) {
        const int bw = w / 8, bh = h / 8;
        const int x0 = int((i * (3 + b) + b * w / 4) % std::max(1, w - bw));
        const int y0 = (h / 4 + b * h / 5) % std::max(1, h - bh);
        for (int y = y0; y < y0 + bh; ++y)
            for (int x = x0; x < x0 + bw; ++x) {
                uint8_t* px = p + size_t(y) * f.stride + size_t(x) * 3;
                px[0] = uint8_t(200 - 40 * b + ((x + y) & 15));
                px[1] = uint8_t(30 + 50 * b);
                px[2] = uint8_t(220 - ((x ^ y) & 31));
            }
    }
    f.index = i;
    f.pts = double(i) / 30.0;
    f.capture_time = std::chrono::steady_clock::now();
    return f;
}

// The boxes make_frame drew, as detections (class 2: car).
inline std::vector<vision::Detection> frame_boxes(int w, int h, int64_t i, int boxes = 3) {
    std::vector<vision::Detection> d;
    for (int b = 0; b < boxes; ++b) {
        const int bw = w / 8, bh = h / 8;
        const int x0 = int((i * (3 + b) + b * w / 4) % std::max(1, w - bw));
        const int y0 = (h / 4 + b * h / 5) % std::max(1, h - bh);
        d.push_back({2, 0.9f, float(x0), float(y0), float(x0 + bw), float(y0 + bh)});
    }
    return d;
}

inline std::string temp_file(const std::string& stem) {
    return (std::filesystem::temp_directory_path() /
            (stem + "_" + std::to_string(::getpid()) + "_" + std::to_string(std::rand()) + ".mp4"))
        .string();
}

// Runs a shell command and returns its stdout (empty on failure).
inline std::string run_capture(const std::string& cmd, int* rc = nullptr) {
    std::string out;
    FILE* f = ::popen(cmd.c_str(), "r");
    if (!f) return out;
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
    const int r = ::pclose(f);
    if (rc) *rc = r;
    return out;
}

inline bool have_ffprobe() { return std::system("command -v ffprobe >/dev/null 2>&1") == 0; }

}  // namespace itscam::streaming_test
