// ONNX -> itscam IR. Accepts the default ONNX domain at opsets 7..21 (Ultralytics exports use 11..21).
// Every failure (corrupt or truncated protobuf, unsupported op or data type, missing initializer, bad
// attribute) comes back as a Status naming the node and op; the importer never aborts on hostile input.
#pragma once

#include <cstddef>
#include <string>

#include "core/status.h"
#include "graph/graph.h"

namespace itscam {

constexpr int64_t kMinOpset = 7;
constexpr int64_t kMaxOpset = 21;

Result<Graph> onnx_import_file(const std::string& path);
Result<Graph> onnx_import_bytes(const void* data, size_t size);

// Parses Ultralytics metadata values: the `names` dict literal ("{0: 'person', 1: 'bicycle'}") and lists like
// "[640, 640]". Exposed for tests and fuzzing.
Result<std::vector<std::string>> parse_names_dict(const std::string& text);
Result<std::vector<int64_t>> parse_int_list(const std::string& text);

}  // namespace itscam
