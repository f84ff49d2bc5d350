#include "vision/image_io.h"

#include <cctype>
#include <fstream>
#include <iterator>

#if defined(ITSCAM_HAVE_OPENCV)
#include <opencv2/imgcodecs.hpp>
#endif

namespace itscam::vision {

namespace {

bool set_err(std::string* err, const std::string& m) {
    if (err) *err = m;
    return false;
}

// Next whitespace-separated header token of a PPM, skipping '#' comments.
bool next_token(const uint8_t* d, size_t n, size_t& i, std::string& tok) {
    tok.clear();
    while (i < n) {
        if (d[i] == '#') {
            while (i < n && d[i] != '\n') ++i;
        } else if (std::isspace(d[i])) {
            ++i;
        } else {
            break;
        }
    }
    while (i < n && !std::isspace(d[i]) && d[i] != '#' && tok.size() < 16) tok.push_back(static_cast<char>(d[i++]));
    return !tok.empty() && tok.size() < 16;
}

bool parse_dim(const std::string& t, int& v) {
    if (t.empty() || t.size() > 6) return false;
    v = 0;
    for (char c : t) {
        if (c < '0' || c > '9') return false;
        v = v * 10 + (c - '0');
    }
    return v > 0;
}

}  // namespace

bool decode_ppm(const uint8_t* d, size_t n, ImageBgr& out, std::string* err) {
    if (n < 2 || d[0] != 'P' || d[1] != '6') return set_err(err, "not a binary PPM (P6) image");
    size_t i = 2;
    std::string tw, th, tm;
    int w = 0, h = 0, maxval = 0;
    if (!next_token(d, n, i, tw) || !next_token(d, n, i, th) || !next_token(d, n, i, tm) || !parse_dim(tw, w) ||
        !parse_dim(th, h) || !parse_dim(tm, maxval))
        return set_err(err, "malformed PPM header");
    if (maxval != 255) return set_err(err, "PPM with maxval " + std::to_string(maxval) + " (only 8-bit, 255)");
    if (w > 32768 || h > 32768) return set_err(err, "PPM too large (" + tw + "x" + th + ")");
    if (i >= n || !std::isspace(d[i])) return set_err(err, "malformed PPM header");
    ++i;  // the single whitespace before the pixels
    const size_t bytes = static_cast<size_t>(w) * h * 3;
    if (n - i < bytes) return set_err(err, "truncated PPM: " + std::to_string(n - i) + " of " + std::to_string(bytes) + " pixel bytes");
    out.width = w;
    out.height = h;
    out.bgr.resize(bytes);
    for (size_t p = 0; p < bytes; p += 3) {  // RGB -> BGR
        out.bgr[p] = d[i + p + 2];
        out.bgr[p + 1] = d[i + p + 1];
        out.bgr[p + 2] = d[i + p];
    }
    return true;
}

bool read_image_bgr(const std::string& path, ImageBgr& out, std::string* err) {
#if defined(ITSCAM_HAVE_OPENCV)
    cv::Mat img = cv::imread(path, cv::IMREAD_COLOR);
    if (img.empty()) return set_err(err, "cannot read image '" + path + "'");
    out.width = img.cols;
    out.height = img.rows;
    out.bgr.resize(static_cast<size_t>(img.cols) * img.rows * 3);
    for (int y = 0; y < img.rows; ++y)
        std::copy(img.ptr<uint8_t>(y), img.ptr<uint8_t>(y) + static_cast<size_t>(img.cols) * 3,
                  out.bgr.begin() + static_cast<size_t>(y) * img.cols * 3);
    return true;
#else
    std::ifstream f(path, std::ios::binary);
    if (!f) return set_err(err, "cannot open image '" + path + "'");
    std::vector<uint8_t> data((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    std::string e;
    if (!decode_ppm(data.data(), data.size(), out, &e))
        return set_err(err, "'" + path + "': " + e + " (this build has no OpenCV: only binary PPM images are read)");
    return true;
#endif
}

}  // namespace itscam::vision
