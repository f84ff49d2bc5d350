// Minimal reader/writer for NumPy .npy files holding little-endian float32 arrays in C order ('<f4'), used for golden
// model outputs and debugging dumps. Thread-safe; never throws on malformed input.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace itscam::vision {

// Loads a '<f4' C-order array (format versions 1.0, 2.0 and 3.0). On success fills data and shape and returns true;
// on failure returns false, leaves data and shape empty and writes a message to *err when err is not null.
// The file is validated completely (magic, header dictionary, dtype, order, element count vs file size) before use.
bool npy_load_f32(const std::string& path, std::vector<float>& data, std::vector<int64_t>& shape, std::string* err);

// Writes a '<f4' C-order array (format 1.0, or 2.0 when the header needs it). data must hold prod(shape) floats.
bool npy_save_f32(const std::string& path, const float* data, const std::vector<int64_t>& shape, std::string* err);

}  // namespace itscam::vision
