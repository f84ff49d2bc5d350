// The plan container (internal to runtime/plan*.cpp; plan.h is the public API and documents the layout): the
// 64-byte preamble, the JSON header with the target, creator and source, and the blob area. In-memory only:
// plan_file.cpp does the file I/O on top of it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>

#include "core/status.h"
#include "runtime/plan.h"

namespace itscam {

// The fixed fields after the magic and version.
struct PlanPreamble {
    uint64_t header_bytes = 0, blobs_offset = 0, blobs_bytes = 0, checksum = 0;
};

// Checks the preamble in the first `avail` bytes (magic, version, reserved fields, the sizes against
// `file_size`). Reads no further than `avail` (less than the preamble is an error).
Result<PlanPreamble> plan_parse_preamble(const std::byte* p, size_t avail, uint64_t file_size);
// The JSON header at `p` + kPlanPreambleBytes (`p` holds at least the preamble and the header).
Result<nlohmann::json> plan_parse_header(const std::byte* p, const PlanPreamble& pr);
// Target, creator and source from a parsed header.
Result<PlanInfo> plan_info_from_header(const nlohmann::json& h);
// A whole plan from `size` bytes at `buf` (64-byte aligned); loaded tensors alias `buf`.
Result<Plan> plan_parse_buffer(const std::shared_ptr<std::byte>& buf, size_t size, const PlanParseOptions& opt,
                               PlanFileStats* stats);
// `bytes` (at least 64) of 64-byte aligned storage, freed with the last reference. Throws std::bad_alloc.
std::shared_ptr<std::byte> plan_aligned_buffer(size_t bytes);

}  // namespace itscam
