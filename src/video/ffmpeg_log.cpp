#include "video/ffmpeg_log.h"

#include <cstdarg>
#include <cstdio>
#include <mutex>
#include <string>
#include <vector>

#include "core/redact.h"

extern "C" {
#include <libavutil/log.h>
}

namespace itscam::video {

namespace {

std::mutex g_mu;
int g_print_prefix = 1;  // av_log_format_line2's state: whether the next line starts with "[name @ ptr] "

void masked_log(void* avcl, int level, const char* fmt, va_list vl) {
    if (level > av_log_get_level()) return;
    std::lock_guard lk(g_mu);
    // The whole line, however long: a line cut short could end inside a URL before its '@' and show the password.
    std::vector<char> buf(1024);
    for (;;) {
        int prefix = g_print_prefix;
        va_list copy;
        va_copy(copy, vl);
        const int n = av_log_format_line2(avcl, level, fmt, copy, buf.data(), static_cast<int>(buf.size()), &prefix);
        va_end(copy);
        if (n < 0) return;
        if (static_cast<size_t>(n) < buf.size()) {
            g_print_prefix = prefix;
            break;
        }
        buf.resize(static_cast<size_t>(n) + 1);
    }
    const std::string shown = redact(buf.data());
    std::fputs(shown.c_str(), stderr);
}

}  // namespace

void install_masked_ffmpeg_log() {
    static std::once_flag once;
    std::call_once(once, [] { av_log_set_callback(&masked_log); });
}

void ffmpeg_log_for_test(int level, const char* fmt, ...) {
    va_list vl;
    va_start(vl, fmt);
    av_vlog(nullptr, level, fmt, vl);
    va_end(vl);
}

}  // namespace itscam::video
