#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "commands.h"
#include "core/redact.h"

namespace itscam::cli {

namespace fs = std::filesystem;

int fail(const std::string& msg, int code) {
    // A source's error quotes its URL; a config error may quote a value: never a password or token.
    std::fprintf(stderr, "itscam: error: %s\n", redact(msg).c_str());
    return code;
}

int exit_code_for(const Status& st) {
    switch (st.code()) {
        case StatusCode::kInvalidArgument:
        case StatusCode::kNotFound:
        case StatusCode::kIo:
        case StatusCode::kCorrupt:
        case StatusCode::kUnsupported: return 2;
        default: return 1;
    }
}

static bool is_image_file(const fs::path& p) {
    std::string ext = p.extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
    static const char* kExts[] = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".ppm", ".pgm"};
    return std::find(std::begin(kExts), std::end(kExts), ext) != std::end(kExts);
}

bool collect_images(const std::vector<std::string>& paths, std::vector<std::string>& out, std::string& err) {
    out.clear();
    if (paths.empty()) {
        err = "no input images given";
        return false;
    }
    for (const auto& p : paths) {
        std::error_code ec;
        if (fs::is_directory(p, ec)) {
            std::vector<std::string> files;
            for (const auto& e : fs::directory_iterator(p, ec))
                if (e.is_regular_file() && is_image_file(e.path())) files.push_back(e.path().string());
            if (ec) {
                err = "cannot list directory '" + p + "': " + ec.message();
                return false;
            }
            if (files.empty()) {
                err = "directory '" + p + "' contains no images (.jpg, .jpeg, .png, .bmp, .webp, .tif, .ppm, .pgm)";
                return false;
            }
            std::sort(files.begin(), files.end());
            out.insert(out.end(), files.begin(), files.end());
        } else if (fs::exists(p, ec)) {
            out.push_back(p);
        } else {
            err = "no such file or directory: '" + p + "'";
            return false;
        }
    }
    return true;
}

bool split_csv(const std::string& s, std::vector<std::string>& out) {
    out.clear();
    for (size_t i = 0; i <= s.size();) {
        size_t j = s.find(',', i);
        if (j == std::string::npos) j = s.size();
        if (j == i) return false;
        out.push_back(s.substr(i, j - i));
        i = j + 1;
    }
    return true;
}

bool parse_int_csv(const std::string& s, std::vector<int>& out, std::string& err) {
    out.clear();
    std::vector<std::string> toks;
    bool ok = split_csv(s, toks);
    for (size_t k = 0; ok && k < toks.size(); ++k) {
        ok = toks[k].find_first_not_of("0123456789") == std::string::npos && toks[k].size() <= 6;
        if (ok) out.push_back(std::stoi(toks[k]));
    }
    if (!ok) err = "'" + s + "' is not a comma-separated list of non-negative integers";
    return ok;
}

void progress(size_t done, size_t total, const std::string& label) {
    static const bool tty = isatty(fileno(stderr));
    if (!tty && done != total && done % 16 != 0) return;
    const int width = 30;
    const int filled = total ? static_cast<int>(width * done / total) : width;
    std::string bar(filled, '=');
    if (filled < width) bar += '>' + std::string(width - filled - 1, ' ');
    std::fprintf(stderr, "%s[%s] %zu/%zu %s", tty ? "\r" : "", bar.c_str(), done, total, label.c_str());
    if (!tty || done == total) std::fprintf(stderr, "\n");
    std::fflush(stderr);
}

}  // namespace itscam::cli
