#include "core/redact.h"

#include <algorithm>
#include <cctype>
#include <mutex>
#include <shared_mutex>

namespace itscam {

namespace {

// Where an authority ends in free text. Besides the URL delimiters, the bytes that cannot appear unencoded in a URL
// and commonly surround one in prose or JSON (quotes, angle brackets, back slashes) end it, so that the next word's
// '@' is not taken for this URL's userinfo.
bool ends_authority(unsigned char c) {
    return c <= 0x20 || c == 0x7f || c == '/' || c == '?' || c == '#' || c == '"' || c == '<' || c == '>' ||
           c == '\\' || c == '`';
}

struct Userinfo {
    size_t secret_begin = 0;  // the password (after the first ':'), or the whole userinfo without ':'
    size_t secret_end = 0;    // the '@'
};

// Our own test source, "synthetic://WxH@FPS": its '@' separates the frame rate, not a userinfo.
bool is_synthetic_source(std::string_view text, size_t p) {
    constexpr std::string_view kScheme = "synthetic";
    if (p < kScheme.size()) return false;
    for (size_t i = 0; i < kScheme.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(text[p - kScheme.size() + i])) != kScheme[i]) return false;
    if (p == kScheme.size()) return true;
    const auto before = static_cast<unsigned char>(text[p - kScheme.size() - 1]);
    return !std::isalnum(before) && before != '+' && before != '-' && before != '.';  // not "xsynthetic://"
}

// The userinfo of the URL whose "://" is at `p`, if it has one.
bool userinfo_at(std::string_view text, size_t p, Userinfo& out) {
    if (is_synthetic_source(text, p)) return false;
    const size_t begin = p + 3;
    size_t at = std::string_view::npos;
    for (size_t i = begin; i < text.size() && !ends_authority(static_cast<unsigned char>(text[i])); ++i)
        if (text[i] == '@') at = i;
    if (at == std::string_view::npos) return false;
    const size_t colon = text.substr(begin, at - begin).find(':');
    out.secret_begin = colon == std::string_view::npos ? begin : begin + colon + 1;
    out.secret_end = at;
    return true;
}

void mark_userinfo(std::string_view text, std::vector<char>& hide) {
    // Authorities never hold "://" (a '/' ends them), so each URL is seen once and the scan is linear.
    for (size_t p = text.find("://"); p != std::string_view::npos; p = text.find("://", p + 1)) {
        Userinfo u;
        if (!userinfo_at(text, p, u)) continue;
        std::fill(hide.begin() + static_cast<std::ptrdiff_t>(u.secret_begin),
                  hide.begin() + static_cast<std::ptrdiff_t>(u.secret_end), 1);
    }
}

void mark_secrets(std::string_view text, const std::vector<std::string>& secrets, std::vector<char>& hide) {
    for (const std::string& s : secrets) {
        if (s.empty()) continue;
        for (size_t p = text.find(s); p != std::string_view::npos; p = text.find(s, p + 1))
            std::fill(hide.begin() + static_cast<std::ptrdiff_t>(p),
                      hide.begin() + static_cast<std::ptrdiff_t>(p + s.size()), 1);
    }
}

// `text` with each run of hidden bytes written as ***. Marking on the original text (rather than replacing secret
// after secret) is what makes the result free of every secret: a replacement can never join text into a new one.
std::string emit(std::string_view text, const std::vector<char>& hide) {
    std::string out;
    out.reserve(text.size());
    for (size_t i = 0; i < text.size(); ++i) {
        if (!hide[i]) {
            out += text[i];
        } else if (i == 0 || !hide[i - 1]) {
            out += kMask;
        }
    }
    return out;
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

std::string percent_decode(std::string_view s) {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0) {
            out += static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
            i += 2;
        } else {
            out += s[i];
        }
    }
    return out;
}

struct Registry {
    std::shared_mutex mu;
    std::vector<std::string> secrets;
};

Registry& registry() {
    static Registry* r = new Registry;  // never destroyed: loggers may run during static destruction
    return *r;
}

}  // namespace

std::string mask_url_userinfo(std::string_view text) {
    if (text.find("://") == std::string_view::npos) return std::string(text);
    std::vector<char> hide(text.size(), 0);
    mark_userinfo(text, hide);
    return emit(text, hide);
}

std::string redact_secrets(std::string_view text, const std::vector<std::string>& secrets) {
    std::vector<char> hide(text.size(), 0);
    mark_secrets(text, secrets, hide);
    return emit(text, hide);
}

std::vector<std::string> url_secrets(std::string_view url) {
    const size_t p = url.find("://");
    Userinfo u;
    if (p == std::string_view::npos || !userinfo_at(url, p, u) || u.secret_end == u.secret_begin) return {};
    const std::string raw(url.substr(u.secret_begin, u.secret_end - u.secret_begin));
    std::string decoded = percent_decode(raw);
    if (decoded == raw || decoded.empty()) return {raw};
    return {raw, std::move(decoded)};
}

void register_secret(std::string_view secret) {
    if (secret.size() < kMinRegisteredSecret) return;
    Registry& r = registry();
    std::unique_lock lk(r.mu);
    if (r.secrets.size() >= kMaxRegisteredSecrets) return;
    if (std::find(r.secrets.begin(), r.secrets.end(), secret) != r.secrets.end()) return;
    r.secrets.emplace_back(secret);
}

void register_url_secrets(std::string_view url) {
    for (const std::string& s : url_secrets(url)) register_secret(s);
}

std::vector<std::string> registered_secrets() {
    Registry& r = registry();
    std::shared_lock lk(r.mu);
    return r.secrets;
}

std::string redact(std::string_view text) {
    std::vector<char> hide(text.size(), 0);
    {
        Registry& r = registry();
        std::shared_lock lk(r.mu);
        mark_secrets(text, r.secrets, hide);
    }
    mark_userinfo(text, hide);
    return emit(text, hide);
}

}  // namespace itscam
