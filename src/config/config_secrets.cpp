// Secrets from outside the config file: ${NAME} interpolation of environment variables, the server tokens' *_file
// settings, and the registration of the config's secrets with the process-wide redaction (core/redact.h).
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "config/config.h"
#include "config/config_internal.h"
#include "core/redact.h"

namespace itscam::config {

namespace internal {

namespace {

bool valid_name(std::string_view n) {
    if (n.empty() || std::isdigit(static_cast<unsigned char>(n.front()))) return false;
    for (char ch : n)
        if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '_') return false;
    return true;
}

// A token larger than this is not a token (and a wrong path, say a video, must not be read whole).
constexpr size_t kMaxTokenFileBytes = 16 * 1024;

// The token in the file at `path`: "" on success, else what is wrong with the file.
std::string read_token_file(const std::string& path, std::string& out) {
    namespace fs = std::filesystem;
    std::error_code ec;
    const fs::file_status st = fs::status(path, ec);
    if (st.type() == fs::file_type::not_found) return "no such file";
    if (ec) return ec.message();
    if (st.type() == fs::file_type::directory) return "is a directory, not a file";
    // A named pipe would block start-up until someone writes to it, a device may never end.
    if (st.type() != fs::file_type::regular) return "is not a regular file";
    std::ifstream in(path, std::ios::binary);
    if (!in) return std::string("cannot open: ") + std::strerror(errno);
    std::string text(kMaxTokenFileBytes + 1, '\0');
    in.read(text.data(), static_cast<std::streamsize>(text.size()));
    if (in.bad()) return std::string("cannot read: ") + std::strerror(errno);
    text.resize(static_cast<size_t>(in.gcount()));
    if (text.size() > kMaxTokenFileBytes) return "is larger than 16 KiB (expected one line holding the token)";
    // Editors and `echo` end the line: one trailing newline (LF or CRLF) is not part of the token.
    if (!text.empty() && text.back() == '\n') text.pop_back();
    if (!text.empty() && text.back() == '\r') text.pop_back();
    if (text.empty()) return "is empty (expected one line holding the token)";
    for (char ch : text) {
        if (ch == '\n' || ch == '\r') return "holds more than one line (expected one line holding the token)";
        const auto u = static_cast<unsigned char>(ch);
        if (u < 0x20 || u == 0x7f) return "holds a control character";
    }
    // A header value loses surrounding white space on the wire: such a token could never match.
    if (std::isspace(static_cast<unsigned char>(text.front())) || std::isspace(static_cast<unsigned char>(text.back())))
        return "the token starts or ends with white space";
    out = std::move(text);
    return "";
}

struct TokenSetting {
    const char* token;  // path of the token
    const char* file;   // path of its *_file
    std::string ServerConfig::*token_member;
    std::string ServerConfig::*file_member;
};

const TokenSetting kTokens[] = {
    {"server.api_token", "server.api_token_file", &ServerConfig::api_token, &ServerConfig::api_token_file},
    {"server.read_token", "server.read_token_file", &ServerConfig::read_token, &ServerConfig::read_token_file},
};

}  // namespace

std::string interpolate(std::string_view text, const Env& env, std::string& out) {
    out.clear();
    out.reserve(text.size());
    for (size_t i = 0; i < text.size();) {
        if (text[i] != '$') {
            out += text[i++];
            continue;
        }
        if (text.substr(i, 3) == "$${") {
            out += "${";
            i += 3;
            continue;
        }
        if (i + 1 >= text.size() || text[i + 1] != '{') {
            out += text[i++];
            continue;
        }
        const size_t close = text.find('}', i + 2);
        if (close == std::string_view::npos)
            return "unterminated '${' (write '$${' for a literal '${')";
        const std::string_view name = text.substr(i + 2, close - i - 2);
        if (!valid_name(name)) {
            return "invalid environment variable name " + quote_for_message(name) +
                   " in '${...}' (letters, digits and '_', not starting with a digit; '$${' for a literal '${')";
        }
        const auto it = env.find(std::string(name));
        if (it == env.end() || it->second.empty())
            return "environment variable " + std::string(name) + " is not set (or empty)";
        out += it->second;
        i = close + 1;
    }
    return "";
}

std::string escape_interpolation(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '$' && i + 1 < text.size() && text[i + 1] == '{') out += '$';
        out += text[i];
    }
    return out;
}

bool is_secret_setting(const std::string& path) {
    for (const TokenSetting& t : kTokens)
        if (path == t.token) return true;
    return path == "events.mqtt.password";
}

Status load_secret_files(Config& c, const Provenance& prov) {
    for (const TokenSetting& t : kTokens) {
        std::string& token = c.server.*t.token_member;
        const std::string& file = c.server.*t.file_member;
        if (file.empty()) continue;
        if (!token.empty()) {
            std::string where;
            if (const auto it = prov.file.find(t.token); it != prov.file.end() && it->second.line > 0)
                where = " (line " + std::to_string(it->second.line) + ")";
            return config_error(&prov, t.file,
                                std::string(t.token) + where + " is given too: give the token or its file, not both");
        }
        std::string value;
        if (const std::string err = read_token_file(file, value); !err.empty())
            return config_error(&prov, t.file, "'" + file + "': " + err);  // the whole path: it must be found
        token = std::move(value);
    }
    // A config pasted from --print-config would otherwise protect the API with a token anyone can guess.
    for (const TokenSetting& t : kTokens) {
        if (c.server.*t.token_member == kMask)
            return config_error(&prov, t.token,
                                "'***' is what --print-config writes in place of a token, not a token: give the real "
                                "one (or ${NAME}, or " + std::string(t.file).substr(7) + ")");
    }
    if (c.events.mqtt.password == kMask)
        return config_error(&prov, "events.mqtt.password",
                            "'***' is what --print-config writes in place of a password, not a password: give the "
                            "real one (or ${NAME})");
    return Status::ok();
}

}  // namespace internal

void register_secrets(const Config& c) {
    register_secret(c.server.api_token);
    register_secret(c.server.read_token);
    register_secret(c.events.mqtt.password);
    for (const CameraConfig& cam : c.cameras) register_url_secrets(cam.url);
}

}  // namespace itscam::config
