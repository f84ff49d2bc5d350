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

bool is_pnm(const uint8_t* d, size_t n) { return n >= 2 && d[0] == 'P' && (d[1] == '6' || d[1] == '5'); }

bool decode_ppm(const uint8_t* d, size_t n, ImageBgr& out, std::string* err) {
    if (!is_pnm(d, n)) return set_err(err, "not a binary PPM (P6) or PGM (P5) image");
    const bool grey = d[1] == '5';
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
    const size_t pixels = static_cast<size_t>(w) * h;
    const size_t bytes = pixels * (grey ? 1 : 3);
    if (n - i < bytes) return set_err(err, "truncated PPM: " + std::to_string(n - i) + " of " + std::to_string(bytes) + " pixel bytes");
    out.width = w;
    out.height = h;
    out.bgr.resize(pixels * 3);
    const uint8_t* px = d + i;
    if (grey) {
        for (size_t p = 0; p < pixels; ++p) out.bgr[3 * p] = out.bgr[3 * p + 1] = out.bgr[3 * p + 2] = px[p];
        return true;
    }
    for (size_t p = 0; p < bytes; p += 3) {  // RGB -> BGR
        out.bgr[p] = px[p + 2];
        out.bgr[p + 1] = px[p + 1];
        out.bgr[p + 2] = px[p];
    }
    return true;
}

bool write_ppm(const std::string& path, const ImageBgr& img, std::string* err) {
    if (img.width <= 0 || img.height <= 0 || img.bgr.size() != static_cast<size_t>(img.width) * img.height * 3)
        return set_err(err, "cannot write '" + path + "': not a packed BGR image");
    std::vector<uint8_t> rgb(img.bgr.size());
    for (size_t p = 0; p < rgb.size(); p += 3) {  // BGR -> RGB
        rgb[p] = img.bgr[p + 2];
        rgb[p + 1] = img.bgr[p + 1];
        rgb[p + 2] = img.bgr[p];
    }
    std::ofstream f(path, std::ios::binary);
    f << "P6\n" << img.width << " " << img.height << "\n255\n";
    f.write(reinterpret_cast<const char*>(rgb.data()), static_cast<std::streamsize>(rgb.size()));
    f.close();
    if (!f) return set_err(err, "cannot write '" + path + "'");
    return true;
}

bool read_image_bgr(const std::string& path, ImageBgr& out, std::string* err) {
    std::ifstream f(path, std::ios::binary);
    if (!f) return set_err(err, "cannot read image '" + path + "' (missing or unreadable)");
    std::vector<uint8_t> data((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    std::string e;
    // PPM/PGM through our decoder in every build, so the OpenCV-less path is the one the normal build tests too.
    if (is_pnm(data.data(), data.size())) {
        if (!decode_ppm(data.data(), data.size(), out, &e)) return set_err(err, "'" + path + "': " + e);
        return true;
    }
#if defined(ITSCAM_HAVE_OPENCV)
    cv::Mat img = cv::imread(path, cv::IMREAD_COLOR);
    if (img.empty()) return set_err(err, "cannot read image '" + path + "' (missing, unreadable or not an image)");
    out.width = img.cols;
    out.height = img.rows;
    out.bgr.resize(static_cast<size_t>(img.cols) * img.rows * 3);
    for (int y = 0; y < img.rows; ++y)
        std::copy(img.ptr<uint8_t>(y), img.ptr<uint8_t>(y) + static_cast<size_t>(img.cols) * 3,
                  out.bgr.begin() + static_cast<size_t>(y) * img.cols * 3);
    return true;
#else
    return set_err(err, "cannot read image '" + path +
                            "': this build has no OpenCV: give a .ppm or .pgm (binary P6/P5, 8-bit; e.g. "
                            "`ffmpeg -i in.jpg out.ppm`)");
#endif
}

}  // namespace itscam::vision
