#include "vision/npy.h"

#include <bit>
#include <cctype>
#include <cstring>
#include <fstream>
#include <limits>
#include <optional>
#include <string_view>

namespace itscam::vision {

static_assert(std::endian::native == std::endian::little, "npy_load_f32 copies '<f4' data without byte swapping");

namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicLen = 6;
// Sanity cap on the header; numpy itself refuses headers above 10000 bytes by default.
constexpr uint64_t kMaxHeaderLen = 1 << 20;

bool npy_fail(std::string* err, std::string msg) {
    if (err != nullptr) *err = std::move(msg);
    return false;
}

// Parser for the Python dict literal in the header: {'descr': '<f4', 'fortran_order': False, 'shape': (1, 84), }
class HeaderParser {
  public:
    explicit HeaderParser(std::string_view s) : s_(s) {}

    bool parse(std::string& descr, bool& fortran, std::vector<int64_t>& shape, std::string& err) {
        bool have_descr = false, have_order = false, have_shape = false;
        if (!eat('{')) return error(err, "header does not start with '{'");
        while (true) {
            skip_ws();
            if (eat('}')) break;
            std::string key;
            if (!parse_string(key)) return error(err, "expected a quoted key in the header");
            if (!eat(':')) return error(err, "expected ':' after key '" + key + "'");
            if (key == "descr") {
                if (!parse_string(descr)) return error(err, "'descr' is not a string (structured dtypes unsupported)");
                have_descr = true;
            } else if (key == "fortran_order") {
                if (!parse_bool(fortran)) return error(err, "'fortran_order' is not True/False");
                have_order = true;
            } else if (key == "shape") {
                if (!parse_shape(shape)) return error(err, "'shape' is not a tuple of non-negative integers");
                have_shape = true;
            } else {
                return error(err, "unexpected header key '" + key + "'");
            }
            skip_ws();
            if (eat(',')) continue;
            if (eat('}')) break;
            return error(err, "expected ',' or '}' in the header");
        }
        skip_ws();
        if (pos_ != s_.size()) return error(err, "trailing characters after the header dictionary");
        if (!have_descr || !have_order || !have_shape) {
            return error(err, "header lacks one of 'descr', 'fortran_order', 'shape'");
        }
        return true;
    }

  private:
    static bool error(std::string& err, std::string msg) {
        err = std::move(msg);
        return false;
    }
    void skip_ws() {
        while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
    }
    bool eat(char c) {
        skip_ws();
        if (pos_ < s_.size() && s_[pos_] == c) {
            ++pos_;
            return true;
        }
        return false;
    }
    bool parse_string(std::string& out) {
        skip_ws();
        if (pos_ >= s_.size() || (s_[pos_] != '\'' && s_[pos_] != '"')) return false;
        const char q = s_[pos_++];
        const size_t end = s_.find(q, pos_);
        if (end == std::string_view::npos) return false;
        out.assign(s_.substr(pos_, end - pos_));
        pos_ = end + 1;
        return true;
    }
    bool parse_bool(bool& out) {
        skip_ws();
        if (s_.substr(pos_, 4) == "True") {
            out = true, pos_ += 4;
            return true;
        }
        if (s_.substr(pos_, 5) == "False") {
            out = false, pos_ += 5;
            return true;
        }
        return false;
    }
    bool parse_shape(std::vector<int64_t>& out) {
        out.clear();
        if (!eat('(')) return false;
        while (true) {
            skip_ws();
            if (eat(')')) return true;
            if (pos_ >= s_.size() || !std::isdigit(static_cast<unsigned char>(s_[pos_]))) return false;
            int64_t v = 0;
            while (pos_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[pos_]))) {
                const int digit = s_[pos_++] - '0';
                if (v > (std::numeric_limits<int64_t>::max() - digit) / 10) return false;
                v = v * 10 + digit;
            }
            if (pos_ < s_.size() && s_[pos_] == 'L') ++pos_;  // Python 2 longs
            out.push_back(v);
            if (eat(',')) continue;
            return eat(')');
        }
    }

    std::string_view s_;
    size_t pos_ = 0;
};

uint32_t read_le(const unsigned char* p, int bytes) {
    uint32_t v = 0;
    for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | p[i];
    return v;
}

}  // namespace

bool npy_load_f32(const std::string& path, std::vector<float>& data, std::vector<int64_t>& shape, std::string* err) {
    data.clear();
    shape.clear();
    std::ifstream f(path, std::ios::binary);
    if (!f) return npy_fail(err, path + ": cannot open");
    f.seekg(0, std::ios::end);
    const std::streamoff file_size_off = f.tellg();
    if (file_size_off < 0) return npy_fail(err, path + ": cannot determine the file size");
    const uint64_t file_size = static_cast<uint64_t>(file_size_off);
    f.seekg(0, std::ios::beg);

    unsigned char pre[12];
    if (file_size < 10 || !f.read(reinterpret_cast<char*>(pre), 10)) return npy_fail(err, path + ": too short for .npy");
    if (std::memcmp(pre, kMagic, kMagicLen) != 0) return npy_fail(err, path + ": not a .npy file (bad magic)");
    const int major = pre[6], minor = pre[7];
    uint64_t header_len = 0, header_start = 0;
    if (major == 1) {
        header_len = read_le(pre + 8, 2);
        header_start = 10;
    } else if (major == 2 || major == 3) {
        if (file_size < 12 || !f.read(reinterpret_cast<char*>(pre + 10), 2)) return npy_fail(err, path + ": truncated");
        header_len = read_le(pre + 8, 4);
        header_start = 12;
    } else {
        return npy_fail(err,
                    path + ": unsupported .npy format version " + std::to_string(major) + "." + std::to_string(minor));
    }
    if (header_len > kMaxHeaderLen)
        return npy_fail(err, path + ": header length " + std::to_string(header_len) + " too big");
    if (header_start + header_len > file_size) return npy_fail(err, path + ": truncated header");
    std::string header(header_len, '\0');
    if (header_len > 0 && !f.read(header.data(), static_cast<std::streamsize>(header_len))) {
        return npy_fail(err, path + ": cannot read the header");
    }

    std::string descr, perr;
    bool fortran = false;
    std::vector<int64_t> dims;
    if (!HeaderParser(header).parse(descr, fortran, dims, perr)) return npy_fail(err, path + ": bad header: " + perr);
    if (descr != "<f4") return npy_fail(err, path + ": dtype '" + descr + "' unsupported (only '<f4' float32)");
    if (fortran) return npy_fail(err, path + ": Fortran-order arrays unsupported");

    uint64_t count = 1;
    for (int64_t d : dims) {
        if (d < 0) return npy_fail(err, path + ": negative dimension");
        if (d != 0 && count > std::numeric_limits<uint64_t>::max() / 4 / static_cast<uint64_t>(d)) {
            return npy_fail(err, path + ": shape too large");
        }
        count *= static_cast<uint64_t>(d);
    }
    const uint64_t data_start = header_start + header_len;
    const uint64_t payload = file_size - data_start;
    if (payload != count * 4) {
        return npy_fail(err, path + ": data size " + std::to_string(payload) + " bytes does not match shape (" +
                             std::to_string(count * 4) + " bytes expected)");
    }
    std::vector<float> values(count);
    if (count > 0 && !f.read(reinterpret_cast<char*>(values.data()), static_cast<std::streamsize>(count * 4))) {
        return npy_fail(err, path + ": cannot read the data");
    }
    data = std::move(values);
    shape = std::move(dims);
    return true;
}

bool npy_save_f32(const std::string& path, const float* data, const std::vector<int64_t>& shape, std::string* err) {
    uint64_t count = 1;
    std::string dims;  // Python tuple syntax: "(2, 3)", "(5,)", "()"
    for (size_t i = 0; i < shape.size(); ++i) {
        if (shape[i] < 0) return npy_fail(err, path + ": negative dimension");
        count *= static_cast<uint64_t>(shape[i]);
        dims += (i ? ", " : "") + std::to_string(shape[i]);
    }
    if (shape.size() == 1) dims += ",";
    if (count > 0 && data == nullptr) return npy_fail(err, path + ": null data");
    std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + dims + "), }";
    // The data must start on a 64-byte boundary; the header ends with '\n'.
    const bool v2 = header.size() + 11 > 65535;
    const size_t prefix = v2 ? 12 : 10;
    const size_t total = (prefix + header.size() + 1 + 63) / 64 * 64;
    header.append(total - prefix - header.size() - 1, ' ');
    header.push_back('\n');

    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    if (!f) return npy_fail(err, path + ": cannot open for writing");
    f.write(kMagic, kMagicLen);
    const unsigned char ver[2] = {static_cast<unsigned char>(v2 ? 2 : 1), 0};
    f.write(reinterpret_cast<const char*>(ver), 2);
    const uint32_t len = static_cast<uint32_t>(header.size());
    const unsigned char len_le[4] = {static_cast<unsigned char>(len), static_cast<unsigned char>(len >> 8),
                                     static_cast<unsigned char>(len >> 16), static_cast<unsigned char>(len >> 24)};
    f.write(reinterpret_cast<const char*>(len_le), v2 ? 4 : 2);
    f.write(header.data(), static_cast<std::streamsize>(header.size()));
    if (count > 0) f.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(count * 4));
    if (!f) return npy_fail(err, path + ": write failed");
    return true;
}

}  // namespace itscam::vision
