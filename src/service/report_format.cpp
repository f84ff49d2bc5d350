// Text helpers of the report writers: UTC times, numbers with units, HTML escaping, the page shell and its CSS.
#include "service/report_format.h"

#include <cmath>
#include <cstdio>
#include <ctime>

namespace itscam::service::report_format {

double epoch_s(SystemTime t) {
    return static_cast<double>(to_epoch_ms(t)) / 1000.0;
}

namespace {

std::tm utc_tm(SystemTime t) {
    std::time_t secs = static_cast<std::time_t>(std::floor(epoch_s(t)));
    std::tm tm{};
    gmtime_r(&secs, &tm);
    return tm;
}

}  // namespace

std::string fmt_utc(SystemTime t, const char* pattern) {
    const std::tm tm = utc_tm(t);
    char buf[64];
    std::strftime(buf, sizeof buf, pattern, &tm);
    return buf;
}

std::string fmt(const char* f, double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, f, v);
    return buf;
}

std::string fmt_ms(const std::optional<double>& v) {
    return v ? fmt("%.1f ms", *v) : "n/a";
}
std::string fmt_pct(const std::optional<double>& v) {
    return v ? fmt("%.1f%%", *v * 100.0) : "n/a";
}
std::string fmt_pct2(const std::optional<double>& v) {
    return v ? fmt("%.2f%%", *v * 100.0) : "n/a";
}
std::string fmt_fps(const std::optional<double>& v) {
    return v ? fmt("%.1f fps", *v) : "n/a";
}

std::string fmt_int(int64_t v) {
    const std::string digits = std::to_string(v < 0 ? -v : v);
    std::string out;
    if (v < 0) out.push_back('-');
    for (size_t i = 0; i < digits.size(); ++i) {
        if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
        out.push_back(digits[i]);
    }
    return out;
}

std::string html_escape(const std::string& s) {
    std::string o;
    o.reserve(s.size());
    for (char c : s) {
        switch (c) {
            case '&':
                o += "&amp;";
                break;
            case '<':
                o += "&lt;";
                break;
            case '>':
                o += "&gt;";
                break;
            case '"':
                o += "&quot;";
                break;
            case '\'':
                o += "&#39;";
                break;
            default:
                o += c;
        }
    }
    return o;
}

namespace {

constexpr const char* kCss =
    "body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px;color:#222;max-width:940px}"
    "h1{font-size:22px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd;padding-bottom:4px}"
    "table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ccc;padding:4px 10px;text-align:left;"
    "font-size:13px}th{background:#f3f3f3}td.num{text-align:right}"
    ".chart{display:block;margin:8px 0;background:#fff}.ct{font-size:13px;font-weight:bold}"
    ".yl{font-size:11px;text-anchor:end;fill:#555}.xl{font-size:11px;text-anchor:middle;fill:#555}"
    ".lg{font-size:11px;fill:#333}.grid{stroke:#eee;stroke-width:1}.axis{stroke:#888;stroke-width:1}"
    ".ref{stroke:#c00;stroke-width:1;stroke-dasharray:4 3}.refl{font-size:10px;fill:#c00;text-anchor:end}"
    ".crit{fill:#d62728}.warn{fill:#ff9f1c}.na{color:#888;font-style:italic}"
    ".improved{color:#1a7f37;font-weight:bold}.regressed{color:#c00;font-weight:bold}.unchanged{color:#555}";

}  // namespace

std::string page(const std::string& title, const std::string& body) {
    return "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>" + html_escape(title) +
           "</title>\n<style>" + kCss + "</style>\n</head>\n<body>\n" + body + "</body>\n</html>\n";
}

}  // namespace itscam::service::report_format
